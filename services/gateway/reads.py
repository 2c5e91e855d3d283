"""Reading the Redis read models (`services.common.readmodels`): the gateway never computes incident
or roster state itself; it shows what the dispatcher and notifier wrote."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas.api import IncidentView, OutboxMessage, VolunteerView, WeatherAlertView
from schemas.events import VolunteerProfile
from schemas.times import parse_time
from schemas.vocabulary import AssignmentStatus, IncidentStatus, VolunteerStatus
from services.common.readmodels import Keys
from services.gateway.errors import StoreUnavailable

log = logging.getLogger(__name__)

OPEN_FILTER = "open"
DEPLOYMENT_WINDOW = timedelta(days=30)
_BATCH = 500


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """Redis failures become a 503 the client can retry."""
    try:
        yield
    except (RedisError, OSError) as exc:
        log.warning("Redis error: %s", exc)
        raise StoreUnavailable() from exc


@dataclass(frozen=True, slots=True)
class OfferRef:
    """`offer:{id}`: which incident and volunteer an offer binds, and where it stands."""

    offer_id: str
    incident_id: str
    volunteer_id: str
    status: AssignmentStatus
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """`vol:{id}`: the profile and the dispatcher's view of the volunteer."""

    profile: VolunteerProfile
    fields: dict[str, str]

    @property
    def link_generation(self) -> int:
        """The generation of the volunteer's self-service links: part of the profile on the
        `volunteers` topic, so revocations survive a roster rebuild."""
        return self.profile.link_generation


def volunteer_view(entry: RosterEntry, now: datetime) -> VolunteerView:
    """The API's view of a roster entry (pure)."""
    p, f = entry.profile, entry.fields
    try:
        status = VolunteerStatus(f.get("status") or "")
    except ValueError:
        status = VolunteerStatus.AVAILABLE if p.on_duty else VolunteerStatus.OFF_DUTY
    deployments: list[datetime] = []
    with contextlib.suppress(ValueError, TypeError):
        deployments = [t for t in (parse_time(str(x)) for x in json.loads(f.get("deployments") or "[]")) if t]
    return VolunteerView(
        id=p.volunteer_id,
        name=p.name,
        phone=p.phone,
        unit=p.unit,
        units=p.units,
        nia=p.nia,
        rank=p.rank,
        skills=p.skills,
        certifications=p.certifications,
        home_kelurahan_code=p.home_kelurahan_code,
        location=p.location,
        channels=p.channels,
        on_duty=p.on_duty,
        language=p.language,
        status=status,
        active_incident_id=f.get("incident_id") or None,
        active_offer_id=f.get("offer_id") or None,
        deployments_30d=sum(1 for t in deployments if now - t <= DEPLOYMENT_WINDOW),
        last_deployed_at=parse_time(f.get("last_deployed_at")),
    )


