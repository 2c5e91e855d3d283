"""A pure stand-in for the dispatcher's adapters, so the state machine can be driven end to end in
unit tests: volunteers at fixed distances, reservations that honour rule 4, commands recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from schemas.envelope import Envelope, make_event
from schemas.events import IncidentReported, Need, Payload
from schemas.fields import GeoPoint
from schemas.vocabulary import IncidentType, Severity, Skill, Unit
from services.dispatcher.assessment import load_assessment_rules
from services.dispatcher.commands import (
    CandidatesFound,
    Command,
    ConfirmAssignment,
    FindCandidates,
    FreeVolunteer,
    Reclaim,
    Reclaimed,
    Reservation,
)
from services.dispatcher.incident import IncidentState, Policy, decide
from services.dispatcher.runcards import load_runcards
from services.dispatcher.settings import DEFAULT_ASSESSMENT_RULES, DEFAULT_RUNCARDS

T0 = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
RUNCARDS = load_runcards(DEFAULT_RUNCARDS)
ASSESSMENT_RULES = load_assessment_rules(DEFAULT_ASSESSMENT_RULES)
POLICY = Policy(runcards=RUNCARDS, max_radius_km=25.0, assessment=ASSESSMENT_RULES)
KEL = "35.71.02.1001"  # Semampir
WHERE = GeoPoint(lat=-7.798125, lon=112.010294)


@dataclass
class Vol:
    unit: Unit
    skills: frozenset[Skill]
    distance_km: float


@dataclass
class World:
    volunteers: dict[str, Vol]
    policy: Policy = POLICY
    holds: dict[str, str] = field(default_factory=dict)  # volunteer → offer id (rule 4)
    commands: list[Command] = field(default_factory=list)

    @classmethod
    def of(cls, *specs: tuple[str, Unit, tuple[Skill, ...], float], policy: Policy = POLICY) -> World:
        return cls({vid: Vol(unit, frozenset(skills), d) for vid, unit, skills, d in specs}, policy)

    def run(self, state: IncidentState | None, event: Envelope[Payload], now: datetime) -> IncidentState:
        """Apply an event and every command result it leads to, like the agent does."""
        self.commands.clear()
        pending: list[Envelope[Payload] | CandidatesFound | Reclaimed] = [event]
        while pending:
            state, commands = decide(state, pending.pop(0), now, self.policy)
            for command in commands:
                self.commands.append(command)
                result = self._execute(command)
                if result is not None:
                    pending.append(result)
        assert state is not None
        return state

    def _execute(self, command: Command) -> CandidatesFound | Reclaimed | None:
        if isinstance(command, FindCandidates):
            return self._find(command)
        if isinstance(command, FreeVolunteer) and self.holds.get(command.volunteer_id) == command.offer_id:
            del self.holds[command.volunteer_id]
        if isinstance(command, ConfirmAssignment):
            assert self.holds.get(command.volunteer_id) == command.offer_id
        if isinstance(command, Reclaim):
            ok = command.volunteer_id not in self.holds
            if ok:
                self.holds[command.volunteer_id] = command.offer_id
            return Reclaimed(command.offer_id, ok)
        return None

    def _find(self, c: FindCandidates) -> CandidatesFound:
        fits = sorted(
            (v.distance_km, vid)
            for vid, v in self.volunteers.items()
            if v.unit == c.need.unit
            and (c.need.skill is None or c.need.skill in v.skills)
            and vid not in self.holds
            and vid not in c.exclude
        )
        reservations = []
        for (distance, vid), offer_id in zip(fits, c.offer_ids, strict=False):
            self.holds[vid] = offer_id
            reservations.append(Reservation(offer_id, vid, vid.title(), distance, c.expires_at))
        return CandidatesFound(
            c.need_index, tuple(reservations), exhausted=len(reservations) < len(c.offer_ids)
        )

    def of_type(self, cls: type) -> list:  # type: ignore[type-arg]
        return [c for c in self.commands if isinstance(c, cls)]


def ev(payload: Payload, at: datetime = T0, event_id: str | None = None) -> Envelope[Payload]:
    return make_event(payload, source="test", event_id=event_id, occurred_at=at)


def reported(
    incident_id: str = "INC-1",
    *,
    type_: IncidentType = IncidentType.FLOOD,
    severity: Severity = Severity.SEVERE,
    needs: list[Need] | None = None,
) -> IncidentReported:
    return IncidentReported(
        incident_id=incident_id,
        type=type_,
        severity=severity,
        title="Banjir di Semampir",
        location=WHERE,
        kelurahan_code=KEL,
        needs=needs or [],
    )


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)
