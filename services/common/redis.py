"""Redis connections and key names shared by the services."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal, cast

import hiredis
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis, RedisCluster
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection, parse_url
from redis.asyncio.sentinel import (
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
)
from redis.commands.core import AsyncScript

from services.common.base_settings import parse_sentinels

if TYPE_CHECKING:
    from services.common.base_settings import CommonSettings

Service = Literal["dispatcher", "notifier", "gateway"]
"""the services that own Redis keys (services/common/acl.py)"""

CLIENT_OPTIONS: dict[str, Any] = {
    "decode_responses": True,
    "socket_timeout": 5,
    "socket_connect_timeout": 5,
    "health_check_interval": 30,
}


class HiredisPacking(AbstractConnection):
    """Commands packed by hiredis in C (`hiredis.pack_command`, the same bytes as redis-py's own
    `pack_command`, which its asyncio connections do in Python). The dispatcher sends a batch's state
    and view JSON with every save: packing in Python was most of what separated one worker's backlog
    drain from the reference commit's (bench/PROFILE.md §13). What hiredis does not take — None or a
    bool, which redis-py refuses with its `DataError`, and a command name holding spaces ("CONFIG
    GET", which redis-py splits) — is packed by redis-py."""

    def pack_command(self, *args: Any) -> list[bytes]:
        first = args[0]
        if isinstance(first, str) and " " not in first:
            try:
                return [hiredis.pack_command(args)]
            except TypeError:
                pass
        packed: list[bytes] = super().pack_command(*args)
        return packed


class PackedConnection(HiredisPacking, Connection):
    """`redis://`"""


class PackedSSLConnection(HiredisPacking, SSLConnection):
    """`rediss://`"""


class PackedSentinelConnection(HiredisPacking, SentinelManagedConnection):
    """the primary that sentinels name"""


class PackedSentinelSSLConnection(HiredisPacking, SentinelManagedSSLConnection):
    """the primary that sentinels name, over TLS"""


_PACKED: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: PackedConnection,
    SSLConnection: PackedSSLConnection,
}


def pool_options(url: str) -> dict[str, Any]:
    """redis-py's `parse_url(url)` (host, credentials, database, TLS options), with its connection
    class for the URL's scheme swapped for the one packing with hiredis (a `unix://` socket keeps
    redis-py's): the keyword arguments of a `ConnectionPool`."""
    options: dict[str, Any] = dict(parse_url(url))
    kind = options.get("connection_class", Connection)
    options["connection_class"] = _PACKED.get(kind, kind)
    return options


Sentinels = str | Sequence[tuple[str, int]]
"""`host:port,…` or the (host, port) pairs `SIGAP_REDIS_SENTINELS` was parsed into"""


def new_redis(url: str, *, cluster: bool = False, sentinels: Sentinels = "", master: str = "sigap") -> Redis:
    """An asyncio Redis client that returns `str`; every call carries a timeout. With `cluster`
    (`SIGAP_REDIS_CLUSTER`), a `RedisCluster` client seeded from the node `url` names; with `sentinels`
    (`host:port,…`) it asks them for `master`'s primary and follows it through a failover."""
    if cluster:
        return as_redis(
            RedisCluster.from_url(url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5)
        )
    if sentinels:
        return sentinel_client(url, sentinels, master)
    return Redis.from_pool(ConnectionPool(**pool_options(url), **CLIENT_OPTIONS))


def redis_for(settings: CommonSettings, service: Service | None = None) -> Redis:
    """The client `SIGAP_REDIS_URL` names — a node of a cluster with `SIGAP_REDIS_CLUSTER`, found
    through `SIGAP_REDIS_SENTINELS` + `SIGAP_REDIS_SENTINEL_MASTER` when those are set — connected as
    `service`'s ACL user when one is configured (`Settings.redis_url_for`)."""
    return new_redis(
        settings.redis_url_for(service) if service else settings.redis_url,
        cluster=settings.redis_cluster,
        sentinels=settings.redis_sentinels,
        master=settings.redis_sentinel_master,
    )


def sentinel_hosts(spec: Sentinels) -> list[tuple[str, int]]:
    """`host:port,host:port` → [(host, port), …] (a bad entry is a `ValueError` naming it); parsed
    pairs pass through."""
    return parse_sentinels(spec) if isinstance(spec, str) else list(spec)


class SentinelBlockingConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    """redis-py's Sentinel pool (connections to whichever node the sentinels name primary) that waits
    for a free connection, as `BlockingConnectionPool` does, instead of failing at once."""


def sentinel_client(
    url: str, sentinels: Sentinels, master: str, *, redis_class: type[Redis] = Redis, **pool: Any
) -> Redis:
    """A client of `master`'s current primary, found through `sentinels`; `url` gives the database,
    credentials and TLS (its host and port are not used). With a `rediss://` URL both the primary and
    the sentinels are spoken to over TLS with the URL's `ssl_*` options (deploy/k8s: TLS on every
    port, one CA). `pool` options (`max_connections`, `timeout`) make it a blocking pool."""
    target = parse_url(url)
    options = {k: v for k, v in target.items() if k in {"db", "username", "password"} and v is not None}
    options["connection_class"] = PackedSentinelConnection
    reach: dict[str, Any] = {"socket_timeout": 1, "socket_connect_timeout": 1}
    if url.startswith("rediss://"):
        tls = {k: v for k, v in target.items() if k.startswith("ssl_")}
        options |= {"connection_class": PackedSentinelSSLConnection, **tls}
        reach |= {"ssl": True, **tls}
    manager = Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves its __init__ untyped
        sentinel_hosts(sentinels), sentinel_kwargs=reach
    )
    pool_class = SentinelBlockingConnectionPool if pool else SentinelConnectionPool
    client: Redis = manager.master_for(
        master,
        redis_class=redis_class,
        connection_pool_class=pool_class,
        **CLIENT_OPTIONS,
        **options,
        **pool,
    )
    return client


@cache
def lua_source(package: str, name: str) -> str:
    """The text of `lua/{name}.lua` in `package` (where each service keeps its Redis scripts)."""
    return resources.files(package).joinpath(f"lua/{name}.lua").read_text("utf-8")


def load_script(redis: Redis, package: str, name: str) -> AsyncScript:
    """`package`'s script `name` registered on `redis` (read once per process); run it with
    `run_script`. redis-py's `Script` loads it again after `NOSCRIPT` (a Redis restart)."""
    return redis.register_script(lua_source(package, name))


async def run_script(redis: Redis, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
    """`script(keys=…, args=…)` on `redis` (EVALSHA; on NOSCRIPT, redis-py loads it and runs it again)."""
    return await script(keys=keys, args=args, client=redis)


def as_redis(client: RedisCluster) -> Redis:
    """A `RedisCluster` where a `Redis` is expected: it answers every command, script, pipeline and
    publish Sigap sends (all of a deployment's keys share the prefix's hash tag, so each script and
    MULTI stays in one slot); the two classes share no base class redis-py declares."""
    return cast(Redis, client)
