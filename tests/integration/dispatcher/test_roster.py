"""The Redis roster's atomic scripts against the real Redis (no worker): rule 4 holds by itself."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from redis.asyncio import Redis

from schemas.events import Need
from schemas.vocabulary import AssignmentStatus, Skill, Unit, VolunteerStatus
from services.common.config import Settings
from services.dispatcher.commands import FindCandidates
from services.dispatcher.matching import find_and_reserve
from services.dispatcher.ranking import ineligibility, rank
from services.dispatcher.roster import ProfileChange, Roster, iso
from services.dispatcher.runcards import load_runcards
from services.dispatcher.settings import DEFAULT_RUNCARDS
from tests.integration.dispatcher.conftest import HERE, volunteer

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)
LATER = NOW + timedelta(minutes=3)
A = AssignmentStatus


@pytest.fixture
async def roster(redis: Redis, settings: Settings) -> Roster:
    r = Roster(redis, settings.redis_prefix)
    for vid, km in (("a", 1.0), ("b", 2.0)):
        assert await r.apply(volunteer(vid, km), event_at=NOW, now=NOW) == 1
    return r


async def test_a_volunteer_holds_one_offer_at_a_time_and_reserving_is_idempotent(roster: Roster) -> None:
    assert await roster.reserve("a", "o1", "INC-1", LATER, NOW)
    assert await roster.reserve("a", "o1", "INC-1", LATER, NOW)  # the same offer again: fine
    assert not await roster.reserve("a", "o2", "INC-2", LATER, NOW)  # another offer: refused
    results = await asyncio.gather(
        *(roster.reserve("b", f"race{i}", f"INC-{i}", LATER, NOW) for i in range(20))
    )
    assert results.count(True) == 1
    hold = await roster.hold("a")
    assert (hold.status, hold.incident_id, hold.offer_id) == ("offered", "INC-1", "o1")
    offer = await roster.offer("o1")
    assert (offer["incident_id"], offer["volunteer_id"], offer["status"]) == ("INC-1", "a", "offered")
    assert datetime.fromisoformat(offer["expires_at"] or "") == LATER
    # a held volunteer is no longer in the matching index
    assert await roster.search(Unit.TAGANA, Skill.EVACUATION, HERE, 5, 10) == []


async def test_freeing_ends_only_that_offer(roster: Roster) -> None:
    await roster.reserve("a", "o1", "INC-1", LATER, NOW)
    assert not await roster.free("a", "stale", A.EXPIRED, NOW)  # a stale expiry frees nobody
    assert (await roster.hold("a")).offer_id == "o1"
    assert await roster.free("a", "o1", A.DECLINED, NOW)
    assert (await roster.hold("a")).status == "available"
    assert (await roster.offer("o1"))["status"] == "declined"
    assert await roster.search(Unit.TAGANA, Skill.EVACUATION, HERE, 5, 10) == ["a", "b"]


async def test_accept_records_the_deployment_and_release_may_rest(roster: Roster, redis: Redis) -> None:
    await roster.reserve("a", "o1", "INC-1", LATER, NOW)
    assert await roster.confirm("a", "o1", NOW)
    fields = await redis.hgetall(roster.keys.volunteer("a"))
    assert fields["status"] == "assigned" and fields["last_deployed_at"].startswith(
        NOW.strftime("%Y-%m-%dT%H")
    )
    assert await redis.zscore(roster.own.deadlines, "o1") is None
    assert not await roster.free("a", "o1", A.RELEASED, NOW, resting_until=NOW + timedelta(hours=8))
    assert (await roster.hold("a")).status == "resting"
    assert await roster.wake_rested(NOW + timedelta(hours=1)) == []
    assert await roster.wake_rested(NOW + timedelta(hours=9)) == ["a"]
    assert (await roster.hold("a")).status == "available"


async def test_due_offers_are_claimed_with_a_lease(roster: Roster) -> None:
    await roster.reserve("a", "o1", "INC-1", NOW - timedelta(seconds=1), NOW)
    await roster.reserve("b", "o2", "INC-2", LATER, NOW)
    lease = timedelta(seconds=15)
    assert await roster.claim_due_offers(NOW, lease) == [("o1", "INC-1", "a")]
    assert await roster.claim_due_offers(NOW + timedelta(seconds=5), lease) == []  # leased to the first
    assert await roster.claim_due_offers(NOW + timedelta(seconds=16), lease) == [("o1", "INC-1", "a")]
    await roster.free("a", "o1", A.EXPIRED, NOW)
    assert await roster.claim_due_offers(NOW + timedelta(hours=1), lease) == [("o2", "INC-2", "b")]


async def test_profiles_apply_in_event_order_and_duty_moves_the_index(roster: Roster) -> None:
    off = volunteer("a", 1.0, on_duty=False)
    assert await roster.apply(off, event_at=NOW - timedelta(minutes=1), now=NOW) == -1  # older: skipped
    assert (await roster.hold("a")).status == "available"
    assert await roster.apply(off, event_at=NOW + timedelta(seconds=1), now=NOW) == 0
    assert (await roster.hold("a")).status == "off_duty"
    assert await roster.search(Unit.TAGANA, None, HERE, 5, 10) == ["b"]
    # a busy volunteer keeps the hold through a profile change
    await roster.reserve("b", "o9", "INC-9", LATER, NOW)
    await roster.apply(
        volunteer("b", 3.0, skills=(Skill.LOGISTICS,)), event_at=NOW + timedelta(seconds=2), now=NOW
    )
    assert (await roster.hold("b")).offer_id == "o9"
    await roster.free("b", "o9", A.WITHDRAWN, NOW)
    assert await roster.search(Unit.TAGANA, Skill.LOGISTICS, HERE, 5, 10) == ["b"]
    assert await roster.search(Unit.TAGANA, Skill.EVACUATION, HERE, 5, 10) == []
    await roster.remove("b")
    assert await roster.search(Unit.TAGANA, None, HERE, 50, 10) == []


async def test_matching_widens_the_rings_and_reports_exhaustion(roster: Roster) -> None:
    runcards = load_runcards(DEFAULT_RUNCARDS)
    for vid, km in (("c", 7.0), ("d", 15.0), ("e", 24.0)):
        await roster.apply(volunteer(vid, km), event_at=NOW, now=NOW)
    command = FindCandidates(
        incident_id="INC-W",
        need_index=0,
        need=Need(unit=Unit.TAGANA, count=5),
        location=HERE,
        offer_ids=tuple(f"w{i}" for i in range(5)),
        expires_at=LATER,
        exclude=frozenset({"b"}),
    )
    found = await find_and_reserve(roster, command, NOW, runcards=runcards, max_radius_km=20.0)
    assert [r.volunteer_id for r in found.reservations] == ["a", "c", "d"]  # b excluded, e beyond 20 km
    assert [round(r.distance_km) for r in found.reservations] == [1, 7, 15]
    assert found.exhausted and found.searched_km == 20.0
    again = await find_and_reserve(roster, command, NOW, runcards=runcards, max_radius_km=20.0)
    assert [r.offer_id for r in again.reservations] == ["w0", "w1", "w2"]  # a redelivery: same holds


async def test_a_late_yes_takes_the_volunteer_back_only_when_free(roster: Roster, redis: Redis) -> None:
    await roster.reserve("a", "o1", "INC-1", LATER, NOW)
    await roster.free("a", "o1", A.DECLINED, NOW)
    await roster.reserve("b", "o2", "INC-2", LATER, NOW)
    assert not await roster.reclaim("b", "o3", "INC-1", NOW)  # b is held by another incident
    assert await roster.reclaim("a", "o1", "INC-1", NOW)
    assert await roster.reclaim("a", "o1", "INC-1", NOW)  # idempotent
    fields = await redis.hgetall(roster.keys.volunteer("a"))
    assert (fields["status"], fields["offer_id"], fields["incident_id"]) == ("assigned", "o1", "INC-1")
    assert (await roster.offer("o1"))["status"] == "accepted"
    assert await roster.search(Unit.TAGANA, None, HERE, 5, 10) == []


async def test_a_ring_searched_from_a_small_disc_finds_the_same_nearest(roster: Roster) -> None:
    """`search.lua` widens a small disc until it holds COUNT volunteers: the answer is the whole ring's
    nearest COUNT, dense or sparse, and the rows carry the profiles used to tell the volunteers."""
    distances = [0.003 * i for i in range(1, 301)]  # 300 volunteers 3 m … 900 m east
    random.Random(4).shuffle(distances)
    changes = [ProfileChange(volunteer(f"d{i:03d}", km), NOW) for i, km in enumerate(distances)]
    await roster.apply_many(changes, NOW)
    whole = await roster.nearest(Unit.TAGANA, None, HERE, 1.0, count=8, from_km=1.0)
    small = await roster.nearest(Unit.TAGANA, None, HERE, 1.0, count=8, from_km=0.01)
    assert [c.volunteer_id for c in small.candidates] == [c.volunteer_id for c in whole.candidates]
    assert [round(c.distance_km * 1000) for c in small.candidates] == [3 * i for i in range(1, 9)]
    assert small.found == whole.found == 8
    first = small.candidates[0].volunteer_id
    assert json.loads(small.profiles[first])["name"] == f"Relawan {first}"
    # sparse beyond 900 m: the disc grows to the ring's edge and reports all it holds (a at 1 km too)
    ring = await roster.nearest(Unit.TAGANA, None, HERE, 1.5, count=1000, from_km=0.01)
    assert ring.found == 301 and not ring.offers_exist


async def test_the_first_search_tells_a_redelivery_its_offers_exist(roster: Roster) -> None:
    assert not (await roster.nearest(Unit.TAGANA, None, HERE, 5, count=4, unless_offered=["o1"])).offers_exist
    await roster.reserve("a", "o1", "INC-1", LATER, NOW)
    marked = await roster.nearest(Unit.TAGANA, None, HERE, 5, count=4, unless_offered=["o0", "o1"])
    assert marked.offers_exist and marked.candidates == []
    told: dict[str, str] = {}
    assert await roster.free("a", "o1", A.WITHDRAWN, NOW, profiles=told)
    assert json.loads(told["a"])["volunteer_id"] == "a"  # read with the release, for the notice


async def test_the_reservation_takes_ranking_py_s_first_picks_of_the_ring(
    roster: Roster, redis: Redis
) -> None:
    """One ranking authority: `ranking.py` orders the ring's rows (eligibility, the fairness order,
    ties by id) and `reserve_ranked.lua` reserves the first of them still free, in that order, for
    the offers. Random rosters with every eligibility rule and rank tie in play: the volunteers
    reserved are exactly ranking.py's first picks, and they are held."""
    runcards = load_runcards(DEFAULT_RUNCARDS)
    rng = random.Random(7)
    for trial in range(25):
        skill = rng.choice([None, Skill.EVACUATION, Skill.WATER_RESCUE])
        ids = []
        for i in range(rng.randint(3, 25)):
            vid = f"r{trial}x{i}"
            ids.append(vid)
            km = rng.choice([0.2, 0.25, 0.31, 0.5, 0.55, 1.2, 2.0]) + rng.choice([0.0, 0.0001, 0.04])
            skills = (Skill.EVACUATION, Skill.WATER_RESCUE) if rng.random() < 0.7 else (Skill.EVACUATION,)
            until = rng.choice([date(2030, 1, 1), date(2030, 1, 1), date(2020, 1, 1), None])
            await roster.apply(
                volunteer(vid, km, skills=skills, certified_until=until), event_at=NOW, now=NOW
            )
            key, roll = roster.keys.volunteer(vid), rng.random()
            if roll < 0.1:
                await redis.hset(key, "on_duty", "0")
            elif roll < 0.15:
                await redis.hset(key, "offer_id", "elsewhere")
            elif roll < 0.2:
                await redis.hset(key, "rest_ts", str((NOW + timedelta(hours=1)).timestamp()))
            elif roll < 0.25:
                profile = json.loads(await redis.hget(key, "profile") or "{}")
                await redis.hset(key, "profile", json.dumps({**profile, "active": False}))
            deployed = [
                iso(NOW - timedelta(days=d)) for d in rng.sample([1, 5, 20, 40, 60], rng.randint(0, 3))
            ]
            if deployed:
                await redis.hset(
                    key,
                    mapping={"deployments": json.dumps(sorted(deployed)), "last_deployed_at": max(deployed)},
                )
        count = rng.randint(1, 4)
        need = Need(unit=Unit.TAGANA, skill=skill, count=count)
        ring = await roster.nearest(Unit.TAGANA, skill, HERE, 3.0, count=2 * count + 6, skip=[ids[0]])
        eligible = [
            c
            for c in ring.candidates
            if ineligibility(c, need, NOW, certification_required=runcards.certification_required) is None
        ]
        ranked = rank(eligible, NOW, runcards.distance_resolution_km)
        offers = tuple(f"t{trial}o{k}" for k in range(count))
        reserved = await roster.reserve_ranked(
            ranked, ring, offer_ids=offers, incident_id=f"INC-{trial}", expires_at=LATER, now=NOW
        )
        assert reserved == [c.volunteer_id for c in ranked[:count]], trial
        for offer_id, vid in zip(offers, reserved, strict=False):
            assert (await roster.hold(vid)).offer_id == offer_id
        assert ids[0] not in reserved
        for vid in ids:
            await roster.remove(vid)


