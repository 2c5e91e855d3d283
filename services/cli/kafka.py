"""The Kafka clients the commands use: a producer that fails in one line when the broker does not
answer, the topics named on the command line, and a range of a topic read back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from services.cli.console import fail
from services.common.config import Settings
from services.common.kafka import new_producer, security_options
from services.common.topics import TOPICS


@contextlib.asynccontextmanager
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    client = new_producer(settings.kafka_bootstrap, "sigap-cli", settings=settings)
    try:
        await asyncio.wait_for(client.start(), 30)
    except (KafkaError, OSError, TimeoutError) as exc:
        with contextlib.suppress(Exception):
            await client.stop()
        fail(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}")
    try:
        yield client
    finally:
        await client.stop()


def topic_names(settings: Settings, names: list[str] | None) -> list[str]:
    """The full names of the topics given short (`incidents`) or prefixed; all of Sigap's for none."""
    known = [t.name for t in TOPICS]
    chosen = names or known
    out = []
    for name in chosen:
        short = name.removeprefix(settings.topic_prefix)
        if short not in known:
            fail(f"unknown topic {name!r} (known: {', '.join(known)})")
        out.append(settings.topic(short))
    return out


def partitions_of(described: list[dict[str, Any]], topic: str) -> list[int]:
    """The partitions of `topic` in an admin client's `describe_topics` answer ([] when it is not there)."""
    for entry in described:
        if entry["topic"] == topic and not entry.get("error_code"):
            return sorted(p["partition"] for p in entry["partitions"])
    return []


async def partitions(settings: Settings, topic: str) -> list[int]:
    """The partitions of `topic`, asked of the cluster. Every topic is described: naming one would let a
    broker that auto-creates topics create it."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, client_id="sigap-cli-replay", **security_options(settings)
    )
    try:
        await asyncio.wait_for(admin.start(), 30)
        described = await admin.describe_topics(None)
    except (KafkaError, OSError, TimeoutError) as exc:
        fail(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}")
    finally:
        await admin.close()
    return partitions_of(described, topic)


async def read_range(
    settings: Settings, topic: str, partition: int | None, start: int | None, end: int | None
) -> list[Any]:
    """The records of `topic` from `start` up to `end` (exclusive; default: the end now)."""
    parts = await partitions(settings, topic)
    if not parts:
        fail(f"topic {topic} does not exist")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="sigap-cli-replay",
        **security_options(settings),
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in parts if partition is None or p == partition]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        records = []
        for tp in tps:
            stop = min(ends[tp], end) if end is not None else ends[tp]
            if start is not None:
                consumer.seek(tp, start)
            else:
                await consumer.seek_to_beginning(tp)
            while await consumer.position(tp) < stop:
                batch = await consumer.getmany(tp, timeout_ms=2000, max_records=500)
                if not batch:
                    break
                for record in batch.get(tp, []):
                    if record.offset < stop:
                        records.append(record)
        return records
    finally:
        await consumer.stop()
