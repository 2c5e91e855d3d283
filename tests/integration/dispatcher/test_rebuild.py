"""Redis lost mid-way and rebuilt from the topics (issue 15's "Done when"): the same incidents with
the same assignments, offers whose deadline passed during the outage expired and offered again,
nobody double-booked, a revoked self-service link still refused, new incidents dispatched."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from schemas.events import Need, OfferAccepted, VolunteerLinksRevoked, WeatherAlertIssued
from schemas.vocabulary import AssignmentStatus, Skill, Unit
from services.common.config import Settings
from services.common.readmodels import Keys
from services.dispatcher.rebuild import current_generation, rebuild
from services.dispatcher.roster import RosterKeys
from services.dispatcher.runcards import load_runcards
from services.dispatcher.settings import DEFAULT_RUNCARDS
from services.gateway.reads import ReadModels
from tests.integration.dispatcher.conftest import (
    Bus,
    Roster,
    Workers,
    eventually,
    incident,
    move_clock,
    volunteer,
)
from tests.integration.dispatcher.test_resilience import assert_one_hold_at_a_time
from tests.support.procs import ServiceProcess

pytestmark = pytest.mark.integration

A = AssignmentStatus
ONE = [Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=1)]
HOLDING = {"offered", "accepted", "en_route", "on_scene"}


async def flush_prefix(redis: Redis, prefix: str) -> int:
    """Redis lost: every key of this test's deployment gone (never FLUSHALL on the shared Redis)."""
    doomed = [k async for k in redis.scan_iter(match=prefix + "*", count=1000)]
    if doomed:
        await redis.delete(*doomed)
    return len(doomed)


async def views(roster: Roster, ids: list[str]) -> dict[str, dict[str, tuple[str, str]]]:
    """incident → offer id → (volunteer, status), from the API's read model."""
    out = {}
    for ident in ids:
        view = await roster.incident(ident)
        out[ident] = {a.offer_id: (a.volunteer_id, a.status.value) for a in view.assignments} if view else {}
    return out


async def assert_nobody_double_booked(
    redis: Redis, settings: Settings, roster: Roster, ids: list[str]
) -> None:
    holders: dict[str, list[str]] = defaultdict(list)
    for ident, offers in (await views(roster, ids)).items():
        view = await roster.incident(ident)
        if view is None or not view.status.is_open:
            continue
        for offer_id, (vid, status) in offers.items():
            if status in HOLDING:
                holders[vid].append(offer_id)
    assert all(len(h) == 1 for h in holders.values()), holders
    keys = Keys(settings.redis_prefix)
    for vid, held in holders.items():
        fields = await redis.hgetall(keys.volunteer(vid))
        assert fields.get("offer_id") == held[0], (vid, fields)
        assert fields.get("status") in ("offered", "assigned")


