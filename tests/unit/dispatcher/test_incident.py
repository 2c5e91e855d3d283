"""The incident state machine, driven through every transition of DESIGN.md §2–3, odd orders included."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import (
    AssignmentStatusChanged,
    DispatchRetry,
    IncidentCancelled,
    IncidentClosed,
    IncidentStatusChanged,
    Need,
    NotificationDelivered,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferMade,
    OfferWithdrawn,
)
from schemas.vocabulary import (
    AssignmentStatus,
    ChannelType,
    IncidentStatus,
    IncidentType,
    NotificationKind,
    Severity,
    Skill,
    Unit,
)
from services.dispatcher.commands import (
    ClearRetry,
    ClearUnderstaffed,
    ConfirmAssignment,
    Emit,
    FindCandidates,
    ForgetDeadline,
    FreeVolunteer,
    MarkUnderstaffed,
    Notify,
    NotifyCoordinators,
    Reclaim,
    RetryUnderstaffed,
    SetOfferStatus,
)
from services.dispatcher.incident import IncidentState, Policy, decide, offer_id_for
from tests.unit.dispatcher.world import POLICY, RUNCARDS, T0, Vol, World, ev, later, reported

A = AssignmentStatus
S = IncidentStatus
TAGANA_EVAC = Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=2)


def evac_world(*distances: float) -> World:
    return World.of(*[(f"v{i}", Unit.TAGANA, (Skill.EVACUATION,), d) for i, d in enumerate(distances)])


def emitted(world: World, cls: type) -> list:  # type: ignore[type-arg]
    return [c.payload for c in world.of_type(Emit) if isinstance(c.payload, cls)]


def answer(cls: type, state: IncidentState, volunteer_id: str, **kw: object):  # type: ignore[no-untyped-def]
    a = next(a for a in state.assignments if a.volunteer_id == volunteer_id)
    return cls(offer_id=a.offer_id, incident_id=state.incident_id, volunteer_id=volunteer_id, **kw)


def test_a_report_without_needs_takes_its_run_card_and_offers_the_nearest() -> None:
    world = World.of(
        *[(f"w{i}", Unit.TAGANA, (Skill.WATER_RESCUE,), 1.0 + i) for i in range(3)],
        *[(f"e{i}", Unit.TAGANA, (Skill.EVACUATION,), 1.0 + i) for i in range(3)],
        ("b0", Unit.TAGANA, (Skill.BOAT_OPERATOR,), 2.0),
        ("p0", Unit.PBI_JKN, (Skill.VICTIM_REGISTRATION,), 3.0),
        ("t0", Unit.TRC, (Skill.RAPID_ASSESSMENT,), 4.0),
    )
    state = world.run(None, ev(reported(severity=Severity.MODERATE)), T0)
    assert [(n.unit, n.skill, n.count) for n in state.needs] == [
        (Unit.TRC, Skill.RAPID_ASSESSMENT, 1),
        (Unit.TAGANA, Skill.WATER_RESCUE, 2),
        (Unit.TAGANA, Skill.BOAT_OPERATOR, 1),
        (Unit.TAGANA, Skill.EVACUATION, 2),
        (Unit.PBI_JKN, Skill.VICTIM_REGISTRATION, 1),
    ]
    assert state.status == S.DISPATCHING
    assert sorted(a.volunteer_id for a in state.assignments) == ["b0", "e0", "e1", "p0", "t0", "w0", "w1"]
    assert {a.status for a in state.assignments} == {A.OFFERED}
    statuses = [(p.previous_status, p.status) for p in emitted(world, IncidentStatusChanged)]
    assert statuses == [(None, S.REPORTED), (S.REPORTED, S.DISPATCHING)]
    assert len(emitted(world, OfferMade)) == 7
    offers = [c for c in world.of_type(Notify) if c.kind == NotificationKind.OFFER]
    assert len(offers) == 7
    assert [e.event for e in state.timeline][:2] == ["reported", "dispatching"]


def test_explicit_needs_replace_the_run_card() -> None:
    world = evac_world(1, 2, 3)
    state = world.run(None, ev(reported(needs=[TAGANA_EVAC])), T0)
    assert [(n.skill, n.count) for n in state.needs] == [(Skill.EVACUATION, 2)]
    assert [a.volunteer_id for a in state.assignments] == ["v0", "v1"]


def test_offer_time_to_live_follows_severity_and_can_be_overridden() -> None:
    for severity, seconds in [
        (Severity.EXTREME, 120),
        (Severity.SEVERE, 180),
        (Severity.MODERATE, 300),
        (Severity.MINOR, 600),
    ]:
        world = evac_world(1)
        state = world.run(None, ev(reported(severity=severity, needs=[TAGANA_EVAC])), T0)
        assert world.of_type(FindCandidates)[0].expires_at == T0 + timedelta(seconds=seconds)
        assert state.assignments[0].expires_at == T0 + timedelta(seconds=seconds)
    quick = World(evac_world(1).volunteers, Policy(runcards=RUNCARDS, offer_ttl_override_s=5))
    quick.run(None, ev(reported(needs=[TAGANA_EVAC])), T0)
    assert quick.of_type(FindCandidates)[0].expires_at == T0 + timedelta(seconds=5)


def test_accepting_every_offer_staffs_the_incident() -> None:
    world = evac_world(1, 2, 3)
    state = world.run(None, ev(reported(needs=[TAGANA_EVAC])), T0)
    state = world.run(state, ev(answer(OfferAccepted, state, "v0")), later(10))
    assert state.status == S.DISPATCHING
    assert world.of_type(ConfirmAssignment)[0].volunteer_id == "v0"
    state = world.run(state, ev(answer(OfferAccepted, state, "v1")), later(20))
    assert state.status == S.STAFFED
    assert [c.filled for c in (state.counts(0),)] == [2]
    assert emitted(world, IncidentStatusChanged)[-1].status == S.STAFFED
    assert state.assignments[1].responded_at == later(20)


def test_a_decline_frees_the_volunteer_and_offers_the_next_candidate_at_once() -> None:
    world = evac_world(1, 2, 3)
    state = world.run(None, ev(reported(needs=[TAGANA_EVAC])), T0)
    state = world.run(state, ev(answer(OfferDeclined, state, "v0")), later(5))
    assert world.of_type(FreeVolunteer)[0].volunteer_id == "v0"
    assert [a.volunteer_id for a in state.assignments if a.status == A.OFFERED] == ["v1", "v2"]
    assert "v0" in world.of_type(FindCandidates)[0].exclude
    # other understaffed incidents may use v0 now: v0 wakes them
    assert [r.volunteer_ids for r in world.of_type(RetryUnderstaffed)] == [("v0",)]
    assert emitted(world, OfferDeclined)[0].volunteer_id == "v0"


def test_an_expiry_frees_and_re_offers_and_the_volunteer_is_never_offered_the_incident_again() -> None:
    world = evac_world(1, 2)
    state = world.run(None, ev(reported(needs=[Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=1)])), T0)
    state = world.run(state, ev(answer(OfferExpired, state, "v0")), later(180))
    assert [(a.volunteer_id, a.status) for a in state.assignments] == [("v0", A.EXPIRED), ("v1", A.OFFERED)]
    state = world.run(state, ev(answer(OfferDeclined, state, "v1")), later(200))
    # both said no (or nothing): nobody left within the radius, though v0 is free again
    assert state.status == S.UNDERSTAFFED
    assert "v0" not in world.holds
    state = world.run(state, ev(DispatchRetry(incident_id="INC-1")), later(300))
    assert [a.volunteer_id for a in state.assignments] == ["v0", "v1"]


def test_understaffed_notifies_coordinators_once_and_retries_when_volunteers_free_up() -> None:
    world = evac_world(1)
    state = world.run(None, ev(reported(needs=[TAGANA_EVAC])), T0)
    assert state.status == S.UNDERSTAFFED
    assert len(world.of_type(NotifyCoordinators)) == 1
    assert world.of_type(NotifyCoordinators)[0].open_slots == 1
    assert world.of_type(MarkUnderstaffed)
    assert "tidak ada lagi relawan dalam radius 25 km" in emitted(world, IncidentStatusChanged)[-1].reason
    # a retry with nobody new: still understaffed, coordinators not told twice
    state = world.run(state, ev(DispatchRetry(incident_id="INC-1")), later(30))
    assert world.of_type(ClearRetry) and not world.of_type(NotifyCoordinators)
    assert state.status == S.UNDERSTAFFED
    # a volunteer comes on duty; the retry fills the slot
    world.volunteers["late"] = world.volunteers["v0"]
    state = world.run(state, ev(DispatchRetry(incident_id="INC-1")), later(60))
    assert state.status == S.DISPATCHING
    assert world.of_type(ClearUnderstaffed)
    assert [a.volunteer_id for a in state.assignments] == ["v0", "late"]


def test_an_understaffed_incident_says_which_kinds_of_need_it_is_short_of_as_they_change() -> None:
    """Rule 7's retries go to the incidents a freed volunteer could help: the registry is told the
    kinds (`unit` or `unit:skill`) the incident is short of, every time it settles understaffed."""
    evac, trc = Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=1), Need(unit=Unit.TRC, count=1)
    world = evac_world(1)  # one evacuee volunteer, no TRC at all
    state = world.run(None, ev(reported(needs=[evac, trc])), T0)
    assert state.status == S.UNDERSTAFFED
    assert [m.kinds for m in world.of_type(MarkUnderstaffed)] == [("trc",)]
    assert world.of_type(MarkUnderstaffed)[0].since == state.reported_at
    # v0 declines and nobody else is near: short of evacuees too now, though the status stays
    state = world.run(state, ev(answer(OfferDeclined, state, "v0")), later(5))
    assert state.status == S.UNDERSTAFFED
    assert world.of_type(MarkUnderstaffed)[-1].kinds == ("tagana:evacuation", "trc")  # the last one holds
    # a TRC volunteer appears: the retry fills that need, and the incident is short of evacuees only
    world.volunteers["t0"] = Vol(Unit.TRC, frozenset({Skill.RAPID_ASSESSMENT}), 2.0)
    state = world.run(state, ev(DispatchRetry(incident_id="INC-1")), later(30))
    assert "t0" in [a.volunteer_id for a in state.assignments]
    assert world.of_type(MarkUnderstaffed)[-1].kinds == ("tagana:evacuation",)
    # closing it frees t0 for the others, and takes it out of every registry
    state = world.run(state, ev(IncidentClosed(incident_id="INC-1", by="ops")), later(60))
    assert world.of_type(ClearUnderstaffed)
    assert [r.volunteer_ids for r in world.of_type(RetryUnderstaffed)] == [("t0",)]


def test_understaffed_incident_becomes_staffed_when_the_last_slot_is_accepted() -> None:
    world = evac_world(1)
    state = world.run(None, ev(reported(needs=[TAGANA_EVAC])), T0)
    state = world.run(state, ev(answer(OfferAccepted, state, "v0")), later(5))
    assert state.status == S.UNDERSTAFFED
    world.volunteers["v9"] = world.volunteers["v0"]
    state = world.run(state, ev(DispatchRetry(incident_id="INC-1")), later(10))
    assert state.status == S.DISPATCHING and world.of_type(ClearUnderstaffed)
    state = world.run(state, ev(answer(OfferAccepted, state, "v9")), later(20))
    assert state.status == S.STAFFED


def test_cancel_withdraws_offers_releases_the_assigned_and_tells_each_of_them() -> None:
    world = evac_world(1, 2)
    state = world.run(None, ev(reported(needs=[TAGANA_EVAC])), T0)
    state = world.run(state, ev(answer(OfferAccepted, state, "v0")), later(5))
    state = world.run(state, ev(IncidentCancelled(incident_id="INC-1", reason="false alarm")), later(9))
    assert state.status == S.CANCELLED
    assert {a.volunteer_id: a.status for a in state.assignments} == {"v0": A.RELEASED, "v1": A.WITHDRAWN}
    kinds = {(c.kind, c.volunteer_id) for c in world.of_type(Notify)}
    assert kinds == {(NotificationKind.CANCELLATION, "v0"), (NotificationKind.WITHDRAWAL, "v1")}
    assert world.holds == {}
    assert emitted(world, OfferWithdrawn)[0].reason == "cancelled"
    assert emitted(world, AssignmentStatusChanged)[0].status == A.RELEASED
    # odd orders after the end: nothing changes, nothing is sent
    for late in (
        answer(OfferAccepted, state, "v1"),
        answer(OfferDeclined, state, "v1"),
        answer(AssignmentStatusChanged, state, "v0", status=A.ON_SCENE),
        IncidentClosed(incident_id="INC-1"),
        IncidentCancelled(incident_id="INC-1"),
    ):
        after = world.run(state, ev(late), later(20))
        assert world.commands == []
        assert after.model_dump(exclude={"processed"}) == state.model_dump(exclude={"processed"})


def test_close_releases_everyone_still_assigned() -> None:
    world = evac_world(1, 2)
    state = world.run(None, ev(reported(needs=[TAGANA_EVAC])), T0)
    for v in ("v0", "v1"):
        state = world.run(state, ev(answer(OfferAccepted, state, v)), later(5))
    state = world.run(state, ev(answer(AssignmentStatusChanged, state, "v0", status=A.RELEASED)), later(60))
    state = world.run(state, ev(IncidentClosed(incident_id="INC-1", note="water receded")), later(90))
    assert state.status == S.CLOSED
    assert [c.volunteer_id for c in world.of_type(Notify)] == ["v1"]  # v0 was already released
    assert world.of_type(Notify)[0].kind == NotificationKind.CANCELLATION
    assert world.of_type(Notify)[0].reason == "water receded"


def test_an_assignment_moves_forward_only_and_release_frees_the_volunteer() -> None:
    world = evac_world(1)
    one = [Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=1)]
    state = world.run(None, ev(reported(needs=one)), T0)
    state = world.run(state, ev(answer(OfferAccepted, state, "v0")), later(1))
    state = world.run(state, ev(answer(AssignmentStatusChanged, state, "v0", status=A.EN_ROUTE)), later(2))
    assert world.of_type(SetOfferStatus)[0].status == A.EN_ROUTE
    state = world.run(state, ev(answer(AssignmentStatusChanged, state, "v0", status=A.ON_SCENE)), later(3))
    state = world.run(state, ev(answer(AssignmentStatusChanged, state, "v0", status=A.EN_ROUTE)), later(4))
    assert world.commands == [] and state.assignments[0].status == A.ON_SCENE
    state = world.run(state, ev(answer(AssignmentStatusChanged, state, "v0", status=A.RELEASED)), later(5))
    free = world.of_type(FreeVolunteer)[0]
    assert (free.volunteer_id, free.offer_status, free.resting_until) == ("v0", A.RELEASED, None)
    assert [e.event for e in state.timeline][-5:] == [
        "accepted",
        "staffed",
        "en_route",
        "on_scene",
        "released",
    ]


def test_a_long_deployment_earns_a_rest() -> None:
    world = evac_world(1)
    state = world.run(None, ev(reported(needs=[Need(unit=Unit.TAGANA, count=1)])), T0)
    state = world.run(state, ev(answer(OfferAccepted, state, "v0")), later(60))
    released_at = later(60 + 4 * 3600)
    world.run(state, ev(answer(AssignmentStatusChanged, state, "v0", status=A.RELEASED)), released_at)
    assert world.of_type(FreeVolunteer)[0].resting_until == released_at + timedelta(hours=8)


def test_duplicate_events_change_nothing_and_send_nothing_twice() -> None:
    world = evac_world(1, 2, 3)
    first = ev(reported(needs=[TAGANA_EVAC]))
    state = world.run(None, first, T0)
    assert world.run(state, first, later(1)) == state and world.commands == []
    decline = ev(answer(OfferDeclined, state, "v0"))
    state = world.run(state, decline, later(2))
    assert len(world.of_type(Notify)) == 1
    again = world.run(state, decline, later(3))
    assert again == state and world.commands == []
    # the same answer under a new event id (a double tap): nothing new either
    again = world.run(state, ev(answer(OfferDeclined, state, "v0")), later(4))
    assert world.commands == [] and again.assignments == state.assignments
    # a second report of the same incident (a retried post without idempotency key)
    again = world.run(state, ev(reported(needs=[TAGANA_EVAC])), later(5))
    assert world.commands == [] and again.assignments == state.assignments


def test_a_late_accept_after_expiry_changes_nothing_unless_the_ops_room_records_it() -> None:
    world = evac_world(1)
    state = world.run(None, ev(reported(needs=[Need(unit=Unit.TAGANA, count=1)])), T0)
    state = world.run(state, ev(answer(OfferExpired, state, "v0")), later(180))
    assert state.status == S.UNDERSTAFFED
    via_link = world.run(state, ev(answer(OfferAccepted, state, "v0")), later(181))
    assert world.commands == [] and via_link.assignments == state.assignments
    state = world.run(state, ev(answer(OfferAccepted, state, "v0", via="ops_room", by="ops1")), later(182))
    assert world.of_type(Reclaim)
    assert state.assignments[0].status == A.ACCEPTED
    assert state.status == S.STAFFED
    assert world.holds == {"v0": state.assignments[0].offer_id}


def test_an_expiry_after_accept_or_for_an_unknown_offer_only_cleans_up() -> None:
    world = evac_world(1)
    state = world.run(None, ev(reported(needs=[Need(unit=Unit.TAGANA, count=1)])), T0)
    state = world.run(state, ev(answer(OfferAccepted, state, "v0")), later(5))
    after = world.run(state, ev(answer(OfferExpired, state, "v0")), later(180))
    assert world.commands == [ForgetDeadline(state.assignments[0].offer_id)]
    assert after.assignments == state.assignments
    stray = OfferExpired(offer_id="of-x", incident_id="INC-1", volunteer_id="v7")
    world.run(state, ev(stray), later(181))
    assert world.of_type(FreeVolunteer) == [FreeVolunteer("v7", "of-x", A.EXPIRED)]
    unknown, commands = decide(
        None, ev(stray.model_copy(update={"incident_id": "INC-404"})), later(1), POLICY
    )
    assert unknown is None and FreeVolunteer("v7", "of-x", A.EXPIRED) in commands


def delivered_to_v0(offer_id: str) -> NotificationDelivered:
    """The outbox's report that volunteer v0's offer `offer_id` (of INC-1) was delivered."""
    return NotificationDelivered(
        notification_id="n1",
        channel=ChannelType.OUTBOX,
        attempts=1,
        latency_ms=12,
        incident_id="INC-1",
        offer_id=offer_id,
        volunteer_id="v0",
    )


def test_delivery_is_recorded_on_the_offer_and_the_timeline() -> None:
    world = evac_world(1)
    state = world.run(None, ev(reported(needs=[Need(unit=Unit.TAGANA, count=1)])), T0)
    a = state.assignments[0]
    delivered = delivered_to_v0(a.offer_id)
    state = world.run(state, ev(delivered), later(1))
    assert state.assignments[0].delivered_at == later(1)
    assert state.timeline[-1].event == "delivered"


def test_decide_never_mutates_the_state_it_is_given_and_offer_ids_are_deterministic() -> None:
    world = evac_world(1, 2, 3)
    state = world.run(None, ev(reported(needs=[TAGANA_EVAC])), T0)
    snapshot = state.model_dump()
    decline = ev(answer(OfferDeclined, state, "v0"))
    _, first = decide(state, decline, later(1), POLICY)
    _, second = decide(state, decline, later(1), POLICY)
    assert state.model_dump() == snapshot
    assert first == second
    assert [a.offer_id for a in state.assignments] == [offer_id_for("INC-1", 0), offer_id_for("INC-1", 1)]
    assert IncidentState.model_validate_json(state.model_dump_json()) == state


def test_no_event_mutates_the_state_it_is_given() -> None:
    """`decide` copies only what it changes: every kind of event, applied to a state that other
    readers share (the store keeps it in memory), leaves that state exactly as it was."""
    world = evac_world(1, 2, 3, 4)
    state = world.run(None, ev(reported(needs=[TAGANA_EVAC])), T0)
    state = world.run(state, ev(answer(OfferAccepted, state, "v1", via="link")), later(1))
    snapshot = state.model_dump()
    a0 = next(a for a in state.assignments if a.volunteer_id == "v0")
    delivered = delivered_to_v0(a0.offer_id)
    events = [
        answer(OfferDeclined, state, "v0"),
        answer(OfferExpired, state, "v0"),
        answer(OfferAccepted, state, "v0", via="link"),
        answer(AssignmentStatusChanged, state, "v1", status=A.EN_ROUTE, via="link"),
        answer(AssignmentStatusChanged, state, "v1", status=A.RELEASED, via="ops_room"),
        delivered,
        DispatchRetry(incident_id="INC-1", reason="test"),
        IncidentClosed(incident_id="INC-1", note="done"),
        IncidentCancelled(incident_id="INC-1", reason="false alarm"),
    ]
    for payload in events:
        new, _ = decide(state, ev(payload, event_id=f"e-{payload.EVENT_TYPE}"), later(5), POLICY)
        assert new is not state
        assert state.model_dump() == snapshot, payload.EVENT_TYPE


def test_social_emergency_goes_to_trc() -> None:
    world = World.of(("t1", Unit.TRC, (), 2.0), ("g1", Unit.TAGANA, (Skill.EVACUATION,), 0.5))
    state = world.run(None, ev(reported(type_=IncidentType.SOCIAL_EMERGENCY, severity=Severity.MINOR)), T0)
    assert [(a.volunteer_id, a.unit) for a in state.assignments] == [("t1", Unit.TRC)]
    assert state.status == S.DISPATCHING


# --- never overstaffed, one hold per volunteer, whatever the order of answers ----------------------

answers = st.lists(
    st.tuples(
        st.sampled_from(["accept", "decline", "expire", "retry", "en_route", "release", "free"]),
        st.integers(0, 11),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(answers)
def test_never_overstaffed_and_never_two_holds(steps: list[tuple[str, int]]) -> None:
    world = World.of(*[(f"v{i}", Unit.TAGANA, (Skill.EVACUATION,), float(i)) for i in range(12)])
    other = World(world.volunteers, POLICY, world.holds)  # a second incident competing for the same people
    state = world.run(
        None, ev(reported("INC-1", needs=[Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=3)])), T0
    )
    rival = other.run(None, ev(reported("INC-2", needs=[Need(unit=Unit.TAGANA, count=4)])), T0)
    for n, (action, who) in enumerate(steps):
        vid = f"v{who}"
        at = later(n + 1)
        for w, s in ((world, "state"), (other, "rival")):
            current = state if s == "state" else rival
            a = next((x for x in current.assignments if x.volunteer_id == vid), None)
            if action == "retry":
                event = DispatchRetry(incident_id=current.incident_id)
            elif a is None:
                continue
            elif action == "accept":
                event = answer(OfferAccepted, current, vid)
            elif action == "decline":
                event = answer(OfferDeclined, current, vid)
            elif action == "expire":
                event = answer(OfferExpired, current, vid)
            elif action == "en_route":
                event = answer(AssignmentStatusChanged, current, vid, status=A.EN_ROUTE)
            elif action == "release":
                event = answer(AssignmentStatusChanged, current, vid, status=A.RELEASED)
            else:
                event = (
                    IncidentCancelled(incident_id=current.incident_id)
                    if who == 11
                    else DispatchRetry(incident_id=current.incident_id)
                )
            new = w.run(current, ev(event), at)
            if s == "state":
                state = new
            else:
                rival = new
        for current in (state, rival):
            for i, need in enumerate(current.needs):
                c = current.counts(i)
                assert c.filled + c.offered <= need.count  # rule 6
        holding = [
            a.volunteer_id
            for s in (state, rival)
            for a in s.assignments
            if a.status in (A.OFFERED, A.ACCEPTED, A.EN_ROUTE, A.ON_SCENE)
        ]
        assert len(holding) == len(set(holding))  # rule 4
        assert sorted(holding) == sorted(world.holds)


def test_without_a_reason_the_notices_say_how_the_incident_ended() -> None:
    world = evac_world(1, 2)
    state = world.run(None, ev(reported(needs=[TAGANA_EVAC])), T0)
    state = world.run(state, ev(answer(OfferAccepted, state, "v0")), later(5))
    world.run(state, ev(IncidentCancelled(incident_id="INC-1")), later(9))
    assert {(c.kind, c.reason) for c in world.of_type(Notify)} == {
        (NotificationKind.CANCELLATION, "cancelled"),
        (NotificationKind.WITHDRAWAL, "cancelled"),
    }


def test_the_timeline_gives_an_offers_deadline_in_kediri_time() -> None:
    world = evac_world(1)
    state = world.run(None, ev(reported(severity=Severity.SEVERE, needs=[TAGANA_EVAC])), T0)
    deadline_wib = (T0 + timedelta(seconds=180, hours=7)).strftime("%H.%M")
    offered = [entry.detail for entry in state.timeline if entry.event == "offered"]
    assert offered and offered[0].endswith(f"jawab sebelum pukul {deadline_wib} WIB")
