"""Redis connections and key names shared by the services."""

from __future__ import annotations

from redis.asyncio import Redis


def new_redis(url: str) -> Redis:
    """An asyncio Redis client that returns `str`; every call carries a timeout."""
    return Redis.from_url(
        url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
    )