class ReadModels:
    def __init__(self, redis: Redis, keys: Keys, clock: Callable[[], datetime]) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock

    # --- incidents ----------------------------------------------------------------------------

    async def incident(self, incident_id: str) -> IncidentView | None:
        with store_errors():
            raw = await self.redis.get(self.keys.incident(incident_id))
        return IncidentView.model_validate_json(raw) if raw else None

    async def incidents(self, status: str | None, limit: int) -> list[IncidentView]:
        """Newest first. `status` is an incident status, `open` (every open one) or None (all)."""
        only_open = status == OPEN_FILTER or (status is not None and IncidentStatus(status).is_open)
        index = self.keys.open_incidents if only_open else self.keys.all_incidents
        wanted = None if status in (None, OPEN_FILTER) else IncidentStatus(status)
        items: list[IncidentView] = []
        start = 0
        with store_errors():
            while len(items) < limit:
                ids = cast(list[str], await self.redis.zrevrange(index, start, start + _BATCH - 1))
                if not ids:
                    break
                start += len(ids)
                docs = cast(list[str | None], await self.redis.mget([self.keys.incident(i) for i in ids]))
                for ident, raw in zip(ids, docs, strict=True):
                    view = _incident_or_none(ident, raw)
                    if view is not None and (wanted is None or view.status == wanted):
                        items.append(view)
        return items[:limit]

    # --- offers -------------------------------------------------------------------------------

    async def offer(self, offer_id: str) -> OfferRef | None:
        with store_errors():
            fields = cast(dict[str, str], await self.redis.hgetall(self.keys.offer(offer_id)))
        if not fields or not fields.get("incident_id") or not fields.get("volunteer_id"):
            return None
        try:
            status = AssignmentStatus(fields.get("status", ""))
        except ValueError:
            log.warning("offer %s has an unknown status %r", offer_id, fields.get("status"))
            return None
        return OfferRef(
            offer_id,
            fields["incident_id"],
            fields["volunteer_id"],
            status,
            parse_time(fields.get("expires_at")),
        )

    # --- volunteers ---------------------------------------------------------------------------

    async def roster_entry(self, volunteer_id: str) -> RosterEntry | None:
        with store_errors():
            fields = cast(dict[str, str], await self.redis.hgetall(self.keys.volunteer(volunteer_id)))
        return _entry_or_none(volunteer_id, fields)

    async def volunteer(self, volunteer_id: str) -> VolunteerView | None:
        entry = await self.roster_entry(volunteer_id)
        return volunteer_view(entry, self.clock()) if entry else None

    async def volunteer_ids(self) -> list[str]:
        with store_errors():
            members = cast(set[str], await self.redis.smembers(self.keys.volunteers))
        return sorted(members)

    async def exists(self, volunteer_ids: list[str]) -> list[bool]:
        if not volunteer_ids:
            return []
        with store_errors():
            flags = await self.redis.smismember(self.keys.volunteers, volunteer_ids)
        return [bool(f) for f in flags]

    async def roster(self, ids: list[str] | None = None) -> list[RosterEntry]:
        """Every roster entry (or those of `ids`), in id order, fetched in pipelined batches."""
        ids = await self.volunteer_ids() if ids is None else ids
        entries: list[RosterEntry] = []
        with store_errors():
            for i in range(0, len(ids), _BATCH):
                chunk = ids[i : i + _BATCH]
                pipe = self.redis.pipeline(transaction=False)
                for ident in chunk:
                    pipe.hgetall(self.keys.volunteer(ident))
                for ident, fields in zip(chunk, await pipe.execute(), strict=True):
                    entry = _entry_or_none(ident, fields)
                    if entry is not None:
                        entries.append(entry)
        return entries

    async def volunteers(
        self,
        *,
        unit: str | None = None,
        status: str | None = None,
        kelurahan_code: str | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[VolunteerView]:
        """In id order. Without filters only the requested page is read; a filter reads the roster in
        pipelined batches (one round trip per 500 volunteers)."""
        now = self.clock()
        ids = await self.volunteer_ids()
        if not (unit or status or kelurahan_code):
            return [volunteer_view(e, now) for e in await self.roster(ids[offset : offset + limit])]
        views = []
        for entry in await self.roster(ids):
            if unit and unit not in entry.profile.units:
                continue
            if kelurahan_code and entry.profile.home_kelurahan_code != kelurahan_code:
                continue
            view = volunteer_view(entry, now)
            if status and view.status != status:
                continue
            views.append(view)
        return views[offset : offset + limit]

    # --- outbox and alerts --------------------------------------------------------------------

    async def outbox(self, volunteer_id: str | None, limit: int) -> list[OutboxMessage]:
        key = self.keys.volunteer_outbox(volunteer_id) if volunteer_id else self.keys.outbox
        with store_errors():
            raws = await self.redis.lrange(key, 0, limit - 1)
        items = []
        for raw in raws:
            try:
                items.append(OutboxMessage.model_validate_json(raw))
            except ValidationError as exc:
                log.warning("skipping an unreadable outbox message: %s", exc.error_count())
        return items

    async def alerts(self, limit: int = 50) -> list[WeatherAlertView]:
        """Active weather alerts, soonest-expiring first."""
        with store_errors():
            ids = cast(list[str], await self.redis.zrange(self.keys.active_alerts, 0, limit - 1))
            views = await alert_views(self.redis, self.keys, ids)
        return [view for view in views if view.status == "active"]

    async def alert(self, alert_id: str) -> WeatherAlertView | None:
        with store_errors():
            raw = await self.redis.get(self.keys.alert(alert_id))
        return WeatherAlertView.model_validate_json(raw) if raw else None


async def alert_views(redis: Redis, keys: Keys, ids: list[str]) -> list[WeatherAlertView]:
    """The alerts' read models (`alert:{id}`, written by the dispatcher) in the order of `ids`; missing
    and unreadable ones left out."""
    raws = cast(list[str | None], await redis.mget([keys.alert(i) for i in ids]) if ids else [])
    views = []
    for ident, raw in zip(ids, raws, strict=True):
        if raw is None:
            continue
        try:
            views.append(WeatherAlertView.model_validate_json(raw))
        except ValidationError as exc:
            log.warning("skipping unreadable alert read model %s: %d errors", ident, exc.error_count())
    return views


def _incident_or_none(ident: str, raw: str | None) -> IncidentView | None:
    if raw is None:
        return None
    try:
        return IncidentView.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("skipping unreadable incident %s: %s", ident, exc.error_count())
        return None


def _entry_or_none(ident: str, fields: dict[str, Any]) -> RosterEntry | None:
    raw = fields.get("profile") if fields else None
    if not raw:
        return None
    try:
        return RosterEntry(VolunteerProfile.model_validate_json(raw), fields)
    except ValidationError as exc:
        log.warning("skipping unreadable roster entry %s: %s", ident, exc.error_count())
        return None
