"""The roster in Redis: volunteers, their status, the geo index used for matching, reservations.

Materialised from the compacted `volunteers` topic (every event carries the whole profile). Every
change of a volunteer's status is one Lua script (the `.lua` files beside this module), so "at most
one active offer or assignment per volunteer" (rule 4) holds across incidents, partitions, worker
processes and redelivered events.

Keys, under `SIGAP_REDIS_PREFIX` — the gateway's contract (`services.common.readmodels`):
`vol:{id}` hash (`profile`, `status`, `incident_id`, `offer_id`, `deployments`, `last_deployed_at`,
`resting_until`) and the `volunteers` set. The dispatcher's own keys, under `dsp:`: `geo:{unit}` and
`geo:{unit}:{skill}` (available volunteers only), `kel:{unit}:{kelurahan}` (standby index),
`deadlines` (offer expiry), `resting`. Extra `vol:` fields the scripts use: `on_duty`, `lat`, `lon`,
`unit`, `geo`, `kel`, `profile_at`, `rest_ts`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis, RedisCluster
from redis.commands.core import AsyncScript

from schemas.errors import SigapError
from schemas.events import VolunteerProfile
from schemas.fields import GeoPoint
from schemas.times import parse_time
from schemas.vocabulary import AssignmentStatus, Skill, Unit, VolunteerStatus
from services.common.readmodels import Keys, change_notice
from services.common.redis import load_script, run_script
from services.dispatcher.candidates import ROW_FIELDS, Ring, candidate_of
from services.dispatcher.ranking import FAIRNESS_WINDOW, Candidate
from services.dispatcher.roster_checks import (
    CHECK_ATTEMPTS,
    Indexes,
    IndexesChanging,
    read_indexes,
    stale_indexes,
)
from services.dispatcher.roster_keys import SCRIPTS, RosterKeys, iso
from services.dispatcher.roster_profiles import ProfileChange, apply_call, geo_keys

log = logging.getLogger(__name__)

__all__ = [  # what moved to `candidates`, `roster_keys`, `roster_profiles`, importable from here
    "SCRIPTS",
    "IndexesChanging",
    "ProfileChange",
    "Ring",
    "RosterKeys",
    "iso",
    "parse_time",
]


class StoreNotReady(SigapError, RuntimeError):
    """Redis has no generation marker: it was lost (or never built) and is being rebuilt from the
    topics (`services.dispatcher.rebuild`). Nothing was changed; try again once it is back."""

    retriable = True


@dataclass(frozen=True, slots=True)
class Hold:
    """A volunteer's status as the roster has it."""

    status: VolunteerStatus | None
    incident_id: str | None
    offer_id: str | None


