"""The generation marker (DESIGN.md §1 "The generation marker"): which rebuild Redis holds, and of which
Redis process.

A rebuild writes `<generation> <run_id>` last (`lua/generation.lua`): the run id of the Redis process
it rebuilt. Any other process — this one restarted from its AOF (fsynced once a second), a replica
Sentinel promoted (replication is asynchronous), a restart Sentinel turned into a failover — may lack
writes acknowledged before, so its marker counts as none: the workers' guard (`guard.py`) rebuilds
Redis from the topics before anyone acts on it, and the guard scripts (`search.lua`,
`save_incident.lua`) refuse meanwhile, checking the same inside each script.
"""

from __future__ import annotations

from redis.asyncio import Redis

from schemas.errors import SigapError
from services.common.redis import load_script, run_script
from services.dispatcher.roster_keys import SCRIPTS, RosterKeys

__all__ = ["RebuildInterrupted", "current_generation", "generation_key", "redis_run_id", "write_marker"]


class RebuildInterrupted(SigapError, RuntimeError):
    """The Redis process changed while it was being rebuilt (restarted, or another one promoted): the
    rebuild's writes may be partly on the old one, so no marker was written. Rebuild again."""

    retriable = True


def generation_key(prefix: str) -> str:
    return RosterKeys(prefix).generation


async def _marker(redis: Redis, prefix: str, *args: str) -> tuple[str, str]:
    """`generation.lua`: (generation or '', this Redis process's run id)."""
    script = load_script(redis, SCRIPTS, "generation")
    found, run_id = await run_script(redis, script, [generation_key(prefix)], args)
    return str(found), str(run_id)


async def current_generation(redis: Redis, prefix: str) -> str | None:
    """The generation Redis holds, or None: no marker (Redis lost, a rebuild under way), or a marker
    another Redis process wrote — this one restarted, or a replica promoted: either may lack the
    last writes acknowledged before, so it counts as lost until it is rebuilt."""
    found, _ = await _marker(redis, prefix, "read")
    return found or None


async def redis_run_id(redis: Redis, prefix: str) -> str:
    """The run id of the Redis process that holds the deployment's keys."""
    return (await _marker(redis, prefix, "read"))[1]


async def write_marker(redis: Redis, prefix: str, generation: str, run_id: str) -> None:
    written, now_on = await _marker(redis, prefix, "write", generation, run_id)
    if written != "1":
        raise RebuildInterrupted(f"Redis changed during the rebuild (run id {run_id}, now {now_on})")
