"""A Redis client that pipelines on its own: commands issued by concurrent tasks in the same turn of
the event loop go to Redis as one pipeline (redis-py's own `Pipeline`, without a transaction) instead
of one round trip each. Only where the caller says so (`coalescing()`, inherited by the tasks started
inside it): coalescing costs a command an extra turn of the event loop, which is worth it when many
tasks issue commands together (a batch of incidents) and only adds latency when one does.

Why it is kept (issue 15 retired the speed-ups that did not pay): without it one dispatcher worker's
backlog drain fell from 217 to 83 incidents/s in the same benchmark window (bench/PROFILE.md §10). A
batch's incidents are carried out concurrently, each doing its Redis calls one after another, in step;
on this kind of machine a loopback round trip per command (a write, a read, the pool) costs more than
the command. Built on redis-py's public API only: `Redis.execute_command` (overridden), `pipeline()`,
`Pipeline.execute(raise_on_error=False)`.

Semantics are those of separate concurrent calls: each caller gets its own reply or its own error,
commands of one task stay in its order (a task awaits each before issuing the next, so two of its
commands never share a flush), and nothing is atomic across callers. Scripts work unchanged:
`AsyncScript.__call__` sends EVALSHA through `execute_command`, and a NOSCRIPT error reaches that caller
alone, which loads the script and tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from redis.asyncio import Redis

_Queued = tuple[tuple[Any, ...], dict[str, Any], "asyncio.Future[Any]"]

MAX_PIPELINE = 256
"""Commands in one pipeline at most; a larger turn's worth is sent as several."""

_COALESCING: ContextVar[bool] = ContextVar("sigap_redis_coalescing", default=False)


@contextlib.contextmanager
def coalescing(enabled: bool = True) -> Iterator[None]:
    """Within this block — and in the tasks started inside it, which copy the context — an
    `AutoPipelineRedis` coalesces commands; elsewhere it sends each as `Redis` does."""
    token = _COALESCING.set(enabled)
    try:
        yield
    finally:
        _COALESCING.reset(token)


class AutoPipelineRedis(Redis):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queued: list[_Queued] = []
        self.flush_scheduled = False
        self.flushes: set[asyncio.Task[None]] = set()
        self.pipelines_sent = 0
        """pipelines of two or more commands sent (for the benchmark and tests)"""
        self.commands_sent = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if not _COALESCING.get():
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.queued.append((args, options, future))
        if not self.flush_scheduled:
            self.flush_scheduled = True
            loop.call_soon(self.start_flush)
        return await future

    def start_flush(self) -> None:
        self.flush_scheduled = False
        queued, self.queued = self.queued, []
        for start in range(0, len(queued), MAX_PIPELINE):
            task = asyncio.create_task(self.flush(queued[start : start + MAX_PIPELINE]))
            self.flushes.add(task)
            task.add_done_callback(self.flushes.discard)

    async def flush(self, queued: list[_Queued]) -> None:
        live = [q for q in queued if not q[2].done()]  # a caller cancelled meanwhile needs no reply
        if not live:
            return
        self.commands_sent += len(live)
        try:
            if len(live) == 1:
                args, options, _ = live[0]
                replies = [await super().execute_command(*args, **options)]  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            else:
                self.pipelines_sent += 1
                async with self.pipeline(transaction=False) as pipe:
                    for args, options, _ in live:
                        pipe.execute_command(*args, **options)
                    replies = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # no connection, or it failed: every caller not answered hears of it
            for _, _, future in live:
                _settle(future, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, future), reply in zip(live, replies, strict=True):
            _settle(future, reply)


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if future.done():
        return
    if isinstance(outcome, asyncio.CancelledError):
        future.cancel()
    elif isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
