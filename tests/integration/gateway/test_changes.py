"""The change hub (`services.gateway.changes`) on the real Redis: a subscription that is lost comes
back by itself (`common.retry`), and every client is told to resync, since notices may have been missed."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from services.common.config import Settings
from services.common.retry import Backoff
from services.gateway.changes import RESYNC, ChangeHub


@pytest.fixture
async def named(settings: Settings) -> AsyncIterator[tuple[Redis, str]]:
    """A client of its own, with a name, so the test can cut its connection and no other."""
    name = f"sigap-test-hub-{uuid.uuid4().hex[:8]}"
    client = Redis.from_url(settings.redis_url, client_name=name)
    yield client, name
    await client.aclose()


async def _cut(redis: Redis, name: str) -> int:
    killed = 0
    for client in await redis.client_list(_type="pubsub"):
        if client.get("name") == name:
            killed += int(await redis.client_kill_filter(_id=client["id"]))
    return killed


async def test_a_lost_subscription_comes_back_and_every_client_resyncs(
    settings: Settings, redis: Redis, named: tuple[Redis, str]
) -> None:
    client, name = named
    channel = settings.redis_prefix + "changes"
    hub = ChangeHub(client, channel, reconnect=Backoff(0.01, 0.05))
    try:
        async with hub.subscribe() as first, hub.subscribe() as second:
            await asyncio.wait_for(hub.connected.wait(), 5)
            notice = json.dumps({"kind": "incident", "id": "INC-1"})
            await redis.publish(channel, notice)
            assert await asyncio.wait_for(first.get(), 5) == notice
            assert await asyncio.wait_for(second.get(), 5) == notice

            assert await _cut(redis, name) == 1
            assert await asyncio.wait_for(first.get(), 5) == RESYNC
            assert await asyncio.wait_for(second.get(), 5) == RESYNC

            after = json.dumps({"kind": "volunteer", "id": "V-1"})
            await redis.publish(channel, after)
            assert await asyncio.wait_for(first.get(), 5) == after
    finally:
        await hub.aclose()
