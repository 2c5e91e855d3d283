"""Records handled in batches that form themselves: one batch at a time, made of whatever arrived while
the batch before it was being handled (at most `limit`).

A lone record is handled at once, as a batch of one, so a quiet night adds no delay; under a burst the
batches grow, and with them what each round trip to Redis and the broker carries (`Dispatch.handle_batch`
shares them across the batch). Batches are handled strictly one after another and a batch keeps the
records' arrival order, so the handler can keep each incident's events in their order.

`put` waits while `limit` records are queued behind the batch being handled: that is the agent's
back-pressure on the stream. The handler is expected to deal with its records' failures itself (retry,
dead-letter) and return normally. If it raises instead — cancelled at shutdown, or a bug — no later
batch is handled (that would reorder incidents' events); their records stay unacknowledged, the broker
delivers them again after a restart, in order, and `put` raises from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from schemas.errors import SigapError

log = logging.getLogger(__name__)

T = TypeVar("T")


class BatcherStopped(SigapError, RuntimeError):
    """A batch's handler raised; nothing more is handled (see the module's docstring)."""


class Batcher(Generic[T]):
    def __init__(
        self, limit: int, handle: Callable[[list[T]], Awaitable[None]], name: str = "batches"
    ) -> None:
        if limit < 1:
            raise ValueError("a batch needs room for at least one record")
        self.limit = limit
        self.name = name
        self._handle = handle
        self._queue: list[T] = []
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._worker: asyncio.Task[None] | None = None
        self.failure: BaseException | None = None
        self.handling = 0
        """records in the batch being handled now"""
        self.largest = 0
        """the largest batch handled so far"""
        self.batches = 0
        """batches handled so far"""

    @property
    def in_flight(self) -> int:
        """Records taken and not yet handled (being handled, or queued for the next batch)."""
        return self.handling + len(self._queue)

    async def put(self, item: T) -> None:
        """Queue `item` for the next batch; waits while `limit` records are queued."""
        while len(self._queue) >= self.limit and self.failure is None:
            self._room.clear()
            await self._room.wait()
        if self.failure is not None:
            raise BatcherStopped(f"{self.name}: a batch failed; nothing more is handled") from self.failure
        self._queue.append(item)
        self._idle.clear()
        self._arrived.set()
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name=f"{self.name}:worker")

    async def _run(self) -> None:
        while True:
            await self._arrived.wait()
            batch, self._queue = self._queue[: self.limit], self._queue[self.limit :]
            if not self._queue:
                self._arrived.clear()
            self._room.set()
            self.handling = len(batch)
            self.largest = max(self.largest, len(batch))
            try:
                await self._handle(batch)
            except BaseException as exc:
                self.failure = exc
                self._room.set()  # a `put` waiting for room hears of the failure
                if not isinstance(exc, asyncio.CancelledError):
                    log.error(
                        "%s: a batch of %d failed; no more are handled", self.name, len(batch), exc_info=exc
                    )
                raise
            finally:
                self.handling = 0
            self.batches += 1
            if not self._queue:
                self._idle.set()

    async def join(self) -> None:
        """Wait until every record put so far has been handled (or a batch failed)."""
        while not self._idle.is_set() and self.failure is None and self._worker is not None:
            idle = asyncio.ensure_future(self._idle.wait())
            try:
                await asyncio.wait({idle, self._worker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                idle.cancel()

    async def close(self, timeout_s: float) -> int:
        """Let what was taken be handled for up to `timeout_s`, then stop (what is left stays
        unacknowledged, so it is delivered again). Returns how many records were left."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.join(), timeout_s)
        left = self.in_flight
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker  # also retrieves a failed batch's exception (logged when it failed)
        if left:
            log.warning("%s: %d records left at shutdown (delivered again later)", self.name, left)
        return left