async def test_a_candidate_taken_or_changed_since_the_read_is_passed_over(roster: Roster) -> None:
    """Between the ring's read and the reservation another incident may take a candidate, or their
    profile may move them to other geo keys: the reservation passes them over and takes the next in
    ranking.py's order; nobody is double-booked."""
    await roster.apply(volunteer("c", 3.0), event_at=NOW, now=NOW)
    ring = await roster.nearest(Unit.TAGANA, None, HERE, 5, count=8)
    ranked = rank(ring.candidates, NOW)
    assert [c.volunteer_id for c in ranked] == ["a", "b", "c"]
    assert await roster.reserve("a", "other", "INC-X", LATER, NOW)  # taken by another incident
    moved = volunteer("b", 2.0, skills=(Skill.EVACUATION, Skill.WATER_RESCUE))
    assert await roster.apply(moved, event_at=NOW + timedelta(seconds=1), now=NOW) >= 0
    reserved = await roster.reserve_ranked(
        ranked, ring, offer_ids=("p0", "p1"), incident_id="INC-P", expires_at=LATER, now=NOW
    )
    assert reserved == ["c"]
    assert (await roster.hold("a")).offer_id == "other"
    assert (await roster.hold("b")).status == VolunteerStatus.AVAILABLE
    assert (await roster.hold("c")).offer_id == "p0"
    assert await roster.search(Unit.TAGANA, None, HERE, 5, 10) == ["b"]
    # searched again, b is read with their new keys and reserved
    ring = await roster.nearest(Unit.TAGANA, None, HERE, 5, count=8)
    reserved = await roster.reserve_ranked(
        rank(ring.candidates, NOW), ring, offer_ids=("p1",), incident_id="INC-P", expires_at=LATER, now=NOW
    )
    assert reserved == ["b"]
    assert await roster.search(Unit.TAGANA, Skill.WATER_RESCUE, HERE, 5, 10) == []
