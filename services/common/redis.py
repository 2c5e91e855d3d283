"""Redis connections and key names shared by the services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from redis.asyncio import Redis, RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError


def new_redis(url: str, *, cluster: bool = False) -> Redis:
    """An asyncio Redis client that returns `str`; every call carries a timeout. With `cluster`
    (`SIGAP_REDIS_CLUSTER`), a `RedisCluster` client seeded from the node `url` names."""
    if cluster:
        return as_redis(
            RedisCluster.from_url(url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5)
        )
    return Redis.from_url(
        url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
    )


async def run_script(redis: Redis, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
    """`script(keys=…, args=…)` on `redis`, as redis-py's `AsyncScript.__call__` does it (EVALSHA; on
    NOSCRIPT, load and again) without its per-call pipeline check, which costs more than the call on
    a hot path. Not for pipelines: they register their scripts themselves."""
    try:
        return await redis.evalsha(script.sha, len(keys), *keys, *args)
    except NoScriptError:
        script.sha = await redis.script_load(script.script)
        return await redis.evalsha(script.sha, len(keys), *keys, *args)


def as_redis(client: RedisCluster) -> Redis:
    """A `RedisCluster` where a `Redis` is expected: it answers every command, script, pipeline and
    publish Sigap sends (all of a deployment's keys share the prefix's hash tag, so each script and
    MULTI stays in one slot); the two classes share no base class redis-py declares."""
    return cast(Redis, client)
