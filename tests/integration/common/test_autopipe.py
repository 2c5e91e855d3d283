"""`AutoPipelineRedis` against the real Redis: concurrent callers share a pipeline, each gets its own
reply or error, scripts survive a flushed script cache, and a dead server fails every caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from services.common.autopipe import AutoPipelineRedis, coalescing
from services.common.config import Settings
from services.common.redis import run_script

pytestmark = pytest.mark.integration


@pytest.fixture
async def auto(settings: Settings, redis: Redis) -> AsyncIterator[AutoPipelineRedis]:
    client = AutoPipelineRedis.from_url(settings.redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def test_concurrent_commands_go_as_one_pipeline_and_each_caller_gets_its_reply(
    auto: AutoPipelineRedis, settings: Settings
) -> None:
    p = settings.redis_prefix
    await auto.hset(f"{p}h", mapping={"a": "1", "b": "2"})
    with coalescing():
        replies = await asyncio.gather(
            *(auto.incr(f"{p}n{i % 5}") for i in range(50)),
            auto.hgetall(f"{p}h"),
            auto.hmget(f"{p}h", ["b", "missing"]),
            auto.exists(f"{p}h"),
        )
    counters, (whole, some, exists) = replies[:50], replies[50:]
    assert sorted(counters) == sorted(n for _ in range(5) for n in range(1, 11))
    assert whole == {"a": "1", "b": "2"}  # response callbacks still apply inside the pipeline
    assert some == ["2", None]
    assert exists == 1
    assert auto.pipelines_sent == 1  # the 53 commands issued in one turn: one pipeline
    assert auto.commands_sent == 53  # the HSET before was sent on its own, outside `coalescing()`


async def test_a_single_command_is_sent_on_its_own(auto: AutoPipelineRedis, settings: Settings) -> None:
    with coalescing():
        assert await auto.set(f"{settings.redis_prefix}k", "v") is True
        assert await auto.get(f"{settings.redis_prefix}k") == "v"
    assert auto.pipelines_sent == 0 and auto.commands_sent == 2


async def test_outside_coalescing_concurrent_commands_go_one_by_one(
    auto: AutoPipelineRedis, settings: Settings
) -> None:
    p = settings.redis_prefix
    assert sorted(await asyncio.gather(*(auto.incr(f"{p}plain") for _ in range(20)))) == list(range(1, 21))
    assert auto.pipelines_sent == 0 and auto.commands_sent == 0  # never queued: sent as `Redis` does


async def test_one_callers_error_is_its_own(auto: AutoPipelineRedis, settings: Settings) -> None:
    p = settings.redis_prefix
    await auto.set(f"{p}text", "not a number")
    with coalescing():
        outcomes = await asyncio.gather(
            auto.incr(f"{p}counter"),
            auto.incr(f"{p}text"),
            auto.get(f"{p}text"),
            return_exceptions=True,
        )
    assert outcomes[0] == 1
    assert isinstance(outcomes[1], ResponseError)
    assert outcomes[2] == "not a number"
    assert auto.pipelines_sent == 1


async def test_scripts_reload_after_the_script_cache_is_flushed(
    auto: AutoPipelineRedis, redis: Redis, settings: Settings
) -> None:
    script = auto.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    key = f"{settings.redis_prefix}scripted"
    assert await script(keys=[key], args=[1]) == 1
    await redis.script_flush()  # as after a Redis restart: every EVALSHA now answers NOSCRIPT
    with coalescing():
        results = await asyncio.gather(*(script(keys=[key], args=[1]) for _ in range(10)))
    assert sorted(results) == list(range(2, 12))
    assert int(await redis.get(key)) == 11


async def test_a_task_s_own_commands_keep_their_order(auto: AutoPipelineRedis, settings: Settings) -> None:
    p = settings.redis_prefix

    async def writer(n: int) -> list[str]:
        seen = []
        for i in range(5):
            await auto.rpush(f"{p}list{n}", str(i))
            seen.append(str(await auto.lindex(f"{p}list{n}", -1)))
        return seen

    with coalescing():
        assert await asyncio.gather(*(writer(n) for n in range(8))) == [[str(i) for i in range(5)]] * 8
    assert auto.pipelines_sent >= 9  # 8 writers in step: each of their 10 turns was one pipeline


async def test_every_caller_hears_that_redis_is_away() -> None:
    client = AutoPipelineRedis.from_url(
        "redis://127.0.0.1:1/0", socket_connect_timeout=1, retry_on_error=[], decode_responses=True
    )
    try:
        with coalescing():
            outcomes = await asyncio.gather(*(client.get(f"k{i}") for i in range(3)), return_exceptions=True)
        assert all(isinstance(o, RedisConnectionError) for o in outcomes), outcomes
    finally:
        await client.aclose()


async def test_a_cancelled_caller_does_not_disturb_the_others(
    auto: AutoPipelineRedis, settings: Settings
) -> None:
    p = settings.redis_prefix
    with coalescing():
        doomed = asyncio.ensure_future(auto.set(f"{p}doomed", "x"))
        others = [asyncio.ensure_future(auto.incr(f"{p}c")) for _ in range(3)]
    doomed.cancel()
    assert sorted(await asyncio.gather(*others)) == [1, 2, 3]
    assert doomed.cancelled()


async def test_run_script_loads_the_script_again_after_a_flush_coalesced_or_not(
    auto: AutoPipelineRedis, redis: Redis, settings: Settings
) -> None:
    script = auto.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    key = f"{settings.redis_prefix}run"
    assert await run_script(auto, script, [key], [2]) == 2
    await redis.script_flush()
    assert await run_script(auto, script, [key], [3]) == 5
    await redis.script_flush()
    with coalescing():
        results = await asyncio.gather(*(run_script(auto, script, [key], [1]) for _ in range(5)))
    assert sorted(results) == [6, 7, 8, 9, 10]
