"""The worker's guard against a lost Redis (DESIGN.md §1 "Where state lives").

`sigap rebuild` writes a generation marker last. A worker acts only while it sees one: its searches
and saves refuse without it (`StoreNotReady`, inside the same scripts), and `Generation.check` (a
timer) notices a missing marker, rebuilds Redis from the topics itself (one worker takes the rebuild
lock; the others wait for the marker) and lets the worker go on. A marker of another generation (an
operator ran `sigap rebuild`) makes the worker forget the incident states it keeps in memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis

from services.common.config import Settings
from services.dispatcher.rebuild import current_generation, rebuild
from services.dispatcher.runcards import RunCards

log = logging.getLogger(__name__)


@dataclass
class Generation:
    redis: Redis
    settings: Settings
    runcards: RunCards
    on_change: Callable[[], None]
    """called when the generation is lost or changes (forget what is kept in memory)"""
    seen: str | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _checking: asyncio.Lock = field(default_factory=asyncio.Lock)
    _waiting: bool = False

    async def wait(self) -> None:
        """Return once Redis holds a generation this worker has taken in."""
        if self.ready.is_set():
            return
        try:
            await self.check()
        except Exception:  # Kafka or Redis away: the timer's next check tries again
            log.exception("rebuilding Redis failed; waiting for the next check")
        await self.ready.wait()

    async def check(self) -> None:
        async with self._checking:
            found = await current_generation(self.redis, self.settings.redis_prefix)
            if found is None:
                if self.ready.is_set() or self.seen is None:
                    log.warning("no generation marker in Redis: rebuilding from the topics before acting")
                self.ready.clear()
                self.on_change()
                report = await rebuild(self.settings, self.runcards, only_if_missing=True)
                if report is None:
                    if not self._waiting:
                        log.info("another process is rebuilding Redis; waiting for its generation")
                    self._waiting = True
                    return
                found = report.generation
                log.info("Redis rebuilt by this worker: %s", report.summary())
            self._waiting = False
            if found != self.seen:
                if self.seen is not None:
                    log.warning(
                        "Redis generation %s (was %s): forgetting the states kept in memory", found, self.seen
                    )
                self.on_change()
                self.seen = found
            self.ready.set()