async def test_redis_lost_mid_way_is_rebuilt_from_the_topics(
    bus: Bus, workers: Workers, roster: Roster, redis: Redis, settings: Settings
) -> None:
    first = [f"INC-{n:02d}" for n in range(1, 11)]
    before, worker = await _dispatch_and_accept_seven(bus, workers, roster, first)

    # Redis lost, and the outage outlasts the three outstanding offers: a rebuild lock held meanwhile
    own = RosterKeys(settings.redis_prefix)
    assert await flush_prefix(redis, settings.redis_prefix) > 0
    await redis.set(own.rebuild_lock, "the outage", ex=120)  # a worker finding Redis empty waits
    assert await roster.incident(first[0]) is None  # the read models are gone with the rest
    last_deadline = max(e.payload.expires_at for e in bus.events("dispatch-log", "offer.made"))  # type: ignore[attr-defined]
    after_the_deadline = last_deadline + timedelta(seconds=1)
    # the operator's `sigap rebuild`, under the lock taken at the start of the outage, once the
    # outstanding offers' deadline has passed (the worker's clock is moved there too)
    report = await rebuild(
        settings, load_runcards(DEFAULT_RUNCARDS), now=after_the_deadline, lock_token="the outage"
    )
    assert report is not None
    assert report.generation == await current_generation(redis, settings.redis_prefix)
    assert (report.open_incidents, report.outstanding_offers, report.overdue_offers) == (10, 3, 3)
    assert report.double_booked == []

    async def unlocked() -> bool:  # a worker that looked meanwhile may hold it for a moment to look again
        return await redis.get(own.rebuild_lock) is None

    await eventually(unlocked, what="the rebuild lock given back")
    worker_now = datetime.fromisoformat((await move_clock(worker))["now"])
    await move_clock(worker, (after_the_deadline - worker_now).total_seconds(), "expire_offers")

    # the same incidents with the same assignments (the three overdue offers expire at once)
    after = await views(roster, first)
    for ident in first:
        assert set(after[ident]) >= set(before[ident]), ident
        for offer_id, (vid, status) in before[ident].items():
            assert after[ident][offer_id][0] == vid
            assert after[ident][offer_id][1] == status or (status, after[ident][offer_id][1]) == (
                "offered",
                "expired",
            )
    await eventually(
        lambda: len(bus.events("dispatch-log", "offer.expired")) >= 3, what="the overdue offers expired"
    )

    async def re_offered() -> bool:
        now = await views(roster, first[7:])
        return all(any(s in ("offered", "accepted") for _, s in now[i].values()) for i in first[7:])

    await eventually(re_offered, what="the three incidents offered to someone else")

    # the weather banner is back (replayed from weather-alerts, without notices)
    alert = await ReadModels(redis, Keys(settings.redis_prefix), lambda: datetime.now(UTC)).alert("CAP-R1")
    assert alert is not None and alert.status == "active"

    # the revoked self-service link stays revoked: the roster read model has generation 1
    reads = ReadModels(redis, Keys(settings.redis_prefix), lambda: datetime.now(UTC))
    entry = await reads.roster_entry("v11")
    assert entry is not None and entry.link_generation == 1  # a generation-0 link is refused (links.py)

    # new incidents are dispatched
    later_ones = [f"INC-{n:02d}" for n in range(11, 21)]
    for ident in later_ones:
        await bus.send("incidents", incident(ident, ONE))
    await eventually(lambda: any(i in later_ones for i, _, _ in made(bus)), what="a new incident's offer")
    await eventually(lambda: _all_settled(roster, later_ones), what="every new incident settled")
    await assert_nobody_double_booked(redis, settings, roster, first + later_ones)
    assert assert_one_hold_at_a_time(bus) > 0

    # lost again while running, nobody around: the worker rebuilds by itself before acting again
    generation = report.generation
    await flush_prefix(redis, settings.redis_prefix)
    await eventually(
        lambda: _generation_other_than(redis, settings, generation), what="the worker's own rebuild"
    )
    await eventually(lambda: roster.incident("INC-20"), what="INC-20 back on the API")
    await assert_nobody_double_booked(redis, settings, roster, first + later_ones)
    assert "Traceback" not in workers.logs(), workers.logs()


def made(bus: Bus) -> list[tuple[str, str, str]]:
    """(incident, volunteer, offer id) of every offer on the dispatch log."""
    return [
        (e.payload.incident_id, e.payload.volunteer_id, e.payload.offer_id)  # type: ignore[attr-defined]
        for e in bus.events("dispatch-log", "offer.made")
    ]


async def _dispatch_and_accept_seven(
    bus: Bus, workers: Workers, roster: Roster, first: list[str]
) -> tuple[dict[str, dict[str, tuple[str, str]]], ServiceProcess]:
    """12 volunteers (v11's links revoked), 10 incidents of one each: 7 accepted, 3 outstanding (the
    worker's clock stands still: no offer expires until the test moves it)."""
    people = [volunteer(f"v{i:02d}", 1.0 + i) for i in range(12)]
    await bus.register(*people)
    revoked = people[11].model_copy(update={"link_generation": 1})
    await bus.send("volunteers", VolunteerLinksRevoked(profile=revoked, by="coordinator#test"))
    now = datetime.now(UTC)
    banner = WeatherAlertIssued(
        alert_id="CAP-R1", event="Hujan Lebat", sent=now, expires=now + timedelta(hours=1), severity="Severe"
    )
    await bus.send("weather-alerts", banner)
    worker = workers.start("w1", clocked=True)
    await roster.ready(12)
    for ident in first:
        await bus.send("incidents", incident(ident, ONE))

    await eventually(lambda: len(made(bus)) >= 10, what="ten offers")
    offered = {i: (v, o) for i, v, o in made(bus)}
    accepted = first[:7]
    for ident in accepted:
        vid, offer_id = offered[ident]
        await bus.send(
            "responses", OfferAccepted(offer_id=offer_id, incident_id=ident, volunteer_id=vid, via="ops_room")
        )

    async def accepted_in_views() -> bool:
        seen = await views(roster, accepted)
        return all(any(s == "accepted" for _, s in seen[i].values()) for i in accepted)

    await eventually(accepted_in_views, what="seven offers accepted")
    before = await views(roster, first)
    outstanding = [o for i in first[7:] for o, (_, s) in before[i].items() if s == "offered"]
    assert len(outstanding) == 3

    return before, worker


async def _all_settled(roster: Roster, ids: list[str]) -> bool:
    for ident in ids:
        view = await roster.incident(ident)
        if view is None or view.status.value not in ("dispatching", "understaffed", "staffed"):
            return False
    return True


async def _generation_other_than(redis: Redis, settings: Settings, generation: str) -> bool:
    found = await current_generation(redis, settings.redis_prefix)
    return found is not None and found != generation
