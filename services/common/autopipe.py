"""A Redis client that pipelines on its own: commands issued by concurrent tasks in the same turn of
the event loop go to Redis as one pipeline — one write and one read on one connection — instead of one
round trip each. Only where the caller says so (`coalescing()`, inherited by the tasks started inside
it): coalescing costs a command an extra turn of the event loop, which is worth it when many tasks issue
commands together (a batch of incidents) and only adds latency when one does.

Why: the dispatcher carries out a batch's incidents concurrently, each doing a few Redis calls one after
another, in step. On this kind of machine a loopback socket write is one of the most expensive things a
Python process does (py-spy: `_SelectorSocketTransport.write` ~10 % of the dispatcher's samples under
load, plus the pool and retry machinery per command). Coalescing the calls that are ready together sends
a lone one exactly as `Redis.execute_command` would, and saves most of that when many are.

Semantics are those of separate concurrent calls: each caller gets its own reply or its own error
(`raise_on_error=False`), commands of one task stay in its order (a task awaits each before issuing
the next, so two of its commands never share a flush), and nothing is atomic across callers (the
pipeline is not a MULTI/EXEC transaction). Scripts work unchanged: `Script.__call__` sends EVALSHA
through `execute_command`, and a NOSCRIPT error reaches that caller alone, which loads the script and
tries again. Pipelines, transactions and pub/sub made from this client are the ordinary ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from redis.asyncio import Redis

log = logging.getLogger(__name__)

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
        self._queued: list[_Queued] = []
        self._flush_scheduled = False
        self._flushes: set[asyncio.Task[None]] = set()
        self.pipelines_sent = 0
        """pipelines of two or more commands sent (for the benchmark and tests)"""
        self.commands_sent = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if not _COALESCING.get():
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queued.append((args, options, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._start_flush)
        return await future

    def _start_flush(self) -> None:
        self._flush_scheduled = False
        queued, self._queued = self._queued, []
        for start in range(0, len(queued), MAX_PIPELINE):
            task = asyncio.create_task(self._flush(queued[start : start + MAX_PIPELINE]))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _flush(self, queued: list[_Queued]) -> None:
        live = [q for q in queued if not q[2].done()]  # a caller cancelled meanwhile needs no reply
        if not live:
            return
        self.commands_sent += len(live)
        if len(live) == 1:
            args, options, future = live[0]
            try:
                result = await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            except BaseException as exc:  # handed to the caller, whatever it is
                _settle(future, exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                _settle(future, result)
            return
        self.pipelines_sent += 1
        pipe = self.pipeline(transaction=False)
        for args, options, _ in live:
            pipe.execute_command(*args, **options)
        try:
            results = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # the connection failed: every caller hears of it
            for _, _, future in live:
                _settle(future, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, future), result in zip(live, results, strict=True):
            _settle(future, result)


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if future.done():
        return
    if isinstance(outcome, asyncio.CancelledError):
        future.cancel()
    elif isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
