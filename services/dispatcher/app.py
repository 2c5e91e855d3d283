"""The dispatcher's faust app: settings → app → topics → agents. Nothing else happens at import time.

Run a worker with `python -m services.dispatcher worker -l info`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from services.common.faust_kafka import broker_url, refuse_faust_sends
from services.common.kafka import faust_credentials
from services.common.topics import INCIDENTS, RESPONSES, VOLUNTEERS, WEATHER_ALERTS
from services.dispatcher.settings import get_dispatcher_settings

own = get_dispatcher_settings()
settings = own  # the shared part (Kafka, Redis, prefixes, links), as the modules that need only it take it


app = faust.App(
    f"{settings.topic_prefix}dispatcher",  # the prefix gives each deployment (and test) its own group
    broker=broker_url(settings.kafka_bootstrap),
    broker_credentials=faust_credentials(settings),  # SIGAP_KAFKA_SECURITY_PROTOCOL and its credentials
    store="memory://",
    datadir=str(settings.data_dir / "faust" / f"{settings.topic_prefix}dispatcher"),
    autodiscover=False,
    web_enabled=True,
    web_bind=own.dispatcher_host,
    web_host=own.dispatcher_host,
    web_port=own.dispatcher_port,
    topic_partitions=8,
    topic_allow_declare=False,  # topics are created by `services.common.topics` and checked at start
    topic_disable_leader=True,
    consumer_auto_offset_reset="earliest",
    broker_commit_interval=1.0,
    broker_session_timeout=own.kafka_session_timeout_s,
    broker_heartbeat_interval=min(3.0, own.kafka_session_timeout_s / 4),
    broker_max_poll_records=500,
    producer_acks=-1,
    producer_linger=0.0,
    stream_buffer_maxsize=1024,
    logging_config=None,
)
refuse_faust_sends(app)  # the workers produce on their own idempotent producers only


def _raw(*names: str) -> Any:
    return app.topic(
        *(settings.topic(n) for n in names),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )


@dataclass(frozen=True)
class Topics:
    incident_events: Any
    volunteers: Any
    weather_alerts: Any


topics = Topics(
    # incidents and responses: same partition count, keyed by incident id; one agent consumes both,
    # so faust assigns partition n of both to the same worker and an incident's events stay in order.
    incident_events=_raw(INCIDENTS, RESPONSES),
    volunteers=_raw(VOLUNTEERS),
    weather_alerts=_raw(WEATHER_ALERTS),
)

from services.dispatcher import agents, cli, web  # noqa: E402, F401 - registers agents, timers, pages, commands
