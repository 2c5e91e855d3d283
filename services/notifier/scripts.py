"""The notifier's Redis Lua scripts (`lua/*.lua`), registered once per client; redis-py's `Script`
reloads a script after `NOSCRIPT` (a Redis restart)."""

from __future__ import annotations

from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


def load(redis: Redis, name: str) -> AsyncScript:
    source = resources.files("services.notifier").joinpath(f"lua/{name}.lua").read_text("utf-8")
    return redis.register_script(source)
