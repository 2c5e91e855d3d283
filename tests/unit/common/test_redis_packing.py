"""The services' Redis connections pack commands with hiredis (`services.common.redis.HiredisPacking`):
the same bytes as redis-py's own packing for everything Sigap sends, redis-py's own errors for what
hiredis refuses, and the packing classes chosen for every URL scheme and for sentinels."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError

from services.common.redis import (
    PackedConnection,
    PackedSentinelConnection,
    PackedSentinelSSLConnection,
    PackedSSLConnection,
    new_redis,
    pool_options,
    sentinel_client,
)
from services.dispatcher.runtime import dispatcher_redis

COMMANDS: list[tuple[Any, ...]] = [
    ("EVALSHA", "a" * 40, 3, "{t1}:dsp:incident:INC-1", "{t1}:incident:INC-1", "k", 0, '{"x": "é"}'),
    ("GEOSEARCH", "{t1}:geo", "FROMLONLAT", "112.0123456789012", -7.8, "BYRADIUS", 2.5, "km", "ASC"),
    ("SET", "k", 1.5),
    ("SET", "k", 0.1),
    ("SET", "k", 1e20),
    ("SET", "k", -3),
    ("SET", b"k", b"\x00\xff"),
    ("SET", "k", memoryview(b"ab")),
    ("HSET", "k", "state", "x" * 100_000),
    ("PUBLISH", "chan", ""),
]


@pytest.mark.parametrize("args", COMMANDS)
def test_hiredis_packs_the_same_bytes_as_redis_py(args: tuple[Any, ...]) -> None:
    ours = b"".join(PackedConnection().pack_command(*args))
    theirs = b"".join(Connection().pack_command(*args))
    assert ours == theirs


def test_a_command_name_with_a_space_is_split_as_redis_py_splits_it() -> None:
    ours = b"".join(PackedConnection().pack_command("CONFIG GET", "maxmemory"))
    assert ours == b"".join(Connection().pack_command("CONFIG GET", "maxmemory"))
    assert ours.startswith(b"*3\r\n$6\r\nCONFIG\r\n")


@pytest.mark.parametrize("bad", [None, True])
def test_what_hiredis_refuses_gets_redis_pys_own_error(bad: object) -> None:
    with pytest.raises(DataError):
        PackedConnection().pack_command("SET", "k", bad)


def test_every_url_scheme_gets_its_packing_class() -> None:
    assert pool_options("redis://127.0.0.1:6379/2")["connection_class"] is PackedConnection
    tls = pool_options("rediss://u:p@redis.example:6380/0?ssl_cert_reqs=none")
    assert tls["connection_class"] is PackedSSLConnection
    assert (tls["username"], tls["password"], tls["db"], tls["ssl_cert_reqs"]) == ("u", "p", 0, "none")
    # a unix socket keeps redis-py's class
    assert pool_options("unix:///run/redis.sock")["connection_class"] is UnixDomainSocketConnection


async def test_the_clients_use_the_packing_classes() -> None:
    """No connection is opened: the pools only say which class they will connect with."""
    plain = new_redis("redis://127.0.0.1:1/0")
    tls = new_redis("rediss://127.0.0.1:1/0")
    dispatcher = dispatcher_redis("redis://127.0.0.1:1/0", 8)
    watched = sentinel_client("redis://127.0.0.1:1/0", "127.0.0.1:2", "sigap")
    watched_tls = sentinel_client("rediss://127.0.0.1:1/0", "127.0.0.1:2", "sigap")
    try:
        assert plain.connection_pool.connection_class is PackedConnection
        assert tls.connection_pool.connection_class is PackedSSLConnection
        assert dispatcher.connection_pool.connection_class is PackedConnection
        assert watched.connection_pool.connection_class is PackedSentinelConnection
        assert watched_tls.connection_pool.connection_class is PackedSentinelSSLConnection
    finally:
        for client in (plain, tls, dispatcher, watched, watched_tls):
            await client.aclose()
