"""Kafka output of the dispatcher: a batch of events per processed input, produced together and
awaited before the input's state is saved (at-least-once; every id is deterministic, so a redelivered
input produces the same events and notification ids again, which consumers deduplicate)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

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
        return [await self.producer.send(topic, value, key=key) for topic, key, value in records]


class FaustSender:
    """A `Sender` over the faust app's own producer (`Producer.send`, faust's public API)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]:
        fut: Awaitable[Any] = await self.app.producer.send(topic, key, value, None, None, None)
        return fut

    async def send_many(self, records: Sequence[Outbound]) -> list[Awaitable[Any]]:
        send = self.app.producer.send
        return [await send(topic, key, value, None, None, None) for topic, key, value in records]
