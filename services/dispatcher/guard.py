"""The worker's guard against a lost Redis (DESIGN.md §1 "Where state lives").

`sigap rebuild` writes a generation marker last, naming the Redis process it rebuilt (its run id). A
worker acts only while it sees one of the process it talks to: its searches and saves refuse without
it (`StoreNotReady`, inside the same scripts), and `Generation.check` (a timer) notices a missing
marker — or one another process wrote: Redis restarted, or Sentinel promoted a replica, either of
which may lack the last writes acknowledged before — rebuilds Redis from the topics itself (one
worker takes the rebuild lock; the others wait for the marker) and lets the worker go on. A marker of
another generation (an operator ran `sigap rebuild`) makes the worker forget the incident states it
keeps in memory.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis

from services.common.base_settings import CommonSettings
from services.common.clock import Clock, system_clock
from services.dispatcher.marker import current_generation
from services.dispatcher.rebuild import LOCK_TTL_S, RebuildReport, rebuild
from services.dispatcher.roster import RosterKeys
from services.dispatcher.runcards import RunCards

log = logging.getLogger(__name__)


@dataclass
class Generation:
    redis: Redis
    settings: CommonSettings
    runcards: RunCards
    on_change: Callable[[], None]
    """called when the generation is lost or changes (forget what is kept in memory)"""
    seen: str | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _checking: asyncio.Lock = field(default_factory=asyncio.Lock)
    _waiting: bool = False
    clock: Clock = system_clock
    """the worker's clock: a rebuild's rests and deadlines are judged at its now"""

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
                    log.warning(
                        "no generation marker of this Redis process (Redis lost, restarted or failed "
                        "over): rebuilding from the topics before acting"
                    )
                self.ready.clear()
                self.on_change()
                report = await self._rebuild_unless_rebuilt()
                if report is None:
                    if not self._waiting:
                        log.info("another process is rebuilding Redis; waiting for its generation")
                    self._waiting = True
                    return
                if isinstance(report, RebuildReport):
                    log.info("Redis rebuilt by this worker: %s", report.summary())
                found = report if isinstance(report, str) else report.generation
            self._waiting = False
            if found != self.seen:
                if self.seen is not None:
                    log.warning(
                        "Redis generation %s (was %s): forgetting the states kept in memory", found, self.seen
                    )
                self.on_change()
                self.seen = found
            self.ready.set()

    async def _rebuild_unless_rebuilt(self) -> RebuildReport | str | None:
        """Take the rebuild lock, look for the marker again, and rebuild only if it is still missing:
        another rebuild may have finished between this worker's first look and its lock (a second
        rebuild would wipe the generation just written). Returns the report of this worker's rebuild,
        the generation another one wrote, or None while another holds the lock."""
        lock = RosterKeys(self.settings.redis_prefix).rebuild_lock
        token = uuid.uuid4().hex
        if not await self.redis.set(lock, token, nx=True, ex=LOCK_TTL_S):
            return None
        found = await current_generation(self.redis, self.settings.redis_prefix)
        if found is None:  # `rebuild` gives the lock back when it is done
            return await rebuild(self.settings, self.runcards, now=self.clock(), lock_token=token)
        if await self.redis.get(lock) == token:
            await self.redis.delete(lock)
        return found
