"""Durable dispatcher state and read models in Redis.

- Incident state (`dsp:incident:{id}` hash: `version`, `state` JSON) is written only by the worker
  that owns the incident's partition; the save is a compare-and-set on `version`, together with the
  gateway's read model `incident:{id}` (`IncidentView`) and the `incidents:open` / `incidents:all`
  lists, and a `changes` notice (`save_incident.lua`). The owner keeps what it saved last in memory.
- The understaffed registry (`dsp:understaffed`, oldest first), one registry per kind of need
  (`dsp:understaffed:k:{unit}[:{skill}]`, the incidents short of it; `dsp:understaffed:kinds` says
  which an incident is in) and per-incident retry flags (`dsp:retry:{id}`: a retry event is on its
  way) drive rule 7's retries: a freed volunteer wakes the oldest incidents of their kinds
  (`wake_understaffed.lua`); the periodic retry wakes every one.
- Alerts: `alert:{id}` (`WeatherAlertView`), `alerts:active` (score = expiry), standby dedupe sets.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from redis.asyncio import Redis

from schemas.api import WeatherAlertView
from schemas.errors import SigapError
from services.common.readmodels import Keys, change_notice
from services.common.redis import load_script, run_script
from services.dispatcher.incident import IncidentState
from services.dispatcher.projection import incident_view
from services.dispatcher.roster import SCRIPTS, RosterKeys, StoreNotReady

log = logging.getLogger(__name__)

RETRY_FLAG_TTL_S = 120
UNDERSTAFFED_LIMIT = 500
STANDBY_MEMORY_S = 14 * 24 * 3600
NO_EXPIRY_SCORE = "+inf"


class StaleState(SigapError, RuntimeError):
    """Someone saved this incident since we loaded it (a rebalance in flight): reload and retry."""

    retriable = True


MARK_ATTEMPTS = 5
"""reads of an incident's understaffed registries before giving up (each is one changed meanwhile)"""


class Saved(NamedTuple):
    """A state saved: its new version, and the answers that were parked for the incident (raw event
    JSON, in their order) when it was saved for the first time, taken off the shelf by the save."""

    version: int
    parked: list[str]


