"""DESIGN.md §3, rule by rule, against the real broker and Redis with a dispatcher worker subprocess.
Volunteers are placed at known distances east of the incident (Semampir, Kota Kediri)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from schemas.events import (
    AssignmentStatusChanged,
    IncidentCancelled,
    IncidentClosed,
    IncidentStatusChanged,
    Need,
    NotificationDelivered,
    OfferAccepted,
    OfferDeclined,
    VolunteerDutyChanged,
)
from schemas.vocabulary import ChannelType, IncidentStatus, NotificationKind, Skill, Unit
from services.common import links
from tests.integration.dispatcher.conftest import (
    HERE,
    Bus,
    Roster,
    Workers,
    eventually,
    incident,
    move_clock,
    north_of,
    volunteer,
)

HERE_NORTH = north_of(HERE, 0.0)  # the 30 km volunteer is east, past the 25 km limit

pytestmark = pytest.mark.integration
OFFER_TTL_S = 30  # SIGAP_OFFER_TTL_S of `dispatcher_env`
SECRET = "integration-test-link-secret-0123456789"


def offered_to(bus: Bus, incident_id: str) -> list[str]:
    return [
        n.recipient.volunteer_id or ""
        for n in bus.notifications(NotificationKind.OFFER)
        if n.incident_id == incident_id
    ]


async def test_run_card_candidates_and_order(bus: Bus, workers: Workers, roster: Roster) -> None:
    """Rules 1–3: the flood/severe run card, only eligible volunteers, nearest first. The card needs a
    Karang Taruna member for the dapur umum team and a PBI-JKN companion for victim registration: they
    are offered; a Karang Taruna member without the needed skill is not."""
    rescue, evac, kitchen = (Skill.WATER_RESCUE,), (Skill.EVACUATION,), (Skill.PUBLIC_KITCHEN,)
    await bus.register(
        volunteer("wr-near-uncertified", 0.2, skills=rescue, certified_until=None),
        volunteer("wr-expired", 0.3, skills=rescue, certified_until=date(2020, 1, 1)),
        volunteer("wr-1", 0.8, skills=rescue),
        volunteer("wr-2", 2.5, skills=rescue),
        volunteer("wr-3", 4.0, skills=rescue),
        volunteer("ev-off-duty", 0.1, skills=evac, on_duty=False),
        volunteer("ev-1", 1.2, skills=evac),
        volunteer("ev-2", 1.9, skills=evac),
        volunteer("ev-far", 30.0, skills=evac, where=HERE_NORTH),
        volunteer("dk-1", 0.6, skills=kitchen),
        volunteer("dk-2", 7.0, skills=kitchen),
        volunteer("dk-3", 9.0, skills=kitchen),
        volunteer("trc-wrong-skill", 0.1, unit=Unit.TRC, skills=(Skill.LOGISTICS,)),
        volunteer("trc-1", 3.3, unit=Unit.TRC, skills=(Skill.RAPID_ASSESSMENT,)),
        volunteer("karang-taruna", 0.1, unit=Unit.KARANG_TARUNA, skills=evac),
        volunteer("kt-kitchen", 0.4, unit=Unit.KARANG_TARUNA, skills=kitchen),
        volunteer("pbi-1", 0.7, unit=Unit.PBI_JKN, skills=(Skill.VICTIM_REGISTRATION,)),
    )
    workers.start()
    await roster.ready(17)
    await bus.send("incidents", incident("INC-RC"))
    await eventually(lambda: len(offered_to(bus, "INC-RC")) == 11, what="11 offers")
    assert sorted(offered_to(bus, "INC-RC")) == [
        "dk-1",
        "dk-2",
        "dk-3",
        "ev-1",
        "ev-2",
        "kt-kitchen",
        "pbi-1",
        "trc-1",
        "wr-1",
        "wr-2",
        "wr-3",
    ]
    made = {e.payload.volunteer_id: e.payload for e in bus.events("dispatch-log", "offer.made")}
    assert made["wr-1"].distance_km == pytest.approx(0.8, abs=0.01)
    assert made["dk-2"].distance_km == pytest.approx(7.0, abs=0.02)

    async def understaffed() -> Any:
        view = await roster.incident("INC-RC")
        return view if view is not None and view.status == IncidentStatus.UNDERSTAFFED else None

    view = await eventually(understaffed, what="understaffed")  # a small roster: 11 of the card's 26
    offered = {(n.unit, n.skill): (n.count, n.offered) for n in view.needs}
    assert offered[(Unit.TAGANA, Skill.WATER_RESCUE)] == (3, 3)
    assert offered[(Unit.TAGANA, Skill.EVACUATION)] == (3, 2)  # ev-far is beyond the radius
    assert offered[(Unit.TAGANA, Skill.PUBLIC_KITCHEN)] == (4, 3)
    assert offered[(Unit.KARANG_TARUNA, Skill.PUBLIC_KITCHEN)] == (4, 1)
    assert offered[(Unit.PBI_JKN, Skill.VICTIM_REGISTRATION)] == (2, 1)
    assert offered[(Unit.TRC, Skill.RAPID_ASSESSMENT)] == (2, 1)
    assert {a.volunteer_name for a in view.assignments} >= {"Relawan wr-1", "Relawan trc-1"}
    for vid in ("wr-1", "dk-2", "trc-1"):
        fields = await roster.fields(vid)
        assert (fields["status"], fields["incident_id"]) == ("offered", "INC-RC")
    assert await roster.status("karang-taruna") == "available"
    assert await roster.status("ev-off-duty") == "off_duty"

    # each offer: deadline = expiry, a signed link bound to the offer and the volunteer, the context
    offer = next(n for n in bus.notifications(NotificationKind.OFFER) if n.recipient.volunteer_id == "wr-1")
    token = (offer.context.response_url or "").rsplit("/r/", 1)[1]
    claims = links.verify(token, SECRET, datetime.now(UTC))
    assert (claims.offer_id, claims.volunteer_id, claims.incident_id) == (offer.offer_id, "wr-1", "INC-RC")
    assert offer.deadline == made["wr-1"].expires_at
    assert offer.context.skill == Skill.WATER_RESCUE and offer.context.kelurahan_code == "35.71.02.1001"
    assert [c.type for c in offer.recipient.channels] == ["outbox"]


EVAC2 = [Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=2)]


def offer_of(bus: Bus, incident_id: str, vid: str) -> str:
    return next(
        n.offer_id or ""
        for n in bus.notifications(NotificationKind.OFFER)
        if n.incident_id == incident_id and n.recipient.volunteer_id == vid
    )


async def answer(bus: Bus, cls: type, incident_id: str, vid: str, **kw: object) -> None:
    offer_id = await eventually(lambda: offer_of_or_none(bus, incident_id, vid), what=f"offer to {vid}")
    await bus.send("responses", cls(offer_id=offer_id, incident_id=incident_id, volunteer_id=vid, **kw))


def offer_of_or_none(bus: Bus, incident_id: str, vid: str) -> str | None:
    try:
        return offer_of(bus, incident_id, vid)
    except StopIteration:
        return None


def statuses(bus: Bus, incident_id: str) -> list[str]:
    return [
        e.payload.status.value
        for e in bus.events("dispatch-log", "incident.status_changed")
        if isinstance(e.payload, IncidentStatusChanged) and e.payload.incident_id == incident_id
    ]


async def test_decline_and_expiry_move_on_understaffed_escalates_and_retries(
    bus: Bus, workers: Workers, roster: Roster
) -> None:
    """Rules 5 and 7: a decline or an expiry frees the volunteer and offers the slot to the next one at
    once; nobody is offered the incident twice; when candidates run out the incident is understaffed,
    coordinators are told, and a volunteer coming on duty is offered the open slot."""
    await bus.register(*(volunteer(v, km) for v, km in (("a", 1), ("b", 2), ("c", 3), ("d", 4))))
    late = volunteer("e", 5, on_duty=False)
    await bus.register(late)
    worker = workers.start(clocked=True)  # offers expire when the test moves the clock past their deadline
    await roster.ready(5)
    await bus.send("incidents", incident("INC-X", EVAC2))
    await eventually(lambda: sorted(offered_to(bus, "INC-X")) == ["a", "b"], what="offers to a and b")

    await answer(bus, OfferDeclined, "INC-X", "a")
    await eventually(lambda: "c" in offered_to(bus, "INC-X"), 5, "the slot offered to c at once")
    assert await roster.status("a") == "available"
    await answer(bus, OfferAccepted, "INC-X", "c")
    # b lets the offer expire: d is next
    await move_clock(worker, OFFER_TTL_S + 1, "expire_offers")
    await eventually(lambda: "d" in offered_to(bus, "INC-X"), what="b's slot offered to d after expiry")
    assert [e.payload.volunteer_id for e in bus.events("dispatch-log", "offer.expired")][:1] == ["b"]
    assert await roster.status("b") == "available"
    # d lets it expire too: a and b said no, so nobody is left
    assert statuses(bus, "INC-X")[-1:] == ["dispatching"]
    await move_clock(worker, OFFER_TTL_S + 1, "expire_offers")
    await eventually(lambda: "understaffed" in statuses(bus, "INC-X"), what="understaffed")
    warning = await eventually(lambda: bus.notifications(NotificationKind.UNDERSTAFFED), what="coordinators")
    assert [(n.recipient.name, n.context.open_slots) for n in warning] == [("Pak Koordinator", 1)]
    assert "outbox" in [c.type for c in warning[0].recipient.channels]
    assert sorted(offered_to(bus, "INC-X")) == ["a", "b", "c", "d"]  # nobody twice
    view = await roster.incident("INC-X")
    assert view.status == IncidentStatus.UNDERSTAFFED
    assert (view.needs[0].filled, view.needs[0].offered, view.needs[0].open) == (1, 0, 1)

    # e comes on duty: the open slot is offered to e, in the incident's order
    await bus.send("volunteers", VolunteerDutyChanged(profile=late, on_duty=True))
    await eventually(lambda: "e" in offered_to(bus, "INC-X"), 10, "retry offers the slot to e")
    await answer(bus, OfferAccepted, "INC-X", "e")
    await eventually(lambda: statuses(bus, "INC-X")[-1:] == ["staffed"], 10, "staffed")
    assert statuses(bus, "INC-X") == ["reported", "dispatching", "understaffed", "dispatching", "staffed"]
    assert len(bus.notifications(NotificationKind.UNDERSTAFFED)) == 1
    assert {await roster.status(v) for v in ("c", "e")} == {"assigned"}
    made = bus.events("dispatch-log", "offer.made")
    assert len(made) == len({e.payload.offer_id for e in made}) == 5


async def test_cancel_withdraws_and_releases_and_tells_everyone(
    bus: Bus, workers: Workers, roster: Roster
) -> None:
    """Rule 8, and odd orders after it: a late accept changes nothing."""
    await bus.register(volunteer("a", 1), volunteer("b", 2), volunteer("c", 3), volunteer("d", 4))
    workers.start()
    await roster.ready(4)
    await bus.send("incidents", incident("INC-C", EVAC2))
    await bus.send("incidents", incident("INC-D", [Need(unit=Unit.TAGANA, count=2)]))
    await eventually(lambda: len(offered_to(bus, "INC-C")) == 2 and len(offered_to(bus, "INC-D")) == 2)
    first, second = sorted(offered_to(bus, "INC-C"))
    await answer(bus, OfferAccepted, "INC-C", first)
    await eventually(lambda: _is(roster, first, "assigned"), what=f"{first} assigned")

    await bus.send("incidents", IncidentCancelled(incident_id="INC-C", reason="laporan palsu"))
    await eventually(lambda: statuses(bus, "INC-C")[-1:] == ["cancelled"], what="cancelled")
    kinds = await eventually(
        lambda: (
            {
                (n.kind.value, n.recipient.volunteer_id)
                for n in bus.notifications()
                if n.incident_id == "INC-C" and n.kind != NotificationKind.OFFER
            }
            or None
        ),
        what="withdrawal and cancellation notices",
    )
    assert kinds == {("cancellation", first), ("withdrawal", second)}
    cancel = next(n for n in bus.notifications(NotificationKind.CANCELLATION))
    assert cancel.context.reason == "laporan palsu"
    assert await roster.status(first) == "available" and await roster.status(second) == "available"
    view = await roster.incident("INC-C")
    assert {a.volunteer_id: a.status.value for a in view.assignments} == {
        first: "released",
        second: "withdrawn",
    }
    assert "INC-C" not in await roster.redis.zrange(roster.keys.open_incidents, 0, -1)
    assert "INC-C" in await roster.redis.zrange(roster.keys.all_incidents, 0, -1)
    offer = await roster.redis.hgetall(roster.keys.offer(offer_of(bus, "INC-C", second)))
    assert offer["status"] == "withdrawn" and offer["incident_id"] == "INC-C"

    # a late accept after the cancel: nothing changes, nothing is sent
    before = len(bus.records)
    await answer(bus, OfferAccepted, "INC-C", second)
    await bus.send("incidents", IncidentClosed(incident_id="INC-D", note="selesai"))
    await eventually(lambda: statuses(bus, "INC-D")[-1:] == ["closed"], what="INC-D closed")
    late = [
        r
        for r in bus.records[before:]
        if r.event
        and getattr(r.event.payload, "incident_id", "") == "INC-C"
        and r.topic != bus.settings.topic("responses")
    ]
    assert late == []
    assert (await roster.incident("INC-C")).assignments == view.assignments
    assert await roster.status(second) == "available"


async def _closed(roster: Roster, incident_id: str) -> bool:
    view = await roster.incident(incident_id)
    return view is not None and view.status.value == "closed"


async def _delivered(roster: Roster, incident_id: str) -> bool:
    view = await roster.incident(incident_id)
    return (
        view is not None
        and view.assignments[0].delivered_at is not None
        and "delivered" in [t.event for t in view.timeline]
    )


async def _is(roster: Roster, vid: str, status: str) -> bool:
    return await roster.status(vid) == status


async def test_duplicates_change_nothing_and_send_nothing_twice(
    bus: Bus, workers: Workers, roster: Roster
) -> None:
    """Rule 9: the same event twice (a redelivery), the same answer twice (a double tap)."""
    await bus.register(volunteer("a", 1), volunteer("b", 2), volunteer("c", 3))
    workers.start()
    await roster.ready(3)
    report = await bus.send("incidents", incident("INC-I", EVAC2))
    await bus.send_raw("incidents", report.to_json(), key=b"INC-I")  # the very same record again
    await bus.send("incidents", incident("INC-I", EVAC2))  # the same incident posted again
    await eventually(lambda: len(offered_to(bus, "INC-I")) >= 2)
    await answer(bus, OfferDeclined, "INC-I", "a")
    await answer(bus, OfferDeclined, "INC-I", "a")
    await eventually(lambda: "c" in offered_to(bus, "INC-I"), what="c offered")
    await answer(bus, OfferAccepted, "INC-I", "b")
    await answer(bus, OfferAccepted, "INC-I", "b")
    # answers go on `responses`, the close on `incidents`, whose relative order nothing guarantees:
    # the close waits for the accept (the double tap is handled before or after it: either way, once)
    await eventually(lambda: bus.events("dispatch-log", "offer.accepted"), what="the accept")
    await bus.send("incidents", IncidentClosed(incident_id="INC-I"))
    await eventually(lambda: statuses(bus, "INC-I")[-1:] == ["closed"], what="closed")
    assert sorted(offered_to(bus, "INC-I")) == ["a", "b", "c"]
    assert len(bus.events("dispatch-log", "offer.declined")) == 1
    assert len(bus.events("dispatch-log", "offer.accepted")) == 1
    assert statuses(bus, "INC-I") == ["reported", "dispatching", "closed"]
    ids = [n.notification_id for n in bus.notifications()]
    assert len(ids) == len(set(ids))


async def test_every_step_is_recorded_and_the_fairness_order_applies(
    bus: Bus, workers: Workers, roster: Roster
) -> None:
    """Rule 10 (the dispatch log and the timeline) and rule 3's tie-breaks: equally near, the
    volunteer with fewer deployments in the last 30 days goes first."""
    one = [Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=1)]
    await bus.register(volunteer("twin-b", 1.0), volunteer("twin-a", 1.0))
    workers.start()
    await roster.ready(2)
    await bus.send("incidents", incident("INC-1", one))
    await eventually(lambda: offered_to(bus, "INC-1") == ["twin-a"], what="twin-a first (id order)")
    offer_id = offer_of(bus, "INC-1", "twin-a")
    delivered = NotificationDelivered(
        notification_id=next(n.notification_id for n in bus.notifications(NotificationKind.OFFER)),
        channel=ChannelType.OUTBOX,
        attempts=1,
        latency_ms=40.0,
        incident_id="INC-1",
        offer_id=offer_id,
        volunteer_id="twin-a",
    )
    # the notifier's report of an offer, on `responses` keyed by the incident (in the incident's order)
    await bus.send("responses", delivered)
    await eventually(lambda: _delivered(roster, "INC-1"), what="delivery on the timeline")
    await answer(bus, OfferAccepted, "INC-1", "twin-a")
    for step in ("en_route", "on_scene", "released"):
        await answer(bus, AssignmentStatusChanged, "INC-1", "twin-a", status=step)
    # answers go on `responses`, the close on `incidents`: only within one topic is the order kept, so
    # the ops room's close waits for the release like it would in the ops room
    await eventually(
        lambda: len(bus.events("dispatch-log", "assignment.status_changed")) == 3, what="the release"
    )
    await bus.send("incidents", IncidentClosed(incident_id="INC-1", note="selesai"))
    await eventually(lambda: statuses(bus, "INC-1")[-1:] == ["closed"], what="closed")
    # the dispatch log is acknowledged before the state and its read model are saved
    await eventually(lambda: _closed(roster, "INC-1"), what="the read model closed")
    fields = await roster.fields("twin-a")
    assert fields["status"] == "available" and fields["last_deployed_at"]
    assert len(json.loads(fields["deployments"])) == 1

    log_types = [e.event_type for e in bus.events("dispatch-log") if e.correlation_id == "INC-1"]
    assert log_types == [
        "incident.status_changed",
        "incident.status_changed",
        "offer.made",
        "offer.accepted",
        "incident.status_changed",
        "assignment.status_changed",
        "assignment.status_changed",
        "assignment.status_changed",
        "incident.status_changed",
    ]
    assert all(
        r.key == b"INC-1" for r in bus.on("dispatch-log") if r.event and r.event.correlation_id == "INC-1"
    )
    view = await roster.incident("INC-1")
    steps = [t.event for t in view.timeline]
    for step in (
        "reported",
        "dispatching",
        "matched",
        "offered",
        "delivered",
        "accepted",
        "staffed",
        "en_route",
        "on_scene",
        "released",
        "closed",
    ):
        assert step in steps
    assert [t.at for t in view.timeline] == sorted(t.at for t in view.timeline)
    a = view.assignments[0]
    assert (a.status.value, a.responded_at is not None, a.distance_km) == (
        "released",
        True,
        pytest.approx(1.0, abs=0.01),
    )

    # the next equally near incident goes to the twin who has not been deployed
    await bus.send("incidents", incident("INC-2", one))
    await eventually(lambda: offered_to(bus, "INC-2") == ["twin-b"], what="twin-b, fewer deployments")


async def test_a_long_deployment_earns_a_rest(bus: Bus, workers: Workers, roster: Roster) -> None:
    """Rest after long deployments (four hours earn eight hours' rest): a shorter one earns none; while
    resting, not offered; available (and retried) after. The worker's clock is moved through the
    deployments and the rest."""
    one = [Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=1)]
    await bus.register(volunteer("a", 1.0))
    worker = workers.start(clocked=True, SIGAP_REST_AFTER_S=str(4 * 3600), SIGAP_REST_S=str(8 * 3600))
    await roster.ready(1)
    await bus.send("incidents", incident("INC-R0", one))
    await answer(bus, OfferAccepted, "INC-R0", "a")
    await eventually(lambda: _is(roster, "a", "assigned"), what="assigned to INC-R0")
    await move_clock(worker, 4 * 3600 - 60)  # a minute short of a long deployment
    await answer(bus, AssignmentStatusChanged, "INC-R0", "a", status="released")
    await eventually(lambda: _is(roster, "a", "available"), what="available again, no rest")
    assert not (await roster.fields("a")).get("resting_until")

    await bus.send("incidents", incident("INC-R1", one))
    await answer(bus, OfferAccepted, "INC-R1", "a")
    await eventually(lambda: _is(roster, "a", "assigned"), what="assigned to INC-R1")
    released_at = datetime.fromisoformat((await move_clock(worker, 4 * 3600))["now"])
    await answer(bus, AssignmentStatusChanged, "INC-R1", "a", status="released")
    await eventually(lambda: _is(roster, "a", "resting"), what="resting")
    fields = await roster.fields("a")
    assert datetime.fromisoformat(fields["resting_until"]) == released_at + timedelta(hours=8)
    await bus.send("incidents", incident("INC-R2", one))
    await eventually(lambda: "understaffed" in statuses(bus, "INC-R2"), what="understaffed while resting")
    assert offered_to(bus, "INC-R2") == []
    # a minute before the rest ends the timer wakes nobody; at its end a is offered the open slot
    assert (await move_clock(worker, 8 * 3600 - 60, "wake_rested"))["ran"] == {"wake_rested": 0}
    assert await roster.status("a") == "resting"
    await move_clock(worker, 60, "wake_rested")
    await eventually(lambda: offered_to(bus, "INC-R2") == ["a"], what="offered after the rest")


async def test_a_freed_volunteer_goes_to_the_longest_waiting_incident_without_a_retry_storm(
    bus: Bus, workers: Workers, roster: Roster
) -> None:
    """Rule 7 at a shortage: twelve incidents, one evacuee. When the evacuee declines, the oldest
    incident still waiting is offered them — and only the oldest is asked to look again
    (`SIGAP_DISPATCHER_RETRY_FANOUT=1`; with the default 2 the two oldest race for the volunteer), not
    all eleven: every free used to retry every understaffed incident, so a flood with more incidents
    than volunteers spent the worker on empty searches."""
    await bus.register(volunteer("solo", 1))
    workers.start(SIGAP_RETRY_INTERVAL_S="600", SIGAP_DISPATCHER_RETRY_FANOUT="1")  # no periodic retry
    await roster.ready(1)
    ids = [f"INC-S{i:02d}" for i in range(12)]
    evac = [Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=1)]
    await bus.send("incidents", incident(ids[0], evac))
    await eventually(lambda: offered_to(bus, ids[0]) == ["solo"], what="the first incident offered")
    for incident_id in ids[1:]:  # reported one after another: each waits longer than the next
        await bus.send("incidents", incident(incident_id, evac))
    await eventually(
        lambda: all(statuses(bus, i)[-1:] == ["understaffed"] for i in ids[1:]), 20, "eleven understaffed"
    )

    await answer(bus, OfferDeclined, ids[0], "solo")
    await eventually(lambda: offered_to(bus, ids[1]) == ["solo"], 10, "the longest waiting offered solo")
    # the decline's retries were all written before the retry that led to this offer was read: every
    # one of them is in `responses` now
    await bus.caught_up("responses")
    retried = [e.payload.incident_id for e in bus.events("responses", "dispatch.retry")]  # type: ignore[attr-defined]
    assert retried == ids[1:2]
    assert all(offered_to(bus, i) == [] for i in ids[2:])
    assert statuses(bus, ids[2])[-1:] == ["understaffed"]
