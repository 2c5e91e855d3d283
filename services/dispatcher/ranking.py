"""Who may be offered a need (rule 2, candidates) and in which order (rule 3).

Pure: the roster adapter reads volunteers into `Candidate`s; these functions decide.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from schemas.events import Need
from schemas.times import WIB
from schemas.vocabulary import Skill, Unit, VolunteerStatus

FAIRNESS_WINDOW = timedelta(days=30)
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A volunteer found near an incident, with what eligibility and ranking look at."""

    volunteer_id: str
    name: str
    unit: Unit
    distance_km: float
    units: frozenset[Unit] = frozenset()
    """all the volunteer's units (empty: `unit` alone)"""
    skills: frozenset[Skill] = frozenset()
    certifications: Mapping[Skill, date] = field(default_factory=dict)
    on_duty: bool = True
    active: bool = True
    status: VolunteerStatus = VolunteerStatus.AVAILABLE
    holds_offer: bool = False
    resting_until: datetime | None = None
    deployments: tuple[datetime, ...] = ()
    last_deployed_at: datetime | None = None

    def deployments_since(self, since: datetime) -> int:
        return sum(1 for at in self.deployments if at >= since)


def certified(candidate: Candidate, skill: Skill, now: datetime) -> bool:
    """Holds a certification for `skill` valid on today's local date (valid through `expires_on`)."""
    expires_on = candidate.certifications.get(skill)
    return expires_on is not None and now.astimezone(WIB).date() <= expires_on


def ineligibility(
    candidate: Candidate,
    need: Need,
    now: datetime,
    *,
    certification_required: Collection[Skill] = (),
    excluded: Collection[str] = (),
) -> str | None:
    """Why this volunteer may not be offered this need now (rule 2), or None when they may."""
    if candidate.volunteer_id in excluded:
        return "already offered this incident"
    if not (candidate.active and candidate.on_duty):
        return "off duty"
    if need.unit != candidate.unit and need.unit not in candidate.units:
        return f"unit {candidate.unit}"
    if need.skill is not None:
        if need.skill not in candidate.skills:
            return f"lacks {need.skill}"
        if need.skill in certification_required and not certified(candidate, need.skill, now):
            return f"no valid {need.skill} certification"
    if candidate.resting_until is not None and candidate.resting_until > now:
        return "resting"
    if candidate.status != VolunteerStatus.AVAILABLE or candidate.holds_offer:
        return f"busy ({candidate.status})"
    return None


def eligible(
    candidate: Candidate,
    need: Need,
    now: datetime,
    *,
    certification_required: Collection[Skill] = (),
    excluded: Collection[str] = (),
) -> bool:
    return (
        ineligibility(candidate, need, now, certification_required=certification_required, excluded=excluded)
        is None
    )


def rank_key(candidate: Candidate, now: datetime, resolution_km: float) -> tuple[float, int, datetime, str]:
    """Nearest first (distances within `resolution_km` of each other tie), then fewer deployments in
    the last 30 days, then the longest since the last deployment (never deployed comes first); the
    volunteer id makes the order total, so two workers rank alike."""
    distance = (
        math.floor(candidate.distance_km / resolution_km) if resolution_km > 0 else candidate.distance_km
    )
    return (
        distance,
        candidate.deployments_since(now - FAIRNESS_WINDOW),
        candidate.last_deployed_at or _NEVER,
        candidate.volunteer_id,
    )


def rank(candidates: Iterable[Candidate], now: datetime, resolution_km: float = 0.0) -> list[Candidate]:
    """Candidates in offer order (rule 3)."""
    return sorted(candidates, key=lambda c: rank_key(c, now, resolution_km))
