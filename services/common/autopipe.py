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

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import ResponseError

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
        await self._pipeline(live)

    async def _pipeline(self, live: list[_Queued]) -> None:
        """Send `live` as one pipeline on one connection and hand each caller its reply, as redis-py's
        `Pipeline` does without a transaction, minus its per-command bookkeeping: each command packed
        by hiredis in C (the same bytes as redis-py's `pack_command`), one write, the replies parsed
        with the client's own callbacks, in order. A reply that is an error goes to its caller alone;
        a failed connection reaches every caller not yet answered, and is not retried here (the
        commands may have run: the callers decide, as for any failed call)."""
        packed: list[bytes] = []
        sent: list[_Queued] = []
        for queued in live:
            try:
                packed.append(_pack(queued[0]))
            except Exception as exc:  # a value Redis cannot take (say None): that caller's error alone
                _settle(queued[2], exc)
            else:
                sent.append(queued)
        if not sent:
            return
        pool = self.connection_pool
        conn = None
        try:
            conn = await pool.get_connection()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            await conn.send_packed_command(b"".join(packed))
            for args, options, future in sent:
                try:
                    reply = await self.parse_response(conn, args[0], **options)
                except ResponseError as exc:
                    reply = exc
                _settle(future, reply)
        except BaseException as exc:  # no connection, or it failed: every caller not answered hears of it
            if conn is not None:
                await conn.disconnect(nowait=True)  # replies may be left on it
            for _, _, future in sent:
                _settle(future, exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            if conn is not None:
                await pool.release(conn)


def _pack(args: tuple[Any, ...]) -> bytes:
    """One command in the Redis protocol, as redis-py's `Connection.pack_command` makes it, by hiredis.
    What hiredis does not take (a memoryview; None or a bool, which redis-py refuses with its own
    error) and a first argument holding spaces ("CONFIG GET", which redis-py splits) go to redis-py."""
    first = args[0]
    if not (isinstance(first, str) and " " in first):
        with contextlib.suppress(TypeError):
            packed: bytes = hiredis.pack_command(args)
            return packed
    return b"".join(Connection().pack_command(*args))


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if future.done():
        return
    if isinstance(outcome, asyncio.CancelledError):
        future.cancel()
    elif isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
