"""What the dispatcher knows of one incident (`IncidentState`, its needs and assignments) and the rules
`decide` applies (`Policy`). Pure data; `services.dispatcher.incident` re-exports these names."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from schemas.api import AssessmentView, TimelineEntry
from schemas.events import Need, OfferMode
from schemas.fields import GeoPoint
from schemas.vocabulary import (
    AssignmentStatus,
    IncidentStatus,
    IncidentType,
    Severity,
    Skill,
    Unit,
)
from services.common.wording import role
from services.dispatcher.assessment import AssessmentRules
from services.dispatcher.runcards import RunCards

MAX_PROCESSED = 300
"""Event ids remembered per incident (rule 9); far more than one incident's redelivery window."""
MAX_TIMELINE = 2000

A = AssignmentStatus
FILLED = frozenset({A.ACCEPTED, A.EN_ROUTE, A.ON_SCENE, A.RELEASED})
HOLDING = frozenset({A.OFFERED, A.ACCEPTED, A.EN_ROUTE, A.ON_SCENE})
_PROGRESS = {A.ACCEPTED: 0, A.EN_ROUTE: 1, A.ON_SCENE: 2, A.RELEASED: 3}


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules `decide` applies, read once at start (run-card file + settings)."""

    runcards: RunCards
    max_radius_km: float = 25.0
    offer_ttl_override_s: float | None = None
    rest_after: timedelta = timedelta(hours=4)
    rest_for: timedelta = timedelta(hours=8)
    assessment: AssessmentRules | None = None
    """what a kaji cepat adds to the needs (None: an assessment is recorded, the needs stay)"""

    def offer_ttl(self, severity: Severity) -> timedelta:
        seconds = self.offer_ttl_override_s or self.runcards.offer_ttl_s[severity]
        return timedelta(seconds=seconds)


# --- state ------------------------------------------------------------------------------------


class NeedState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: Unit
    skill: Skill | None = None
    count: int
    exhausted: bool = Field(default=False, description="the last search ran out of candidates")
    base: int | None = Field(
        default=None, description="the run card's (or posted) count once an assessment changed it"
    )

    def as_need(self) -> Need:
        return Need(unit=self.unit, skill=self.skill, count=self.count)

    def describe(self) -> str:
        return f"{self.unit.value}/{self.skill.value}" if self.skill else self.unit.value

    def role(self) -> str:
        """`Tagana — Penyelamatan di air`: the need as the ops room reads it."""
        return role(self.unit, self.skill)

    @property
    def kind(self) -> str:
        """`unit` or `unit:skill`: the suffix of the roster's geo index this need searches."""
        return f"{self.unit.value}:{self.skill.value}" if self.skill else self.unit.value


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offer_id: str
    volunteer_id: str
    volunteer_name: str = ""
    need_index: int
    unit: Unit
    skill: Skill | None = None
    status: AssignmentStatus = A.OFFERED
    distance_km: float
    offered_at: datetime
    expires_at: datetime
    responded_at: datetime | None = None
    accepted_at: datetime | None = None
    delivered_at: datetime | None = None
    updated_at: datetime
    via: str | None = None


class NeedCounts(NamedTuple):
    filled: int
    offered: int
    open: int


class IncidentState(BaseModel):
    """Everything the dispatcher knows of one incident; kept per incident by its partition's owner."""

    model_config = ConfigDict(extra="forbid")

    incident_id: str
    type: IncidentType
    severity: Severity
    title: str
    description: str = ""
    location: GeoPoint
    kelurahan_code: str
    affected_people: int | None = None
    from_alert_id: str | None = None
    status: IncidentStatus
    reported_at: datetime
    updated_at: datetime
    needs: list[NeedState]
    assignments: list[Assignment] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    offer_seq: int = 0
    offer_mode: OfferMode = "one_per_slot"
    broadcast_factor: float = 1.0
    understaffed_episode: int = 0
    processed: list[str] = Field(default_factory=list)
    version: int = 0
    assessment: AssessmentView | None = None
    assessments: int = 0

    def counts(self, need_index: int) -> NeedCounts:
        filled = offered = 0
        for a in self.assignments:
            if a.need_index == need_index:
                filled += a.status in FILLED
                offered += a.status == A.OFFERED
        return NeedCounts(filled, offered, max(0, self.needs[need_index].count - filled - offered))

    def open_slots(self) -> int:
        return sum(self.counts(i).open for i in range(len(self.needs)))

    def offer_room(self, need_index: int) -> int:
        """How many more offers a need may have out now. One per slot: its open slots (rule 6). A
        broadcast (issue 18): up to `broadcast_factor` × its unfilled slots outstanding at once; the first
        answers fill the slots, the rest are withdrawn as filled, so accepted never exceed the count."""
        c = self.counts(need_index)
        if self.offer_mode != "broadcast":
            return c.open
        unfilled = self.needs[need_index].count - c.filled
        if unfilled <= 0:
            return 0
        return max(0, math.ceil(unfilled * self.broadcast_factor - 1e-9) - c.offered)

    def assignment(self, offer_id: str) -> Assignment | None:
        return next((a for a in self.assignments if a.offer_id == offer_id), None)

    @property
    def excluded(self) -> frozenset[str]:
        """Everyone already offered this incident: never offered it again (rule 5)."""
        return frozenset(a.volunteer_id for a in self.assignments)


def offer_id_for(incident_id: str, seq: int) -> str:
    """Deterministic, so a redelivered event reserves under the same ids (rule 9)."""
    return "of-" + hashlib.blake2b(f"{incident_id}/{seq}".encode(), digest_size=10).hexdigest()
