"""Redis memory of the BMKG ingest: dedupe claims, alerts already published, recent alert ids.

Keys (all under `SIGAP_REDIS_PREFIX`, all private to the gateway):
- `bmkg:seen:{identifier}:{msgType}` — a document already published (SET NX claim, TTL)
- `bmkg:known:{alert_id}`            — an alert published for Kota Kediri, so an Update or Cancel that
                                       references it is relevant even without a Kediri area (TTL)
- `bmkg:recent`                      — sorted set of published alert ids, score = sent (unix s), for
                                       `GET /api/v1/weather/alerts?all=true`
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from redis.asyncio import Redis

from services.common.readmodels import Keys

RECENT_MAX = 500


@dataclass(frozen=True, slots=True)
class BmkgKeys:
    prefix: str = "{sigap}:"

    def seen(self, dedupe_key: str) -> str:
        return f"{self.prefix}bmkg:seen:{dedupe_key}"

    def known(self, alert_id: str) -> str:
        return f"{self.prefix}bmkg:known:{alert_id}"

    @property
    def recent(self) -> str:
        return f"{self.prefix}bmkg:recent"


class AlertStore:
    """The gateway's BMKG state in Redis. Shared safely by several gateway replicas: claims are SET NX."""

    def __init__(self, redis: Redis, prefix: str, ttl_s: int) -> None:
        self.redis = redis
        self.keys = BmkgKeys(prefix)
        self.readmodels = Keys(prefix)
        self.ttl_s = ttl_s

    async def claim(self, dedupe_key: str) -> bool:
        """True when this caller is the first to publish this document."""
        return bool(await self.redis.set(self.keys.seen(dedupe_key), "1", nx=True, ex=self.ttl_s))

    async def release(self, dedupe_key: str) -> None:
        """Undo a claim whose publish failed, so the next poll or post tries again."""
        await self.redis.delete(self.keys.seen(dedupe_key))

    async def known_among(self, alert_ids: Iterable[str]) -> set[str]:
        """The ids this service published, or that the dispatcher holds a read model for."""
        ids = list(dict.fromkeys(alert_ids))
        if not ids:
            return set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for alert_id in ids:
                pipe.exists(self.keys.known(alert_id), self.readmodels.alert(alert_id))
            counts = await pipe.execute()
        return {alert_id for alert_id, count in zip(ids, counts, strict=True) if count}

    async def remember(self, alert_id: str, sent_unix: float) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.known(alert_id), "1", ex=self.ttl_s)
            pipe.zadd(self.keys.recent, {alert_id: sent_unix})
            pipe.zremrangebyrank(self.keys.recent, 0, -RECENT_MAX - 1)
            await pipe.execute()

    async def recent(self, limit: int = 200) -> list[str]:
        """Published alert ids, newest first."""
        members = await self.redis.zrevrange(self.keys.recent, 0, limit - 1)
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]
