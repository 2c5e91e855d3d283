"""Topic names (after `SIGAP_TOPIC_PREFIX`) and their creation (DESIGN.md §5)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.common.kafka import security_options

if TYPE_CHECKING:
    from services.common.config import Settings

log = logging.getLogger(__name__)

INCIDENTS = "incidents"
WEATHER_ALERTS = "weather-alerts"
VOLUNTEERS = "volunteers"
RESPONSES = "responses"
NOTIFICATIONS = "notifications"
DELIVERIES = "deliveries"
DEAD_LETTERS = "dead-letters"
DISPATCH_LOG = "dispatch-log"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


# incidents and responses are keyed by incident id and must have the same partition count, so one
# dispatcher worker sees every event of an incident in order (and faust co-partitions its table).
TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(INCIDENTS, 8),
    TopicSpec(RESPONSES, 8),
    TopicSpec(DISPATCH_LOG, 8),
    TopicSpec(WEATHER_ALERTS, 1),
    TopicSpec(VOLUNTEERS, 4, {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}),
    TopicSpec(NOTIFICATIONS, 8),
    TopicSpec(DELIVERIES, 4),
    TopicSpec(DEAD_LETTERS, 1, {"retention.ms": str(30 * 24 * 3600 * 1000)}),
)


async def create_topics(
    bootstrap: str, prefix: str, timeout_s: float = 30.0, *, settings: Settings | None = None
) -> list[str]:
    """Create every topic that is missing; return the names created. Idempotent. `settings` give the
    transport security (default: the environment's)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000), **security_options(settings)
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                prefix + t.name, num_partitions=t.partitions, replication_factor=1, topic_configs=t.config
            )
            for t in TOPICS
            if prefix + t.name not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                log.info("topics created concurrently by someone else")
        return [t.name for t in wanted]
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, prefix: str, *, settings: Settings | None = None) -> None:
    """Delete a prefix's topics (tests clean up after themselves)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [name for name in existing if name.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def main() -> None:
    from services.common.config import get_settings

    settings = get_settings()
    created = asyncio.run(create_topics(settings.kafka_bootstrap, settings.topic_prefix, settings=settings))
    names = ", ".join(settings.topic(t.name) for t in TOPICS)
    print(f"topics ready ({len(created)} created): {names}")  # noqa: T201 - a command's output


if __name__ == "__main__":
    main()
