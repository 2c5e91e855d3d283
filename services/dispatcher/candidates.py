"""Candidates as the roster holds them: one ring of the search, and the roster rows read for ranking.

The roster (`roster.Roster.nearest`) finds a ring's volunteers with `search.lua` (only the geo index:
every key a script touches is in its KEYS), reads their hashes in one pipelined round trip, and turns
each row into a `ranking.Candidate` here. Ranking itself is `ranking.py`'s alone; the reservation of
the first ones still free is `reserve_ranked.lua` (`Roster.reserve_ranked`).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import NamedTuple

import orjson

from schemas import reference
from schemas.fields import GeoPoint
from schemas.times import parse_time
from schemas.vocabulary import Skill, Unit, VolunteerStatus
from services.dispatcher.ranking import Candidate

log = logging.getLogger(__name__)

ROW_FIELDS = (
    "profile",
    "status",
    "offer_id",
    "on_duty",
    "lat",
    "lon",
    "rest_ts",
    "deployments",
    "last_deployed_at",
    "geo",
)
"""The `vol:{id}` fields read for a candidate (`candidate_of`); `geo` is the list of geo keys the
volunteer is indexed under, which the reservation must declare."""


class Ring(NamedTuple):
    """One ring of the candidate search (`Roster.nearest`)."""

    candidates: list[Candidate]
    found: int
    """how many the geo search found, left-out volunteers included"""
    profiles: dict[str, str]
    """volunteer id → the profile JSON the candidate was read from"""
    offers_exist: bool = False
    state_exists: bool = False
    """the key `unless_state` exists: nothing was searched (the caller loads the state instead)"""
    geo: dict[str, tuple[str, ...]] = {}  # noqa: RUF012 - a NamedTuple default, never mutated
    """volunteer id → the geo keys they were indexed under when read (`reserve_ranked` declares them)"""


class _Standing(NamedTuple):
    """What a candidate's profile says (its JSON parsed once, `_standing`)."""

    name: str
    unit: Unit
    units: frozenset[Unit]
    skills: frozenset[Skill]
    certifications: dict[Skill, date]
    active: bool


@lru_cache(maxsize=8192)
def _standing(raw: str, vid: str) -> _Standing:
    """A profile changes far less often than it is searched: the same JSON is parsed once."""
    profile = orjson.loads(raw)
    certifications: dict[Skill, date] = {}
    for cert in profile.get("certifications", []):
        skill, expires_on = Skill(cert["skill"]), date.fromisoformat(cert["expires_on"])
        certifications[skill] = max(expires_on, certifications.get(skill, expires_on))
    return _Standing(
        name=profile.get("name", vid),
        unit=Unit(profile["unit"]),
        units=frozenset(Unit(u) for u in profile.get("units") or [profile["unit"]]),
        skills=frozenset(Skill(s) for s in profile.get("skills", [])),
        certifications=certifications,
        active=bool(profile.get("active", True)),
    )


@lru_cache(maxsize=8192)
def _deployments(text: str) -> tuple[datetime, ...]:
    return tuple(t for t in (parse_time(x) for x in orjson.loads(text)) if t)


def candidate_of(vid: str, row: list[str | None], where: GeoPoint) -> Candidate | None:
    """The candidate of one row of `ROW_FIELDS` (None when the row cannot be ranked: no profile or
    position, or unreadable); distance is great-circle from `where` to the volunteer's own position."""
    raw, status, offer_id, on_duty, lat, lon, rest_ts, deployments, last = row[:9]
    if not raw or lat is None or lon is None:
        return None
    try:
        standing = _standing(raw, vid)
        return Candidate(
            volunteer_id=vid,
            name=standing.name,
            unit=standing.unit,
            units=standing.units,
            distance_km=reference.haversine_km(where.lat, where.lon, float(lat), float(lon)),
            skills=standing.skills,
            certifications=standing.certifications,
            on_duty=on_duty == "1",
            active=standing.active,
            status=VolunteerStatus(status) if status else VolunteerStatus.OFF_DUTY,
            holds_offer=bool(offer_id),
            resting_until=datetime.fromtimestamp(float(rest_ts), UTC) if rest_ts else None,
            deployments=_deployments(deployments) if deployments else (),
            last_deployed_at=parse_time(last),
        )
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        log.exception("roster entry of %s is unreadable; skipped", vid)
        return None