class Roster:
    def __init__(self, redis: Redis, prefix: str, *, guarded: bool = False) -> None:
        """`guarded`: candidate searches refuse (`StoreNotReady`) while the generation marker is
        missing, so a worker never dispatches against a lost roster (the workers run guarded)."""
        self.redis = redis
        self.keys = Keys(prefix)
        self.own = RosterKeys(prefix)
        self.guarded = guarded
        self._scripts: dict[str, AsyncScript] = {
            name: load_script(redis, SCRIPTS, name)
            for name in (
                "apply_profile",
                "remove_volunteer",
                "reserve",
                "confirm",
                "reclaim",
                "free",
                "claim_due",
                "wake_rested",
                "search",
                "reserve_ranked",
                "read_rows",
            )
        }

    async def _run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await run_script(self.redis, self._scripts[name], keys, args)

    def _notice(self, volunteer_id: str) -> tuple[str, str]:
        return self.keys.changes, change_notice("volunteer", volunteer_id)

    async def _indexes(self, volunteer_ids: Sequence[str]) -> list[Indexes]:
        """The indexes each volunteer's hash lists (`geo`, `kel`), in one round trip."""
        keys = [self.keys.volunteer(v) for v in volunteer_ids]
        return await read_indexes(self.redis, self._scripts["read_rows"], keys)

    async def _checked(
        self,
        name: str,
        volunteer_id: str,
        call: Callable[[Indexes], tuple[list[str], list[Any]]],
        known: Indexes | None = None,
    ) -> Any:
        """Run the script `name` with the keys and arguments `call` makes of the volunteer's indexes,
        read first (or `known`); again with the ones it answers while it finds them changed
        (`roster_checks`)."""
        indexes = known if known is not None else (await self._indexes([volunteer_id]))[0]
        for _ in range(CHECK_ATTEMPTS):
            keys, args = call(indexes)
            reply = await self._run(name, keys, args)
            stale = stale_indexes(reply)
            if stale is None:
                return reply
            indexes = stale
        raise IndexesChanging(f"the indexes of volunteer {volunteer_id} kept changing ({name})")

    # --- materialising the topic ------------------------------------------------------------

    def geo_keys(self, profile: VolunteerProfile) -> list[str]:
        """Every index the volunteer is in while available (`roster_profiles.geo_keys`)."""
        return geo_keys(self.own, profile)

    async def apply(
        self,
        profile: VolunteerProfile,
        *,
        event_at: datetime,
        now: datetime,
        on_duty: bool | None = None,
        location: GeoPoint | None = None,
    ) -> int:
        """Apply a profile (registered / updated / duty changed). 1 when the volunteer just became
        available, 0 otherwise, -1 when the event was older than what the roster already has."""
        return (await self.apply_many([ProfileChange(profile, event_at, on_duty, location)], now))[0]

    async def apply_many(self, changes: Sequence[ProfileChange], now: datetime) -> list[int]:
        """Apply several profiles in two round trips: the indexes each hash lists now, then the
        scripts (each still atomic, each checking those indexes; one that changed meanwhile — an
        earlier change of the same volunteer in `changes` — is applied again on its own)."""
        if not changes:
            return []
        script = self._scripts["apply_profile"]
        before = await self._indexes([change.profile.volunteer_id for change in changes])
        if isinstance(self.redis, RedisCluster):
            # redis-py refuses scripts in a cluster pipeline; one after another: sent concurrently,
            # redis-py 8.1's async cluster client now and then failed a command on a connection it
            # was still opening ('NoneType' object has no attribute 'writelines')
            return [
                int(await self._checked("apply_profile", c.profile.volunteer_id, self._applying(c, now), b))
                for c, b in zip(changes, before, strict=True)
            ]
        async with self.redis.pipeline(transaction=False) as pipe:
            for change, indexes in zip(changes, before, strict=True):
                keys, args = apply_call(self.keys, self.own, change, now, indexes)
                await script(keys=keys, args=args, client=pipe)
            results = await pipe.execute()
        out = []
        for change, result in zip(changes, results, strict=True):
            stale = stale_indexes(result)
            vid = change.profile.volunteer_id
            reply = (
                result
                if stale is None
                else await self._checked("apply_profile", vid, self._applying(change, now), stale)
            )
            out.append(int(reply))
        return out

    def _applying(
        self, change: ProfileChange, now: datetime
    ) -> Callable[[Indexes], tuple[list[str], list[Any]]]:
        return partial(apply_call, self.keys, self.own, change, now)

    async def remove(self, volunteer_id: str) -> None:
        def call(indexes: Indexes) -> tuple[list[str], list[Any]]:
            keys = [self.keys.volunteer(volunteer_id), self.keys.volunteers, self.own.resting]
            keys += [*indexes.geo_keys, *indexes.kel_keys]
            return keys, [volunteer_id, *self._notice(volunteer_id), len(indexes.geo_keys)]

        await self._checked("remove_volunteer", volunteer_id, call)

    # --- holds (rule 4) ---------------------------------------------------------------------

    async def reserve(
        self, volunteer_id: str, offer_id: str, incident_id: str, expires_at: datetime, now: datetime
    ) -> bool:
        args = [
            volunteer_id,
            offer_id,
            incident_id,
            expires_at.timestamp(),
            iso(expires_at),
            now.timestamp(),
            *self._notice(volunteer_id),
        ]

        def call(indexes: Indexes) -> tuple[list[str], list[Any]]:
            keys = [self.keys.volunteer(volunteer_id), self.keys.offer(offer_id), self.own.deadlines]
            return [*keys, *indexes.geo_keys], args

        return bool(await self._checked("reserve", volunteer_id, call))

    async def confirm(self, volunteer_id: str, offer_id: str, now: datetime) -> bool:
        result = await self._run(
            "confirm",
            [self.keys.volunteer(volunteer_id), self.keys.offer(offer_id), self.own.deadlines],
            [offer_id, iso(now), iso(now - FAIRNESS_WINDOW), *self._notice(volunteer_id)],
        )
        return bool(result)

    async def reclaim(self, volunteer_id: str, offer_id: str, incident_id: str, now: datetime) -> bool:
        args = [
            volunteer_id,
            offer_id,
            incident_id,
            iso(now),
            iso(now - FAIRNESS_WINDOW),
            now.timestamp(),
            *self._notice(volunteer_id),
        ]

        def call(indexes: Indexes) -> tuple[list[str], list[Any]]:
            keys = [self.keys.volunteer(volunteer_id), self.keys.offer(offer_id), *indexes.geo_keys]
            return keys, args

        return bool(await self._checked("reclaim", volunteer_id, call))

    async def free(
        self,
        volunteer_id: str,
        offer_id: str,
        offer_status: AssignmentStatus,
        now: datetime,
        resting_until: datetime | None = None,
        *,
        profiles: dict[str, str] | None = None,
    ) -> bool:
        """End the hold on `offer_id`; True when the volunteer is available again. The volunteer's
        profile JSON, read by the script, goes into `profiles` when given."""
        args = [
            volunteer_id,
            offer_id,
            offer_status.value,
            resting_until.timestamp() if resting_until else "",
            iso(resting_until) if resting_until else "",
            now.timestamp(),
            *self._notice(volunteer_id),
        ]

        def call(indexes: Indexes) -> tuple[list[str], list[Any]]:
            keys = [self.keys.volunteer(volunteer_id), self.keys.offer(offer_id)]
            return [*keys, self.own.deadlines, self.own.resting, *indexes.geo_keys], args

        code, profile = await self._checked("free", volunteer_id, call)
        if profiles is not None and profile:
            profiles[volunteer_id] = str(profile)
        return int(code) == 1

    async def set_offer_status(self, offer_id: str, status: AssignmentStatus) -> None:
        await self.redis.hset(self.keys.offer(offer_id), "status", status.value)

    async def forget_deadline(self, offer_id: str) -> None:
        await self.redis.zrem(self.own.deadlines, offer_id)

    async def claim_due_offers(
        self, now: datetime, lease: timedelta, limit: int = 200
    ) -> list[tuple[str, str, str]]:
        """(offer id, incident id, volunteer id) of offers past their deadline, leased to the caller:
        the due ones read, then claimed by a script that passes over those claimed meanwhile."""
        due = [str(o) for o in await self._due(self.own.deadlines, now, limit)]
        if not due:
            return []
        flat = await self._run(
            "claim_due",
            [self.own.deadlines, *(self.keys.offer(o) for o in due)],
            [now.timestamp(), (now + lease).timestamp(), *due],
        )
        return [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]

    async def hand_back_offers(self, offer_ids: list[str], now: datetime) -> None:
        """Offers claimed by a worker that does not own their incident: due again at once (XX: one
        that ended meanwhile, its deadline forgotten, stays off the schedule)."""
        await self.redis.zadd(self.own.deadlines, dict.fromkeys(offer_ids, now.timestamp()), xx=True)

    async def wake_rested(self, now: datetime, limit: int = 500) -> list[str]:
        """The volunteers whose rest is over, available again: the due ones and their geo keys read,
        then woken by a script that checks both (one whose geo keys changed meanwhile is read again)."""
        due = [str(v) for v in await self._due(self.own.resting, now, limit)]
        woken: list[str] = []
        for _ in range(CHECK_ATTEMPTS):
            if not due:
                return woken
            keys, args = [self.own.resting], [now.timestamp(), self.keys.changes]
            for vid, indexes in zip(due, await self._indexes(due), strict=True):
                keys += [self.keys.volunteer(vid), *indexes.geo_keys]
                args += [vid, len(indexes.geo_keys)]
            now_woken, due = await self._run("wake_rested", keys, args)
            woken += [str(v) for v in now_woken]
        log.warning("%d rested volunteers left for the next tick: their geo keys kept changing", len(due))
        return woken

    async def _due(self, schedule: str, now: datetime, limit: int) -> list[Any]:
        return list(await self.redis.zrangebyscore(schedule, "-inf", now.timestamp(), start=0, num=limit))

    # --- reading ----------------------------------------------------------------------------

    async def search(
        self, unit: Unit, skill: Skill | None, where: GeoPoint, radius_km: float, count: int
    ) -> list[str]:
        """Available volunteers of the unit (and skill) within the radius, nearest first, at most `count`."""
        found = await self.redis.geosearch(
            self.own.geo(unit, skill),
            longitude=where.lon,
            latitude=where.lat,
            radius=radius_km,
            unit="km",
            sort="ASC",
            count=count,
        )
        return [str(v) for v in found]

    async def nearest(
        self,
        unit: Unit,
        skill: Skill | None,
        where: GeoPoint,
        radius_km: float,
        *,
        count: int,
        skip: Iterable[str] = (),
        from_km: float | None = None,
        unless_offered: Sequence[str] = (),
        unless_state: str | None = None,
    ) -> Ring:
        """One ring: up to `count` nearest available volunteers of the unit (and skill) within the
        radius (`search.lua`, searched outwards from `from_km`, doubling: the same answer as the whole
        ring), leaving out `skip`, read for ranking in a second, pipelined round trip; `Ring.found`
        tells whether the ring is exhausted. Nothing is searched when one of `unless_offered` exists
        (`Ring.offers_exist`), nor when the key `unless_state` exists (`Ring.state_exists`). Nothing is
        ranked or reserved here: `ranking.py` ranks, `reserve_ranked` reserves."""
        keys = [self.own.geo(unit, skill), *(self.keys.offer(o) for o in unless_offered)]
        if unless_state is not None:
            keys.append(unless_state)
        flags = "1" if unless_state is not None else "0"
        if self.guarded:
            keys.append(self.own.generation)
            flags += "g"
        flat = await self._run(
            "search",
            keys,
            [
                repr(where.lon),
                repr(where.lat),
                radius_km,
                count,
                from_km if from_km is not None else radius_km,
                flags,
            ],
        )
        if flat and flat[0] == "~":
            raise StoreNotReady("no generation marker: the dispatcher's Redis is being rebuilt")
        if flat and flat[0] == "?":
            return Ring([], 0, {}, state_exists=True)
        if flat and flat[0] == "!":
            return Ring([], 0, {}, offers_exist=True)
        left_out = set(skip)
        ids = [str(v) for v in flat[1:] if str(v) not in left_out]
        out: list[Candidate] = []
        profiles: dict[str, str] = {}
        geo: dict[str, tuple[str, ...]] = {}
        for vid, row in zip(ids, await self._rows(ids), strict=True):
            candidate = candidate_of(vid, row, where)
            if candidate is not None:
                out.append(candidate)
                profiles[vid] = str(row[0])
                geo[vid] = tuple(k for k in (row[9] or "").split(",") if k)
        return Ring(out, int(str(flat[0]).lstrip("#")), profiles, geo=geo)

    async def reserve_ranked(
        self,
        ranked: Sequence[Candidate],
        ring: Ring,
        *,
        offer_ids: Sequence[str],
        incident_id: str,
        expires_at: datetime,
        now: datetime,
    ) -> list[str]:
        """Reserve for `offer_ids`, in order, the first of `ranked` (candidates of `ring`, in
        `ranking.rank`'s order) still free, in one script (`reserve_ranked.lua`); the ids reserved, for
        the first offer ids in order. One taken since the ring was read is passed over."""
        if not offer_ids or not ranked:
            return []
        before, _, after = change_notice("volunteer", "@id@").partition("@id@")  # ids have no @
        keys = [self.own.deadlines, *(self.keys.offer(o) for o in offer_ids)]
        args: list[str | float | int] = [
            len(offer_ids),
            incident_id,
            expires_at.timestamp(),
            iso(expires_at),
            now.timestamp(),
            self.keys.changes,
            before,
            after,
            *offer_ids,
        ]
        for candidate in ranked:
            geo = ring.geo.get(candidate.volunteer_id, ())
            keys += [self.keys.volunteer(candidate.volunteer_id), *geo]
            args += [candidate.volunteer_id, len(geo)]
        return [str(v) for v in await self._run("reserve_ranked", keys, args)]

    async def _rows(self, volunteer_ids: Sequence[str]) -> list[list[str | None]]:
        """The `candidates.ROW_FIELDS` of each volunteer, in one round trip (`read_rows.lua`)."""
        if not volunteer_ids:
            return []
        keys = [self.keys.volunteer(vid) for vid in volunteer_ids]
        flat = await self._run("read_rows", keys, ROW_FIELDS)
        n = len(ROW_FIELDS)
        return [[v or None for v in flat[i : i + n]] for i in range(0, len(flat), n)]

    async def candidates(self, volunteer_ids: Sequence[str], where: GeoPoint) -> list[Candidate]:
        """The volunteers as ranking sees them; distance is great-circle from `where`."""
        rows = await self._rows(volunteer_ids)
        found = (candidate_of(vid, row, where) for vid, row in zip(volunteer_ids, rows, strict=True))
        return [c for c in found if c is not None]

    async def profile(self, volunteer_id: str) -> VolunteerProfile | None:
        raw = await self.redis.hget(self.keys.volunteer(volunteer_id), "profile")
        if not raw:
            return None
        try:
            return VolunteerProfile.model_validate_json(raw)
        except ValidationError:
            log.exception("roster profile of %s is unreadable", volunteer_id)
            return None

    async def profiles(self, volunteer_ids: Iterable[str]) -> dict[str, tuple[VolunteerProfile, str]]:
        """Profile and status of each volunteer that has one."""
        ids = list(volunteer_ids)
        async with self.redis.pipeline(transaction=False) as pipe:
            for vid in ids:
                pipe.hmget(self.keys.volunteer(vid), "profile", "status")
            rows = await pipe.execute()
        out: dict[str, tuple[VolunteerProfile, str]] = {}
        for vid, (raw, status) in zip(ids, rows, strict=True):
            if raw:
                try:
                    out[vid] = (VolunteerProfile.model_validate_json(raw), status or "")
                except ValidationError:
                    log.exception("roster profile of %s is unreadable", vid)
        return out

    async def in_kelurahan(self, unit: Unit, codes: Iterable[str]) -> set[str]:
        keys = [self.own.kelurahan(unit, code) for code in codes]
        if not keys:
            return set()
        return {str(v) for v in await self.redis.sunion(keys)}

    async def hold(self, volunteer_id: str) -> Hold:
        status, incident_id, offer_id = await self._hmget(
            self.keys.volunteer(volunteer_id), "status", "incident_id", "offer_id"
        )
        return Hold(VolunteerStatus(status) if status else None, incident_id or None, offer_id or None)

    async def offer(self, offer_id: str) -> dict[str, str | None]:
        """The offer's read model: `incident_id`, `volunteer_id`, `status`, `expires_at`."""
        names = ("incident_id", "volunteer_id", "status", "expires_at")
        return dict(zip(names, await self._hmget(self.keys.offer(offer_id), *names), strict=True))

    async def _hmget(self, key: str, *names: str) -> list[str | None]:
        values = await self.redis.hmget(key, list(names))
        return [v.decode() if isinstance(v, bytes) else v for v in values]
