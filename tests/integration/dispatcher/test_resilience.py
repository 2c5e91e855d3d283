"""Poison records, the roster rebuild, two workers competing for few volunteers, and a worker killed
mid-dispatch — against the real broker and Redis, dispatcher workers as real subprocesses."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections import defaultdict
from datetime import datetime

import httpx
import pytest
from redis.asyncio import Redis

from schemas.envelope import make_event
from schemas.events import (
    AssignmentStatusChanged,
    DeadLetter,
    IncidentClosed,
    Need,
    OfferAccepted,
    OfferDeclined,
    VolunteerDutyChanged,
)
from schemas.vocabulary import NotificationKind, Unit
from services.common.config import Settings
from services.dispatcher.volunteers import rebuild_roster
from tests.integration.dispatcher.conftest import (
    Bus,
    Roster,
    Workers,
    eventually,
    incident,
    move_clock,
    volunteer,
)
from tests.support.procs import ServiceProcess

pytestmark = pytest.mark.integration
TAGANA = Unit.TAGANA


def offers(bus: Bus) -> list[tuple[str, str, str]]:
    """(incident, volunteer, offer id) of every offer notification, in arrival order."""
    return [
        (n.incident_id or "", n.recipient.volunteer_id or "", n.offer_id or "")
        for n in bus.notifications(NotificationKind.OFFER)
    ]


async def test_poison_records_become_dead_letters_and_the_stream_goes_on(
    bus: Bus, workers: Workers, roster: Roster
) -> None:
    await bus.register(volunteer("a", 1))
    worker = workers.start()
    await roster.ready(1)
    good = make_event(incident("INC-OK", [Need(unit=TAGANA, count=1)]), source="test")
    bad_payload = json.loads(good.to_json())
    bad_payload["payload"]["severity"] = "apocalyptic"
    bad_payload["event_id"] = "bad-1"
    await bus.send_raw("incidents", b"\x00\xffnot json at all", key=b"INC-X")
    await bus.send_raw("incidents", json.dumps(bad_payload).encode(), key=b"INC-OK")
    await bus.send(
        "incidents",
        volunteer("z", 1).model_copy() and VolunteerDutyChanged(profile=volunteer("z", 1), on_duty=True),
    )  # a roster event on the wrong topic
    await bus.send_raw("incidents", good.to_json(), key=b"INC-OK")
    await eventually(lambda: offers(bus), what="the good incident's offer")
    letters = [e.payload for e in bus.events("dead-letters")]
    assert all(isinstance(d, DeadLetter) for d in letters)
    reasons = {d.original_event_type: d.reason for d in letters if isinstance(d, DeadLetter)}
    assert len(letters) == 3
    assert "payload.severity" in reasons["incident.reported"]
    assert "does not belong" in reasons["volunteer.duty_changed"]
    assert any(d.original_base64 == "AP9ub3QganNvbiBhdCBhbGw=" for d in letters if isinstance(d, DeadLetter))
    assert all(
        d.topic == bus.settings.topic("incidents") and d.consumer == "dispatcher"
        for d in letters
        if isinstance(d, DeadLetter)
    )
    assert offers(bus)[0][:2] == ("INC-OK", "a")
    metrics = httpx.get(f"http://127.0.0.1:{worker.port}/metrics").text  # type: ignore[attr-defined]
    incidents_topic = bus.settings.topic("incidents")
    assert f'sigap_dispatcher_dead_letters_total{{topic="{incidents_topic}"}} 3.0' in metrics
    assert "sigap_dispatcher_offers_total 1.0" in metrics
    assert "sigap_dispatcher_match_seconds_count 1.0" in metrics


async def test_the_roster_is_rebuilt_from_the_compacted_topic(
    bus: Bus, topics: Settings, redis: Redis, roster: Roster, workers: Workers
) -> None:
    a, b, c = volunteer("a", 1), volunteer("b", 2), volunteer("c", 3, on_duty=False)
    await bus.register(a, b, c)
    await bus.send("volunteers", VolunteerDutyChanged(profile=c, on_duty=True))
    await bus.send_raw("volunteers", b"", key=b"b")  # not a tombstone: an invalid record is skipped
    await bus.producer.send_and_wait(topics.topic("volunteers"), None, key=b"b")  # tombstone: b leaves
    proc = ServiceProcess(
        ["-m", "services.dispatcher", "rebuild-roster"], workers.env, workers.log_dir / "rebuild.log"
    ).start()
    assert proc.proc is not None
    assert await asyncio.to_thread(proc.proc.wait, 60) == 0, proc.log_tail()
    assert "roster rebuilt: 5 records" in proc.log_tail()  # the invalid one skipped
    assert sorted(await redis.smembers(roster.keys.volunteers)) == ["a", "c"]
    assert await roster.status("a") == "available" and await roster.status("c") == "available"
    assert not await redis.exists(roster.keys.volunteer("b"))
    # the importable function does the same (what `sigap roster rebuild` calls)
    await redis.delete(roster.keys.volunteer("a"), roster.keys.volunteers)
    assert await rebuild_roster(topics) == 5
    assert await roster.status("a") == "available"
    # and matching works on the rebuilt roster
    workers.start()
    await bus.send("incidents", incident("INC-RB", [Need(unit=TAGANA, count=2)]))
    await eventually(
        lambda: sorted(v for _, v, _ in offers(bus)) == ["a", "c"],
        timeout_s=60,  # the worker starts, finds no generation marker and rebuilds Redis first
        what="offers on rebuilt roster",
    )


def holds_from_log(bus: Bus) -> dict[str, list[tuple[datetime, datetime | None, str]]]:
    """Per volunteer: (offered at, ended at, offer id) from the dispatch log's own times."""
    started: dict[str, tuple[str, datetime]] = {}
    holds: dict[str, list[tuple[datetime, datetime | None, str]]] = defaultdict(list)
    ends = {"offer.declined", "offer.expired", "offer.withdrawn"}
    events = sorted(bus.events("dispatch-log"), key=lambda e: e.occurred_at)
    for e in events:
        p = e.payload
        offer_id = getattr(p, "offer_id", None)
        if e.event_type == "offer.made":
            started[offer_id] = (p.volunteer_id, e.occurred_at)  # type: ignore[attr-defined]
        elif offer_id in started and (
            e.event_type in ends or (e.event_type == "assignment.status_changed" and p.status == "released")  # type: ignore[attr-defined]
        ):
            vid, at = started.pop(offer_id)
            holds[vid].append((at, e.occurred_at, offer_id))
    for offer_id, (vid, at) in started.items():
        holds[vid].append((at, None, offer_id))
    return holds


