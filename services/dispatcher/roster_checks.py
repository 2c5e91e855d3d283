"""Read, then act: how the roster's scripts come to declare every key they touch.

A volunteer's hash lists the indexes it is in (`geo`: the geo keys it is in while available; `kel`:
the kelurahan indexes). A script that moves a volunteer in or out of those indexes may touch only the
keys it declares, so its caller reads the two fields first (`read_indexes`), declares those keys, and
the script checks, atomically, that the hash still lists exactly them before it changes anything. A
profile changed in between makes the script refuse with the fields as they are now
(`{'stale', geo, kel}`, `stale_indexes`); the caller tries again with those, a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from schemas.errors import SigapError
from services.common.redis import run_script

CHECK_ATTEMPTS = 5
"""tries of a script whose volunteer's indexes changed between the read and the script"""


class IndexesChanging(SigapError, RuntimeError):
    """A volunteer's indexes changed between every read and its script (`CHECK_ATTEMPTS` times):
    nothing was changed; try again."""

    retriable = True


@dataclass(frozen=True, slots=True)
class Indexes:
    """The indexes a volunteer's hash lists, as read: the `geo` and `kel` fields (comma-separated)."""

    geo: str = ""
    kel: str = ""

    @property
    def geo_keys(self) -> list[str]:
        return [k for k in self.geo.split(",") if k]

    @property
    def kel_keys(self) -> list[str]:
        return [k for k in self.kel.split(",") if k]


def stale_indexes(reply: Any) -> Indexes | None:
    """The volunteer's indexes as they are now, when the script refused the ones it was given."""
    if isinstance(reply, list) and len(reply) == 3 and reply[0] == "stale":
        return Indexes(str(reply[1]), str(reply[2]))
    return None


async def read_indexes(redis: Redis, read_rows: AsyncScript, vol_keys: Sequence[str]) -> list[Indexes]:
    """The indexes each hash lists, in one round trip (`read_rows.lua`; '' for a missing hash)."""
    if not vol_keys:
        return []
    flat = await run_script(redis, read_rows, vol_keys, ["geo", "kel"])
    return [Indexes(str(flat[i] or ""), str(flat[i + 1] or "")) for i in range(0, len(flat), 2)]
