"""Kafka output of the dispatcher: a batch of events per processed input, produced together and
awaited before the input's state is saved (at-least-once; every id is deterministic, so a redelivered
input produces the same events and notification ids again, which consumers deduplicate)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson

from schemas.envelope import Envelope
from schemas.events import Payload
from schemas.fields import utcnow
from services.common.kafka import CachedPartitioner

SOURCE = "dispatcher"


Outbound = tuple[str, bytes | None, bytes]
"""(topic, key, value) of one record to produce"""


class Sender(Protocol):
    """Starts sending records; each awaitable returned completes when the broker has its records."""

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]: ...

    async def send_many(self, records: Sequence[Outbound]) -> list[Awaitable[Any]]: ...


def envelope_json(event: Envelope[Payload] | Outgoing) -> bytes:
    """`event.to_json()`, byte for byte, at a fraction of its cost: the envelope's own fields by
    orjson and the payload by its concrete model (`to_json` serialises the whole envelope duck-typed)."""
    head = orjson.dumps(
        {
            "event_id": event.event_id,
            "event_type": event.event_type,
            "schema_version": event.schema_version,
            "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
            "source": event.source,
            "correlation_id": event.correlation_id,
        }
    )
    return b'%s,"payload":%s}' % (head[:-1], event.payload.model_dump_json().encode())


def derived_id(*parts: str) -> str:
    return hashlib.blake2b("/".join(parts).encode(), digest_size=16).hexdigest()


@dataclass(slots=True)
class Outgoing:
    """An output event: the envelope's fields, built here and never validated again (every field is
    made here or is an already validated payload). Not an `Envelope` model: constructing one cost more
    than serialising it (py-spy, `bench.hotpath`), and nothing reads an output but `envelope_json`."""

    event_id: str
    event_type: str
    schema_version: int
    occurred_at: datetime
    source: str
    correlation_id: str | None
    payload: Payload


Record = tuple[str, bytes | None, Outgoing]
"""(topic, key, event) of one output"""


@dataclass
class Batch:
    """Events to produce for one input, with event ids derived from the input's event id."""

    source_id: str
    records: list[Record] = field(default_factory=list)

    def add(
        self, topic: str, payload: Payload, *, key: str | None, correlation_id: str | None = None
    ) -> None:
        event = Outgoing(
            derived_id(self.source_id, str(len(self.records))),
            payload.EVENT_TYPE,
            payload.SCHEMA_VERSION,
            utcnow(),
            SOURCE,
            correlation_id or key,
            payload,
        )
        self.records.append((topic, key.encode() if key is not None else None, event))

    async def flush(self, sender: Sender) -> None:
        """Send every record, then wait for the broker to acknowledge all of them."""
        await send_all(sender, self.records)
        self.records.clear()


async def send_all(sender: Sender, records: list[Record]) -> None:
    """Send every record, then wait for the broker to acknowledge all of them."""
    if records:
        pending = await sender.send_many(
            [(topic, key, envelope_json(event)) for topic, key, event in records]
        )
        await asyncio.gather(*pending)


_PARTITIONER = CachedPartitioner()


async def send_in_batches(producer: Any, records: Sequence[Outbound]) -> list[Awaitable[Any]]:
    """Send `records` through an aiokafka producer as ready-made batches, one (or more, when one
    fills) per topic and partition, in the records' order within each: one acknowledgement to await
    per batch. The partition of each record is the producer's own (`CachedPartitioner`, Kafka's
    default), so every record lands where `send` would have put it, in the same order.

    Why: `send` costs a record a partition lookup, a future and a trip through the accumulator; the
    dispatcher sends ~7 records per incident, and a worker doing only its I/O drained ~25 % more
    incidents per second this way (`bench.faust_floor`, modes `io` and `io-per-record`). The batches
    are closed before they are queued, so no other sender's record joins them."""
    partitions: dict[str, list[int]] = {}
    chains: dict[tuple[str, int], list[Any]] = {}
    for topic, key, value in records:
        known = partitions.get(topic)
        if known is None:
            known = partitions[topic] = sorted(await producer.partitions_for(topic))
        chain = chains.setdefault((topic, _PARTITIONER(key, known, known)), [producer.create_batch()])
        if chain[-1].append(timestamp=None, key=key, value=value) is None:  # full: the next batch
            chain.append(producer.create_batch())
            if chain[-1].append(timestamp=None, key=key, value=value) is None:
                raise ValueError(f"a record of {len(value)} bytes does not fit an empty batch ({topic})")
    pending: list[Awaitable[Any]] = []
    for (topic, partition), chain in chains.items():
        for batch in chain:
            batch.close()
            pending.append(await producer.send_batch(batch, topic, partition=partition))
    return pending


class AioKafkaSender:
    """A `Sender` over an aiokafka producer (the CLI, tests, `bench.hotpath`)."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]:
        fut: Awaitable[Any] = await self.producer.send(topic, value, key=key)
        return fut

    async def send_many(self, records: Sequence[Outbound]) -> list[Awaitable[Any]]:
        return await send_in_batches(self.producer, records)


class FaustSender:
    """A `Sender` over the faust app's own producer (for many records at once, the aiokafka producer
    under it)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]:
        fut: Awaitable[Any] = await self.app.producer.send(topic, key, value, None, None, None)
        return fut

    async def send_many(self, records: Sequence[Outbound]) -> list[Awaitable[Any]]:
        # faust-streaming's aiokafka driver: the started aiokafka producer it sends with
        producer = self.app.producer._ensure_producer()
        return await send_in_batches(producer, records)
