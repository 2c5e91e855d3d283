"""Two workers finding no generation marker (both started against an empty Redis) rebuild it once: the
second, taking the lock after the first let it go, finds the marker and does not wipe what the first
rebuilt (`Generation.check` rebuilds `only_if_missing`). Against the real Redis and broker."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from services.common.config import Settings
from services.dispatcher.rebuild import current_generation, rebuild
from services.dispatcher.runcards import load_runcards
from services.dispatcher.settings import DEFAULT_RUNCARDS

pytestmark = pytest.mark.integration


async def test_a_marker_written_meanwhile_stops_a_second_rebuild(redis: Redis, topics: Settings) -> None:
    runcards = load_runcards(DEFAULT_RUNCARDS)
    first = await rebuild(topics, runcards, redis=redis, only_if_missing=True)
    assert first is not None
    assert await rebuild(topics, runcards, redis=redis, only_if_missing=True) is None
    assert await current_generation(redis, topics.redis_prefix) == first.generation
    forced = await rebuild(topics, runcards, redis=redis)  # `sigap rebuild` always rebuilds
    assert forced is not None and forced.generation != first.generation