def assert_one_hold_at_a_time(bus: Bus) -> int:
    checked = 0
    for vid, spans in holds_from_log(bus).items():
        spans.sort(key=lambda s: s[0])
        for (_, end, offer), (next_start, _, next_offer) in itertools.pairwise(spans):
            assert end is not None and end < next_start, f"{vid} held {offer} and {next_offer} at once"
            checked += 1
    return checked


def assert_never_overstaffed(bus: Bus, need_count: int) -> None:
    """Replay each incident's log in its own order: outstanding + accepted never exceed the need."""
    by_incident: dict[str, set[str]] = defaultdict(set)
    for e in bus.events("dispatch-log"):  # records of one incident are in one partition, in order
        p = e.payload
        incident_id = getattr(p, "incident_id", "")
        offer_id = getattr(p, "offer_id", None)
        if e.event_type == "offer.made":
            by_incident[incident_id].add(offer_id)  # type: ignore[arg-type]
        elif e.event_type in ("offer.declined", "offer.expired", "offer.withdrawn"):
            by_incident[incident_id].discard(offer_id)  # type: ignore[arg-type]
        assert len(by_incident[incident_id]) <= need_count, f"{incident_id} overfilled"


async def test_two_workers_never_double_book_a_volunteer(bus: Bus, workers: Workers, roster: Roster) -> None:
    """Rules 4 and 6 under contention: 12 incidents × 2 people, 6 volunteers, two worker processes;
    volunteers answer at random (accept, decline, or let it expire), accepted ones are released soon."""
    rng = random.Random(20260101)
    people = [volunteer(f"v{i}", 0.5 + i * 0.3) for i in range(6)]
    await bus.register(*people)
    await asyncio.gather(
        *(asyncio.to_thread(workers.start, name, SIGAP_OFFER_TTL_S="2") for name in ("w1", "w2"))
    )
    await roster.ready(6)
    incidents = [f"INC-{n:02d}" for n in range(12)]
    for incident_id in incidents:
        await bus.send("incidents", incident(incident_id, [Need(unit=TAGANA, count=2)]))

    answered: set[str] = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 25
    releases: list[tuple[int, dict[str, str]]] = []
    """(the round of the test's loop to release in, the assignment) of the accepted offers"""

    async def release(assignment: dict[str, str]) -> None:
        await bus.send("responses", AssignmentStatusChanged(**assignment, status="released"))

    rounds = 0
    while loop.time() < deadline:
        rounds += 1
        for due in [r for r in releases if r[0] <= rounds]:
            releases.remove(due)
            await release(due[1])
        for incident_id, vid, offer_id in offers(bus):
            if offer_id in answered:
                continue
            answered.add(offer_id)
            roll = rng.random()
            common = {"offer_id": offer_id, "incident_id": incident_id, "volunteer_id": vid}
            if roll < 0.55:
                await bus.send("responses", OfferAccepted(**common))
                releases.append((rounds + rng.randint(2, 10), common))  # released a few rounds later
            elif roll < 0.85:
                await bus.send("responses", OfferDeclined(**common))
            # else: let it expire
        await asyncio.sleep(0.1)
    for _, assignment in releases:
        await release(assignment)
    for incident_id in incidents:
        await bus.send("incidents", IncidentClosed(incident_id=incident_id))
    await eventually(
        lambda: (
            len(
                [
                    e
                    for e in bus.events("dispatch-log", "incident.status_changed")
                    if e.payload.status == "closed"
                ]
            )
            == 12
        ),  # type: ignore[attr-defined]
        30,
        "every incident closed",
    )

    made = bus.events("dispatch-log", "offer.made")
    assert len(made) >= 20, "the run should exercise many offers"
    pairs = [(e.payload.incident_id, e.payload.volunteer_id) for e in made]  # type: ignore[attr-defined]
    assert len(pairs) == len(set(pairs)), "a volunteer was offered the same incident twice"
    assert assert_one_hold_at_a_time(bus) > 10
    assert_never_overstaffed(bus, 2)
    assert len(bus.events("dispatch-log", "offer.expired")) > 0
    for person in people:
        fields = await roster.fields(person.volunteer_id)
        assert fields["status"] in ("available", "resting") and not fields.get("offer_id")
    logs = workers.logs()
    assert "Traceback" not in logs, logs