class IncidentStore:
    """Incident state in Redis, with the last saved state of recent incidents kept in memory.

    The worker that owns an incident's partition is its only writer, so what it saved last is what
    Redis holds; `load` answers from memory then, saving a round trip and a parse. The memory is
    forgotten whenever partitions move (`forget_all`), and a save is still a compare-and-set on the
    version: should the memory ever be stale, the save fails with `StaleState`, the entry is dropped
    and the retry loads from Redis. States handed out are shared: treat them as read-only (`decide`
    never mutates its input).
    """

    def __init__(self, redis: Redis, prefix: str, cache_size: int = 4096, *, guarded: bool = False) -> None:
        """`guarded`: saves refuse (`StoreNotReady`) while the generation marker is missing."""
        self.redis = redis
        self.guarded = guarded
        self.keys = Keys(prefix)
        self.prefix = prefix
        self._save = load_script(redis, SCRIPTS, "save_incident")
        self._mark = load_script(redis, SCRIPTS, "understaffed")
        self._wake = load_script(redis, SCRIPTS, "wake_understaffed")
        self._rows = load_script(redis, SCRIPTS, "read_rows")
        self._cache: OrderedDict[str, IncidentState] = OrderedDict()
        self._cache_size = cache_size

    def state_key(self, incident_id: str) -> str:
        return f"{self.prefix}dsp:incident:{incident_id}"

    @property
    def understaffed_key(self) -> str:
        return f"{self.prefix}dsp:understaffed"

    @property
    def understaffed_kinds_key(self) -> str:
        return f"{self.prefix}dsp:understaffed:kinds"

    def understaffed_kind_key(self, kind: str) -> str:
        """The incidents short of one kind of need (`unit` or `unit:skill`, as the roster's geo index)."""
        return f"{self.prefix}dsp:understaffed:k:{kind}"

    def retry_key(self, incident_id: str) -> str:
        return f"{self.prefix}dsp:retry:{incident_id}"

    def parked_key(self, incident_id: str) -> str:
        """Answers that overtook the incident's state, waiting for its first save (`Dispatch._park`)."""
        return f"{self.prefix}dsp:parked:{incident_id}"

    async def load(self, incident_id: str) -> tuple[IncidentState | None, int]:
        cached = self._cache.get(incident_id)
        if cached is not None:
            self._cache.move_to_end(incident_id)
            return cached, cached.version
        version, raw = await self.redis.hmget(self.state_key(incident_id), "version", "state")
        if not raw:
            return None, int(version or 0)
        state = IncidentState.model_validate_json(raw)
        state.version = int(version or 0)
        self._remember(state)
        return state, state.version

    def remembers(self, incident_id: str) -> bool:
        """Whether `load` would answer from memory."""
        return incident_id in self._cache

    def _remember(self, state: IncidentState) -> None:
        self._cache[state.incident_id] = state
        self._cache.move_to_end(state.incident_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def forget(self, incident_id: str) -> None:
        """Drop one incident's state from memory (its next load reads Redis)."""
        self._cache.pop(incident_id, None)

    def forget_all(self) -> None:
        """Partitions moved: another worker may write these incidents now."""
        self._cache.clear()

    async def save(self, state: IncidentState, expected_version: int) -> Saved:
        """Save the state and its read models if nobody saved since `expected_version`: the new
        version and, for a first save, the answers parked for the incident (now deleted), in the
        same round trip."""
        view = incident_view(state)
        keys = [
            self.state_key(state.incident_id),
            self.keys.incident(state.incident_id),
            self.keys.open_incidents,
            self.keys.all_incidents,
            self.parked_key(state.incident_id),
        ]
        if self.guarded:
            keys.append(RosterKeys(self.prefix).generation)
        args: list[str | int | float] = [
            expected_version,
            state.model_dump_json(),
            view.model_dump_json(),
            state.incident_id,
            state.reported_at.timestamp(),
            "1" if state.status.is_open else "0",
            self.keys.changes,
            change_notice("incident", state.incident_id),
        ]
        try:
            reply = await run_script(self.redis, self._save, keys, args)
        except BaseException:
            self.forget(state.incident_id)  # the save may or may not have happened
            raise
        version = int(reply[0])
        if version == -2:
            self.forget_all()
            raise StoreNotReady(
                f"incident {state.incident_id} not saved: the dispatcher's Redis is being rebuilt"
            )
        if version < 0:
            self.forget(state.incident_id)
            raise StaleState(f"incident {state.incident_id} changed since version {expected_version}")
        state.version = version
        self._remember(state)
        return Saved(version, [str(answer) for answer in reply[1:]])

    # --- rule 7 ------------------------------------------------------------------------------

    async def mark_understaffed(self, incident_id: str, since: datetime, kinds: Sequence[str]) -> None:
        """Understaffed, short of these kinds of need (`unit` or `unit:skill`) and no others."""
        await self._registries(incident_id, since.timestamp(), [self.understaffed_kind_key(k) for k in kinds])

    async def clear_understaffed(self, incident_id: str) -> None:
        await self._registries(incident_id, "", [])

    async def _registries(self, incident_id: str, score: float | str, now: list[str]) -> None:
        """`understaffed.lua` with every key declared: the registries the incident was in are read
        first and checked inside the script (only the partition's owner changes them; a zombie's
        write in between makes it read again)."""
        for _ in range(MARK_ATTEMPTS):
            before = str(await self.redis.hget(self.understaffed_kinds_key, incident_id) or "")
            keys = [self.understaffed_key, self.understaffed_kinds_key, *now]
            keys.extend(k for k in before.split(",") if k)
            args = [incident_id, score, len(now), before]
            if await run_script(self.redis, self._mark, keys, args) != -1:
                return
        raise RuntimeError(f"the understaffed registries of {incident_id} kept changing")

    async def wake_for(
        self, volunteer_ids: Sequence[str], fanout: int, exclude: Iterable[str] = ()
    ) -> list[str]:
        """The understaffed incidents the volunteers (if available) could help — the oldest `fanout`
        per volunteer of each kind of need they are indexed under — that had no retry on its way;
        each now has one flagged. Read, then act: the volunteers' status and geo keys, then the kind
        registries those map to, then `wake_understaffed.lua` with every key it touches declared
        (it checks what was read still holds; read again when not)."""
        vols = list(dict.fromkeys(volunteer_ids))
        skip = [i for i in exclude if i]
        if vols and not await self.redis.zcard(self.understaffed_key):
            return []  # every incident of a kind registry is in this one: nobody waits
        for _ in range(MARK_ATTEMPTS):
            if not vols:
                return []
            keys, args = await self._wake_call(vols, fanout, skip)
            if not args:
                return []
            reply = await run_script(self.redis, self._wake, keys, args)
            if reply != -1:
                return [str(i) for i in reply]
        log.warning("retries of %d freed volunteers not asked: what they could help kept changing", len(vols))
        return []

    async def _wake_call(
        self, vols: list[str], fanout: int, skip: list[str]
    ) -> tuple[list[str], list[str | int]]:
        """`wake_understaffed.lua`'s keys and arguments, read; no arguments when it would wake nobody."""
        vol_keys = [self.keys.volunteer(v) for v in vols]
        flat = await run_script(self.redis, self._rows, vol_keys, ["status", "geo"])
        geo_prefix = RosterKeys(self.prefix).geo("")
        per_kind: dict[str, int] = {}  # geo key → how many available volunteers are indexed under it
        read: list[str] = []
        for status, geo in zip(flat[0::2], flat[1::2], strict=True):
            read.append(str(geo or "") if status == "available" else "")
            for key in filter(None, read[-1].split(",")):
                if key.startswith(geo_prefix):
                    per_kind[key] = per_kind.get(key, 0) + 1
        if not per_kind:
            return [], []
        registries = [self.understaffed_kind_key(k[len(geo_prefix) :]) for k in per_kind]
        async with self.redis.pipeline(transaction=False) as pipe:
            for registry, count in zip(registries, per_kind.values(), strict=True):
                pipe.zrange(registry, 0, fanout * count + len(skip) - 1)
            ranges = await pipe.execute()
        left_out = set(skip)
        ids = [i for i in dict.fromkeys(str(i) for r in ranges for i in r) if i not in left_out]
        if not ids:
            return [], []
        keys = [*vol_keys, *registries, *(self.retry_key(i) for i in ids)]
        args: list[str | int] = [len(vols), len(registries), RETRY_FLAG_TTL_S, fanout, ",".join(skip)]
        return keys, [*args, *read, *per_kind, *ids]

    async def understaffed(self, limit: int = UNDERSTAFFED_LIMIT) -> list[str]:
        return [str(i) for i in await self.redis.zrange(self.understaffed_key, 0, limit - 1)]

    async def claim_retries(self, incident_ids: list[str]) -> list[str]:
        """The incidents that had no retry on its way; each now has one flagged."""
        if not incident_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for incident_id in incident_ids:
                pipe.set(self.retry_key(incident_id), "1", nx=True, ex=RETRY_FLAG_TTL_S)
            flags = await pipe.execute()
        return [i for i, ok in zip(incident_ids, flags, strict=True) if ok]

    async def clear_retry(self, incident_id: str) -> None:
        await self.redis.delete(self.retry_key(incident_id))


class AlertStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.prefix = prefix

    def standby_key(self, thread_id: str) -> str:
        return f"{self.prefix}dsp:standby:{thread_id}"

    async def put(self, view: WeatherAlertView) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.alert(view.alert_id), view.model_dump_json())
            if view.status == "active":
                score = view.expires.timestamp() if view.expires else NO_EXPIRY_SCORE
                pipe.zadd(self.keys.active_alerts, {view.alert_id: score})
            else:
                pipe.zrem(self.keys.active_alerts, view.alert_id)
            await pipe.execute()
        # after the MULTI, not in it: redis-py refuses PUBLISH in a Redis Cluster pipeline
        await self.redis.publish(self.keys.changes, change_notice("alert", view.alert_id))

    async def get(self, alert_id: str) -> WeatherAlertView | None:
        raw = await self.redis.get(self.keys.alert(alert_id))
        return WeatherAlertView.model_validate_json(raw) if raw else None

    async def end(self, alert_id: str, status: str) -> bool:
        """Mark an alert cancelled or expired; False when it is unknown."""
        view = await self.get(alert_id)
        if view is None:
            await self.redis.zrem(self.keys.active_alerts, alert_id)
            return False
        if view.status != status:
            await self.put(view.model_copy(update={"status": status}))
        return True

    async def due(self, now: datetime) -> list[str]:
        return [
            str(i) for i in await self.redis.zrangebyscore(self.keys.active_alerts, "-inf", now.timestamp())
        ]

    async def not_yet_notified(self, thread_id: str, volunteer_ids: list[str]) -> list[str]:
        """The volunteers not yet sent a standby notice for this alert chain."""
        if not volunteer_ids:
            return []
        seen = await self.redis.smismember(self.standby_key(thread_id), volunteer_ids)
        return [vid for vid, was in zip(volunteer_ids, seen, strict=True) if not was]

    async def mark_notified(self, thread_id: str, volunteer_ids: list[str]) -> None:
        if volunteer_ids:
            key = self.standby_key(thread_id)
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.sadd(key, *volunteer_ids)
                pipe.expire(key, STANDBY_MEMORY_S)
                await pipe.execute()
