"""The notifier's agent: thin. It reads raw records without automatic acknowledgement and hands each to
the `Notifier` task pool, which acknowledges it once handled (see `runtime.py`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from services.common.clock import Clock, system_clock
from services.common.loop import run_to_end
from services.notifier.delivery import Record
from services.notifier.runtime import Notifier

log = logging.getLogger(__name__)

Agent = Callable[[Any], Coroutine[Any, Any, None]]


def record_of(event: Any, clock: Clock = system_clock) -> Record:
    """The consumer record behind a faust event (stamped by `clock` when the broker gave no time)."""
    message = event.message
    timestamp = message.timestamp
    return Record(
        raw=message.value,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        timestamp=datetime.fromtimestamp(timestamp, UTC) if timestamp else clock(),
    )


def deliver_agent(notifier: Notifier) -> Agent:
    """The agent function consuming `notifications` (faust streams are untyped, hence `Any`)."""

    async def deliver(stream: Any) -> None:
        await notifier.start()
        try:
            manual = stream.noack()
            events: AsyncIterator[Any] = manual.events()
            async for event in events:

                async def ack(event: Any = event) -> object:
                    return await manual.ack(event)

                await notifier.submit(event.message.value, record_of(event, notifier.clock), ack)
        finally:
            # the whole stop is cleanup (claims given back, reports flushed, clients closed): faust
            # cancels this task again on its way down, which must not cut it short
            await run_to_end(notifier.stop())

    return deliver