async def test_a_killed_worker_loses_nothing_and_offers_nothing_twice(
    bus: Bus, workers: Workers, roster: Roster
) -> None:
    """SIGKILL mid-dispatch, restart: pending offers still expire and are re-offered, every incident
    is dispatched, and no offer is made twice."""
    await bus.register(*(volunteer(v, km) for v, km in (("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5))))
    # the broker's shortest session: the killed worker's partitions move to the restarted one once it
    # has timed out (the default 10 s was 4 s of waiting)
    worker = workers.start("w1", SIGAP_OFFER_TTL_S="3", SIGAP_KAFKA_SESSION_TIMEOUT_S="6")
    await roster.ready(5)
    await bus.send("incidents", incident("INC-K1", [Need(unit=TAGANA, count=2)]))
    await eventually(lambda: sorted(v for i, v, _ in offers(bus) if i == "INC-K1") == ["a", "b"], what="a, b")
    for n in range(2, 6):  # more incidents, and the worker dies while they are in flight
        await bus.send("incidents", incident(f"INC-K{n}", [Need(unit=TAGANA, count=1)]))
    worker.kill()
    restarted = workers.start("w1-again", clocked=True, SIGAP_OFFER_TTL_S="3")
    assert restarted is not worker

    # a and b let INC-K1's offers expire; nobody answers anything: every offer expires in turn (the
    # restarted worker's clock moved past each round's deadlines), and the incidents end understaffed
    # once everyone has been asked
    def settled() -> bool:
        asked = defaultdict(set)
        for i, v, _ in offers(bus):
            asked[i].add(v)
        return all(len(asked[f"INC-K{n}"]) == 5 for n in range(1, 6))

    for _ in range(30):
        if settled():
            break
        made = len(offers(bus))
        await move_clock(restarted, 4, "expire_offers")
        await eventually(lambda made=made: len(offers(bus)) > made or settled(), 30, "the next offers")
    assert settled(), "every incident offered to all five volunteers in turn"

    made = bus.events("dispatch-log", "offer.made")
    pairs = [(e.payload.incident_id, e.payload.volunteer_id) for e in made]  # type: ignore[attr-defined]
    assert len(set(pairs)) == 25
    by_offer = defaultdict(set)
    for e in made:
        by_offer[e.payload.offer_id].add(e.event_id)  # type: ignore[attr-defined]
    assert all(len(ids) == 1 for ids in by_offer.values()), "an offer was made twice under different events"
    assert len({(i, v) for i, v, _ in offers(bus)}) == 25
    assert assert_one_hold_at_a_time(bus) > 0

    async def five_assignments(incident_id: str) -> bool:
        view = await roster.incident(incident_id)
        return view is not None and len(view.assignments) == 5

    for n in range(1, 6):  # the read model is saved after the dispatch log is acknowledged
        await eventually(lambda n=n: five_assignments(f"INC-K{n}"), what=f"INC-K{n}'s read model")
