"""The dispatcher's matching step alone: find and reserve a volunteer for one need, in a loop, against
the roster the dispatcher materialised in Redis (filled in once the dispatcher's adapter exists)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from services.common.readmodels import Keys


async def measure(redis: Redis, keys: Keys, *, iterations: int, seed: int = 11) -> dict[str, Any]:
    return {"error": "the dispatcher's matching adapter is not available yet", "n": 0}
