"""Replaying an incident from its recorded decisions gives back the state the machine had."""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.envelope import Envelope, make_event
from schemas.events import (
    AssignmentStatusChanged,
    IncidentCancelled,
    IncidentReported,
    IncidentStatusChanged,
    Need,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    Payload,
)
from schemas.vocabulary import AssignmentStatus, IncidentStatus, Skill, Unit
from services.dispatcher.commands import Emit, FindCandidates
from services.dispatcher.incident import IncidentState, offer_id_for
from services.dispatcher.replay import next_offer_seq, replay
from tests.unit.dispatcher.world import RUNCARDS, T0, World, ev, later, reported

A = AssignmentStatus
EVAC2 = Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=2)
TRC1 = Need(unit=Unit.TRC, skill=Skill.RAPID_ASSESSMENT, count=1)


class Recorder:
    """Drives the machine like the worker does and keeps its `dispatch-log` as envelopes."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.log: list[Envelope[Payload]] = []

    def run(self, state: IncidentState | None, payload: Payload, at: datetime) -> IncidentState:
        state = self.world.run(state, ev(payload, at), at)
        for command in self.world.commands:
            if isinstance(command, Emit):
                self.log.append(make_event(command.payload, source="dispatcher", occurred_at=at))
        return state


def answer(cls: type, state: IncidentState, vid: str, **kw: object) -> Payload:
    a = next(a for a in reversed(state.assignments) if a.volunteer_id == vid)
    return cls(offer_id=a.offer_id, incident_id=state.incident_id, volunteer_id=vid, **kw)  # type: ignore[no-any-return]


def replayed(rec: Recorder, report: IncidentReported, names: dict[str, str]) -> IncidentState:
    return replay(
        report,
        T0,
        rec.log,
        names=names,
        delivered={},
        fallback_needs=lambda r: RUNCARDS.needs(r.type, r.severity),
    ).state


def comparable(state: IncidentState) -> tuple[object, ...]:
    return (
        state.status,
        [(n.unit, n.skill, n.count, n.exhausted) for n in state.needs],
        [
            (a.offer_id, a.volunteer_id, a.need_index, a.status, a.expires_at, a.accepted_at, a.responded_at)
            for a in state.assignments
        ],
        state.understaffed_episode,
        [e.event for e in state.timeline],
    )


def test_the_replayed_state_is_the_decided_one_through_declines_expiries_and_understaffing() -> None:
    world = World.of(*[(f"v{i}", Unit.TAGANA, (Skill.EVACUATION,), 1.0 + i) for i in range(4)])
    names = {vid: vid.title() for vid in world.volunteers}
    rec = Recorder(world)
    report = reported(needs=[EVAC2, TRC1])
    state = rec.run(None, report, T0)
    assert state.status == IncidentStatus.UNDERSTAFFED  # nobody of TRC
    assert comparable(replayed(rec, report, names)) == comparable(state)

    state = rec.run(state, answer(OfferDeclined, state, "v0"), later(10))
    state = rec.run(state, answer(OfferAccepted, state, "v1"), later(20))
    state = rec.run(state, answer(OfferExpired, state, "v2"), later(200))
    state = rec.run(state, answer(AssignmentStatusChanged, state, "v1", status=A.EN_ROUTE), later(300))
    again = replayed(rec, report, names)
    assert comparable(again) == comparable(state)
    assert again.offer_seq >= len(state.assignments)
    assert again.offer_seq == next_offer_seq(state.incident_id, [a.offer_id for a in state.assignments])

    # the machine carries on from the replayed state without reusing an offer id
    world.holds.pop("v3", None)
    carried = rec.run(again, answer(OfferDeclined, again, "v3"), later(400))
    new = [
        a.offer_id for a in carried.assignments if a.offer_id not in {x.offer_id for x in again.assignments}
    ]
    assert all(offer_id_for(state.incident_id, s) not in new for s in range(again.offer_seq))


def test_needs_come_from_the_log_not_from_todays_run_card() -> None:
    world = World.of(*[(f"v{i}", Unit.TAGANA, (Skill.EVACUATION,), 1.0 + i) for i in range(2)])
    rec = Recorder(world)
    report = reported()  # no needs posted: the run card decided them
    state = rec.run(None, report, T0)
    reported_change = next(r.payload for r in rec.log if isinstance(r.payload, IncidentStatusChanged))
    assert isinstance(reported_change, IncidentStatusChanged) and reported_change.needs
    again = replay(report, T0, rec.log, names={}, delivered={}, fallback_needs=lambda r: []).state
    assert [(n.unit, n.skill, n.count) for n in again.needs] == [
        (n.unit, n.skill, n.count) for n in state.needs
    ]


def test_a_release_after_a_long_deployment_replays_its_rest_and_cancel_ends_everything() -> None:
    world = World.of(
        ("v0", Unit.TAGANA, (Skill.EVACUATION,), 1.0), ("v1", Unit.TAGANA, (Skill.EVACUATION,), 2.0)
    )
    rec = Recorder(world)
    report = reported(needs=[EVAC2])
    state = rec.run(None, report, T0)
    state = rec.run(state, answer(OfferAccepted, state, "v0"), later(60))
    released_at = later(60 + 5 * 3600)
    state = rec.run(state, answer(AssignmentStatusChanged, state, "v0", status=A.RELEASED), released_at)
    out = replay(report, T0, rec.log, names={}, delivered={}, fallback_needs=lambda r: [])
    assert out.rests == {"v0": released_at + timedelta(hours=8)}
    state = rec.run(
        state, IncidentCancelled(incident_id=state.incident_id, reason="salah lapor"), later(99999)
    )
    out = replay(report, T0, rec.log + rec.log[-2:], names={}, delivered={}, fallback_needs=lambda r: [])
    assert out.state.status == IncidentStatus.CANCELLED
    assert [a.status for a in out.state.assignments] == [a.status for a in state.assignments]
    assert not world.of_type(FindCandidates)
