"""Fan-out of the Redis `changes` pub/sub channel to the gateway's SSE clients.

One Redis subscription per gateway process, however many browsers watch the board. Each client has a
bounded queue; a client too slow to drain it gets a `resync` notice instead of an unbounded backlog, and
every client gets `resync` after the subscription is re-established (notices may have been missed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.common.retry import Backoff, Delays, retry

log = logging.getLogger(__name__)

RESYNC = json.dumps({"kind": "resync", "id": ""})
RECONNECT = Backoff(0.5, 10.0)
"""Between attempts to subscribe again; from the first wait again once a subscription was made."""


class ChangeHub:
    def __init__(
        self, redis: Redis, channel: str, *, queue_size: int = 256, reconnect: Backoff = RECONNECT
    ) -> None:
        self.redis = redis
        self.channel = channel
        self.queue_size = queue_size
        self.reconnect = reconnect
        self._clients: set[asyncio.Queue[str]] = set()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue(self.queue_size)
        self._clients.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="sigap-change-hub")
        try:
            yield queue
        finally:
            self._clients.discard(queue)

    @property
    def clients(self) -> int:
        return len(self._clients)

    def _fan_out(self, data: str) -> None:
        for queue in list(self._clients):
            try:
                queue.put_nowait(data)
            except asyncio.QueueFull:
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(RESYNC)

    async def _run(self) -> None:
        delays = Delays(self.reconnect)
        first = True

        async def listen() -> None:
            nonlocal first
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.connected.set()
                if not first:
                    self._fan_out(RESYNC)
                first = False
                delays.reset()
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is None or message.get("type") != "message":
                        continue
                    data = message["data"]
                    self._fan_out(data.decode() if isinstance(data, bytes) else str(data))
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped

        def lost(exc: Exception, wait: float) -> None:
            self.connected.clear()
            log.warning("change subscription lost (%s); retrying in %.1fs", exc, wait)

        await retry(listen, delays, when=lambda exc: isinstance(exc, RedisError | OSError), on_retry=lost)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
