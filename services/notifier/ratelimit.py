"""Per-channel concurrency and rate limits, so one slow or throttled provider never holds up the others.

Concurrency is per worker (an `asyncio.Semaphore` per channel). The rate is shared by every notifier
worker through Redis (`lua/rate.lua`, a GCRA reservation), because providers count requests per
account, not per process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from schemas.vocabulary import ChannelType
from services.common.redis import load_script
from services.notifier import SCRIPTS
from services.notifier.errors import RateLimited
from services.notifier.limits import ChannelLimits


class ChannelGate:
    def __init__(self, redis: Redis, prefix: str, limits: dict[ChannelType, ChannelLimits]) -> None:
        self._limits = limits
        self._prefix = prefix
        self._semaphores = {c: asyncio.Semaphore(lim.concurrency) for c, lim in limits.items()}
        self._rate = load_script(redis, SCRIPTS, "rate")

    @asynccontextmanager
    async def slot(self, channel: ChannelType, max_wait_s: float) -> AsyncIterator[None]:
        """Wait for a free slot on `channel` (both its concurrency and its rate), at most `max_wait_s`
        (the time left before the notification's deadline); RateLimited when it would take longer."""
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + max(0.0, max_wait_s)
        try:
            async with asyncio.timeout_at(give_up_at):
                await self._semaphores[channel].acquire()
        except TimeoutError:
            raise RateLimited(f"{channel.value}: no free sending slot before the deadline") from None
        try:
            await self._wait_for_rate(channel, give_up_at - loop.time())
            yield
        finally:
            self._semaphores[channel].release()

    async def _wait_for_rate(self, channel: ChannelType, max_wait_s: float) -> None:
        rate = self._limits[channel].rate_per_s
        if rate <= 0:
            return
        interval_ms = 1000.0 / rate
        wait_ms = await self._rate(
            keys=[f"{self._prefix}notifier:rate:{channel.value}"],
            args=[interval_ms, 1, int(max(0.0, max_wait_s) * 1000)],
        )
        if int(wait_ms) < 0:
            raise RateLimited(f"{channel.value}: rate limit leaves no slot before the deadline")
        if int(wait_ms) > 0:
            await asyncio.sleep(int(wait_ms) / 1000)
