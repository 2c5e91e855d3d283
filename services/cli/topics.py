"""`sigap topics`: create the topics that are missing, with their partitions, policy and replication."""

from __future__ import annotations

import argparse
from typing import Any

from services.common.config import get_settings
from services.common.topics import TOPICS, create_topics


async def create(args: argparse.Namespace) -> int:
    settings = get_settings()
    created = await create_topics(
        settings.kafka_bootstrap,
        settings.topic_prefix,
        replication=settings.replication_factor,
        dispatch_log_retention_ms=settings.dispatch_log_retention_ms,
        settings=settings,
    )
    print(f"topics ready ({len(created)} created): {', '.join(settings.topic(t.name) for t in TOPICS)}")
    return 0


def add_parsers(sub: Any) -> None:
    sub.add_parser("topics", help="create the topics that are missing").set_defaults(coro=create)
