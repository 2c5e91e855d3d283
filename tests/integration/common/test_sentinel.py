"""Redis that fails over: the services' client, configured with SIGAP_REDIS_SENTINELS, follows the
primary the sentinels elect when the old one is killed, and finds what was replicated before."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.common.config import Settings
from services.common.redis import redis_for, sentinel_hosts
from services.dispatcher.runtime import dispatcher_redis
from tests.support.brokers import OwnSentinel


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[OwnSentinel]:
    own = OwnSentinel(tmp_path / "sentinel-data", 17120, 17130)
    own.start()
    try:
        yield own
    finally:
        own.stop()


def test_sentinel_list_is_checked() -> None:
    assert sentinel_hosts("127.0.0.1:1,localhost:26379") == [("127.0.0.1", 1), ("localhost", 26379)]
    with pytest.raises(ValueError, match=r"'127\.0\.0\.1' is not host:port"):
        sentinel_hosts("127.0.0.1")
    with pytest.raises(ValueError, match="SIGAP_REDIS_SENTINELS"):
        Settings(redis_sentinels="a:1,b")


async def test_clients_follow_the_primary_through_a_failover(
    sentinel: OwnSentinel, settings: Settings
) -> None:
    s = Settings(
        **{**settings.model_dump(), "redis_sentinels": sentinel.sentinels, "redis_sentinel_master": "sigap"}
    )
    plain = redis_for(s)
    pipelined = dispatcher_redis(s.redis_url, 4, sentinels=s.redis_sentinels, master="sigap")
    key = s.redis_prefix + "failover"
    await plain.set(key, "before")
    await plain.wait(2, 2000)  # both replicas have it: this is what a failover keeps
    old = sentinel.primary()

    sentinel.kill_primary()
    deadline = time.monotonic() + 30
    while True:
        try:
            await asyncio.gather(plain.incr(key + ":n"), pipelined.incr(key + ":n"))
            break
        except (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError):
            assert time.monotonic() < deadline, "no new primary within 30 s"
            await asyncio.sleep(0.2)
    assert sentinel.primary() != old
    assert await plain.get(key) == "before"
    assert await pipelined.get(key) == "before"
    await plain.aclose()
    await pipelined.aclose()
