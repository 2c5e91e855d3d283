"""What the faust apps (dispatcher, notifier) share about Kafka: their broker URLs, and the rule that
faust's own producer sends nothing of Sigap's.

faust-streaming's producer is idempotent only inside transactions (`processing_guarantee=
"exactly_once"`), so a retry after a lost acknowledgement could write a record twice. The workers
therefore produce every record — outputs, reports, dead letters — on their own producer from
`kafka.new_producer` (`acks=all`, `enable_idempotence`), and use faust for consuming only: no tables
(no changelogs), no sinks, no topics declared, no leader topic. `NoFaustSends`, installed on both apps,
refuses a record sent through faust's producer, so a send added there by mistake fails at once (in
every test that covers it) instead of quietly writing without idempotence.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

log = logging.getLogger(__name__)


def broker_url(bootstrap: str) -> str:
    """faust's `broker` for `SIGAP_KAFKA_BOOTSTRAP` (`host:port,host:port`)."""
    return ";".join(f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip())


class FaustSendRefused(RuntimeError):
    """A record was sent through faust's producer, which is not idempotent."""


class NoFaustSends(faust.Sensor):
    """faust's sensor hook for every record its producer is about to send (`Topic.publish_message`:
    `topic.send`, agents' sinks and replies, tables' changelogs): refuse it."""

    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int, valsize: int) -> Any:
        log.error("a record for %s was sent through faust's producer; refused", topic)
        raise FaustSendRefused(
            f"{topic}: faust's producer is not idempotent; send Sigap's records with a producer of "
            "services.common.kafka.new_producer"
        )


def refuse_faust_sends(app: faust.App) -> None:
    """Install `NoFaustSends` on `app` (faust's public `app.sensors.add`)."""
    app.sensors.add(NoFaustSends())
