"""Concurrency across incidents, order within each: one lane per key (an incident id).

A job submitted under a key starts only after the job submitted before it under the same key has
finished, so one incident's events are handled strictly in the order they arrived; jobs of different
keys run concurrently, at most `limit` submitted and not yet finished at a time (`submit` waits for a
free slot, which is the agent's back-pressure on the stream).

A job is expected to handle its own failures (retry, dead-letter) and to return normally. If one ends
otherwise — cancelled at shutdown, or a bug raising — the jobs queued behind it under the same key are
not run: running them would reorder the incident's events, and their records stay unacknowledged, so
the broker delivers them again after a restart, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class Lanes:
    def __init__(self, limit: int, name: str = "lanes") -> None:
        if limit < 1:
            raise ValueError("a lane pool needs at least one slot")
        self.limit = limit
        self.name = name
        self._slots = asyncio.Semaphore(limit)
        self._tails: dict[Hashable, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.running = 0
        """jobs running now (not waiting for their key's previous job)"""
        self.peak_running = 0
        """the most jobs that ever ran at once"""

    @property
    def in_flight(self) -> int:
        """Jobs submitted and not yet finished (running, or waiting for their key's previous job)."""
        return len(self._tasks)

    @property
    def keys(self) -> int:
        """Keys with at least one job in flight."""
        return len(self._tails)

    async def submit(self, key: Hashable, job: Job) -> None:
        """Queue `job` behind the previous job of `key`; waits while `limit` jobs are in flight."""
        await self._slots.acquire()
        previous = self._tails.get(key)
        task = asyncio.create_task(self._run(key, previous, job), name=f"{self.name}:{key!r}")
        self._tails[key] = task
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._done, key))

    async def _run(self, key: Hashable, previous: asyncio.Task[None] | None, job: Job) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # its outcome, not its exception, decides what follows
            if previous.cancelled() or previous.exception() is not None:
                log.warning(
                    "%s %r: an earlier job did not finish; this one waits for redelivery", self.name, key
                )
                raise asyncio.CancelledError
        self.running += 1
        self.peak_running = max(self.peak_running, self.running)
        try:
            await job()
        finally:
            self.running -= 1

    def _done(self, key: Hashable, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]
        self._slots.release()
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("%s %r: job failed", self.name, key, exc_info=exc)

    async def join(self) -> None:
        """Wait until every job submitted so far has finished (whatever its outcome)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self, timeout_s: float) -> int:
        """Let the jobs in flight finish for up to `timeout_s`, then cancel the rest (their records stay
        unacknowledged, so they are delivered again). Returns how many were cancelled."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.join(), timeout_s)
        cancelled = list(self._tasks)
        for task in cancelled:
            task.cancel()
        if cancelled:
            await asyncio.gather(*cancelled, return_exceptions=True)
            log.warning("%s: %d jobs cancelled at shutdown (redelivered later)", self.name, len(cancelled))
        return len(cancelled)
