"""Answers parked in Redis are derived again from the topics: acknowledged answers on `responses` that
no recorded decision has applied (`services.dispatcher.unapplied`)."""

from __future__ import annotations

from schemas.envelope import Envelope
from schemas.events import (
    AssignmentStatusChanged,
    Need,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    Payload,
)
from schemas.vocabulary import AssignmentStatus, Skill, Unit
from services.dispatcher.incident import IncidentState
from services.dispatcher.unapplied import Answer, unapplied
from tests.unit.dispatcher.test_replay import Recorder, answer, replayed
from tests.unit.dispatcher.world import T0, World, ev, later, reported

A = AssignmentStatus
EVAC3 = Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=3)


def on_responses(events: list[Envelope[Payload]], partition: int = 0) -> list[Answer]:
    return [
        Answer(partition, offset, e.payload.incident_id.encode(), e.to_json(), e)  # type: ignore[attr-defined]
        for offset, e in enumerate(events)
    ]


def test_only_acknowledged_answers_the_log_has_not_applied_come_back() -> None:
    world = World.of(*[(f"v{i}", Unit.TAGANA, (Skill.EVACUATION,), 1.0 + i) for i in range(3)])
    rec = Recorder(world)
    report = reported(needs=[EVAC3])
    state = rec.run(None, report, T0)  # three offers: v0, v1, v2
    applied = ev(answer(OfferAccepted, state, "v0"), later(5))
    state = rec.run(state, applied.payload, later(5))  # v0's acceptance is on the log
    released = ev(answer(AssignmentStatusChanged, state, "v0", status=A.RELEASED), later(6))
    parked = ev(answer(OfferAccepted, state, "v1"), later(7))  # parked, then Redis was lost
    declined = ev(answer(OfferDeclined, state, "v2"), later(8))  # not yet acknowledged
    forged = ev(OfferAccepted(offer_id=state.assignments[2].offer_id, incident_id="INC-1", volunteer_id="v0"))
    rebuilt: dict[str, IncidentState] = {"INC-1": replayed(rec, report, {})}
    answers = on_responses([applied, released, parked, forged, parked, declined])

    back = unapplied(answers, rebuilt, committed={0: 5})
    # v0's release was never applied either (v0 is accepted on the log): it comes back; the
    # acceptance the log has does not, nor one naming another volunteer, nor the same event twice,
    # nor the decline at offset 5 (on its way to the worker anyway)
    assert [a.event.event_id for a in back] == [released.event_id, parked.event_id]
    assert [a.offset for a in back] == [1, 2]

    # an expiry of an offer the log still has outstanding comes back too; of another partition only
    # once that partition's committed offset passes it
    expired = ev(OfferExpired(offer_id=state.assignments[2].offer_id, incident_id="INC-1", volunteer_id="v2"))
    assert unapplied(on_responses([expired], partition=3), rebuilt, committed={0: 5}) == []
    assert len(unapplied(on_responses([expired], partition=3), rebuilt, committed={3: 1})) == 1


def test_answers_of_ended_or_unknown_incidents_and_older_statuses_stay_away() -> None:
    world = World.of(("v0", Unit.TAGANA, (Skill.EVACUATION,), 1.0))
    rec = Recorder(world)
    report = reported(needs=[Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=1)])
    state = rec.run(None, report, T0)
    state = rec.run(state, answer(OfferAccepted, state, "v0"), later(5))
    state = rec.run(state, answer(AssignmentStatusChanged, state, "v0", status=A.ON_SCENE), later(9))
    rebuilt = {"INC-1": replayed(rec, report, {})}
    late_en_route = ev(answer(AssignmentStatusChanged, state, "v0", status=A.EN_ROUTE), later(8))
    other = ev(OfferAccepted(offer_id="O-x", incident_id="INC-9", volunteer_id="v0"))
    assert unapplied(on_responses([late_en_route, other]), rebuilt, committed={0: 9}) == []

    state = rec.run(state, answer(AssignmentStatusChanged, state, "v0", status=A.RELEASED), later(20))
    released = ev(answer(AssignmentStatusChanged, state, "v0", status=A.RELEASED), later(20))
    assert unapplied(on_responses([released]), {"INC-1": replayed(rec, report, {})}, {0: 9}) == []
