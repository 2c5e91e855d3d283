"""The notifier's faust app: settings → app → topics → agent (nothing else happens at import).

Run it with `python -m services.notifier worker -l info`; health, readiness and metrics are served on
`SIGAP_NOTIFIER_HOST:SIGAP_NOTIFIER_PORT` (default 127.0.0.1:6067).
"""

from __future__ import annotations

import sys

import faust

from services.common.faust_kafka import broker_url, refuse_faust_sends
from services.common.kafka import faust_credentials
from services.common.topics import NOTIFICATIONS
from services.notifier import agents, views
from services.notifier.runtime import Notifier
from services.notifier.settings import get_notifier_settings

settings = get_notifier_settings()

PLAIN_LOGS = {
    "merge": True,
    "handlers": {
        "default": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
    },
}
"""faust's log format without colours: colorlog's formatter cost more CPU per line than the hand-off of
a notification to the outbox; colours only help on a terminal, which is where they are kept."""

app = faust.App(
    f"{settings.topic_prefix}notifier",
    broker=broker_url(settings.kafka_bootstrap),
    broker_credentials=faust_credentials(settings),  # SIGAP_KAFKA_SECURITY_PROTOCOL and its credentials
    store="memory://",
    datadir=str(settings.data_dir / "faust" / f"{settings.topic_prefix}notifier"),
    web_bind=settings.notifier_host,
    web_host=settings.notifier_host,
    web_port=settings.notifier_port,
    topic_allow_declare=False,  # topics are created by `services.common.topics`, with their partitions
    topic_disable_leader=True,
    consumer_auto_offset_reset="earliest",
    # Delivery tasks may run for minutes (retries until an offer's deadline); a rebalance must not wait
    # for them: what they leave unacknowledged is redelivered, and the claims make that safe.
    stream_wait_empty=False,
    broker_commit_interval=1.0,
    # A dead worker's partitions wait for its session to time out before another worker takes them;
    # faust's 60 s default is half an offer's life, so detect a dead worker sooner.
    broker_session_timeout=10.0,
    broker_heartbeat_interval=3.0,
    broker_max_poll_records=500,
    producer_acks=-1,
    logging_config=None if sys.stderr.isatty() else PLAIN_LOGS,
)
refuse_faust_sends(app)  # the workers produce on their own idempotent producers only

notifications = app.topic(
    settings.topic(NOTIFICATIONS),
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)

notifier = Notifier(settings)

app.agent(notifications, name="deliver")(agents.deliver_agent(notifier))
views.register(app, notifier)
