"""Kafka output of the dispatcher: a batch of events per processed input, produced together and
awaited before the input's state is saved (at-least-once; every id is deterministic, so a redelivered
input produces the same events and notification ids again, which consumers deduplicate)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka.partitioner import DefaultPartitioner

from schemas.envelope import Envelope, make_event
from schemas.events import Payload
from schemas.fields import utcnow

SOURCE = "dispatcher"


Outbound = tuple[str, bytes | None, bytes]
"""(topic, key, value) of one record to produce"""


class Sender(Protocol):
    """Starts sending records; each awaitable returned completes when the broker has its records."""

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]: ...

    async def send_many(self, records: Sequence[Outbound]) -> list[Awaitable[Any]]: ...


def derived_id(*parts: str) -> str:
    return hashlib.blake2b("/".join(parts).encode(), digest_size=16).hexdigest()


Record = tuple[str, bytes | None, Envelope[Payload]]
"""(topic, key, event) of one output"""


@dataclass
class Batch:
    """Events to produce for one input, with event ids derived from the input's event id."""

    source_id: str
    records: list[Record] = field(default_factory=list)

    def add(
        self, topic: str, payload: Payload, *, key: str | None, correlation_id: str | None = None
    ) -> None:
        event: Envelope[Payload] = make_event(
            payload,
            source=SOURCE,
            correlation_id=correlation_id or key,
            event_id=derived_id(self.source_id, str(len(self.records))),
            occurred_at=utcnow(),
        )
        self.records.append((topic, key.encode() if key is not None else None, event))

    async def flush(self, sender: Sender) -> None:
        """Send every record, then wait for the broker to acknowledge all of them."""
        await send_all(sender, self.records)
        self.records.clear()


async def send_all(sender: Sender, records: list[Record]) -> None:
    """Send every record, then wait for the broker to acknowledge all of them."""
    if records:
        pending = await sender.send_many([(topic, key, event.to_json()) for topic, key, event in records])
        await asyncio.gather(*pending)


class AioKafkaSender:
    """A `Sender` over an aiokafka producer (the CLI, tests, `bench.hotpath`)."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]:
        fut: Awaitable[Any] = await self.producer.send(topic, value, key=key)
        return fut

    async def send_many(self, records: Sequence[Outbound]) -> list[Awaitable[Any]]:
        return await send_in_batches(self.producer, records)


class OwnProducerSender(AioKafkaSender):
    """The worker's outputs on its own idempotent aiokafka producer (`kafka.new_producer`), started on
    first use inside the running loop. Not faust's producer: the ready-made batches need aiokafka's
    `create_batch`/`send_batch`, and faust reaches its aiokafka producer only through a private method.
    A `send` per record through faust's producer drained 73 incidents/s; these batches 269 (on
    faust's producer 541, in a quieter minute; bench/PROFILE.md §10). The producer must not linger
    (`new_producer(linger_ms=0)`): with idempotence one request per partition is in flight."""

    def __init__(self, producer: Any) -> None:
        super().__init__(producer)
        self._started = asyncio.Lock()
        self._running = False

    async def _ensure_started(self) -> None:
        async with self._started:
            if not self._running:
                await self.producer.start()
                self._running = True

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]:
        await self._ensure_started()
        return await super().send(topic, key, value)

    async def send_many(self, records: Sequence[Outbound]) -> list[Awaitable[Any]]:
        await self._ensure_started()
        return await super().send_many(records)

    async def stop(self) -> None:
        if self._running:
            self._running = False
            await self.producer.stop()


_PARTITIONER = DefaultPartitioner()


async def send_in_batches(producer: Any, records: Sequence[Outbound]) -> list[Awaitable[Any]]:
    """Send `records` through an aiokafka producer as ready-made batches (aiokafka's public
    `create_batch`/`send_batch`), one (or more, when one fills) per topic and partition, in the records'
    order within each: one request and one acknowledgement per batch instead of per record. The
    partition of each record is Kafka's default (`DefaultPartitioner`, as `send` would choose)."""
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
