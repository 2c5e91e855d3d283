"""Every key a roster script touches is declared, so its caller reads first what the script changes
(a volunteer's geo and kelurahan indexes, listed in its hash; the due members of a schedule; the
registries of the kinds a freed volunteer can fill) and the script checks it still holds. Here a
profile changes between that read and the script, against the real Redis: the script refuses the
stale keys, the caller tries again with the current ones, and no index is left holding a volunteer
it should not (nor missing one it should)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from schemas.events import VolunteerProfile
from schemas.vocabulary import AssignmentStatus, Skill, Unit
from services.common.config import Settings
from services.dispatcher.roster import Roster
from services.dispatcher.roster_checks import Indexes
from services.dispatcher.store import IncidentStore
from services.dispatcher.weather import kelurahan_of
from tests.integration.dispatcher.conftest import volunteer

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)
LATER = NOW + timedelta(minutes=3)
A = AssignmentStatus

BEFORE = volunteer("v", 1.0, skills=(Skill.EVACUATION,))
AFTER = volunteer("v", 2.0, Unit.TAGANA, (Skill.WATER_RESCUE, Skill.LOGISTICS), home="35.71.01.1001")


Meanwhile = Callable[[], Awaitable[Any]] | None


class Interleaved(Roster):
    """The dispatcher's roster, with another writer's change run once right after it has read a
    volunteer's indexes (`meanwhile`) or a schedule's due members (`meanwhile_due`), before the script
    that acts on what it read; the scripts it ran are recorded."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        super().__init__(redis, prefix)
        self.meanwhile: Meanwhile = None
        self.meanwhile_due: Meanwhile = None
        self.ran: list[str] = []

    async def _indexes(self, volunteer_ids: Sequence[str]) -> list[Indexes]:
        read = await super()._indexes(volunteer_ids)
        change, self.meanwhile = self.meanwhile, None
        if change is not None:
            await change()
        return read

    async def _due(self, schedule: str, now: datetime, limit: int) -> list[Any]:
        read = await super()._due(schedule, now, limit)
        change, self.meanwhile_due = self.meanwhile_due, None
        if change is not None:
            await change()
        return read

    async def _run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        self.ran.append(name)
        return await super()._run(name, keys, args)


@pytest.fixture
async def roster(redis: Redis, settings: Settings) -> Interleaved:
    r = Interleaved(redis, settings.redis_prefix)
    assert await r.apply(BEFORE, event_at=NOW, now=NOW) == 1
    return r


@pytest.fixture
async def other(redis: Redis, settings: Settings) -> Roster:
    """Another writer of the same roster (another worker, or this one's volunteer agent)."""
    return Roster(redis, settings.redis_prefix)


def change_profile(other: Roster, profile: VolunteerProfile = AFTER, second: int = 1) -> Callable[[], Any]:
    return lambda: other.apply(profile, event_at=NOW + timedelta(seconds=second), now=NOW)


async def indexed_under(redis: Redis, prefix: str, vid: str) -> tuple[set[str], set[str]]:
    """The geo and kelurahan index keys that hold the volunteer."""
    geo, kel = set(), set()
    async for key in redis.scan_iter(match=f"{prefix}dsp:geo:*", count=1000):
        if await redis.zscore(key, vid) is not None:
            geo.add(str(key))
    async for key in redis.scan_iter(match=f"{prefix}dsp:kel:*", count=1000):
        if await redis.sismember(key, vid):
            kel.add(str(key))
    return geo, kel


def kel_keys(roster: Roster, profile: VolunteerProfile) -> set[str]:
    return {roster.own.kelurahan(profile.unit, code) for code in kelurahan_of(profile)}


async def test_a_free_meeting_a_changed_profile_frees_into_the_new_geo_keys_only(
    roster: Interleaved, other: Roster, redis: Redis, settings: Settings
) -> None:
    assert await roster.reserve("v", "o1", "INC-1", LATER, NOW)
    assert await indexed_under(redis, settings.redis_prefix, "v") == (set(), kel_keys(roster, BEFORE))
    roster.meanwhile, roster.ran = change_profile(other), []
    assert await roster.free("v", "o1", A.DECLINED, NOW)
    assert roster.ran == ["free", "free"]  # the first refused the keys read before the change
    geo, kel = await indexed_under(redis, settings.redis_prefix, "v")
    assert geo == set(roster.geo_keys(AFTER))
    assert roster.own.geo(Unit.TAGANA, Skill.EVACUATION) not in geo
    assert kel == kel_keys(roster, AFTER) != kel_keys(roster, BEFORE)
    assert (await roster.offer("o1"))["status"] == "declined"
    assert (await roster.hold("v")).status == "available"


async def test_a_reservation_meeting_a_changed_profile_leaves_no_index_holding_the_volunteer(
    roster: Interleaved, other: Roster, redis: Redis, settings: Settings
) -> None:
    roster.meanwhile, roster.ran = change_profile(other), []
    assert await roster.reserve("v", "o1", "INC-1", LATER, NOW)
    assert roster.ran == ["reserve", "reserve"]
    assert await indexed_under(redis, settings.redis_prefix, "v") == (set(), kel_keys(roster, AFTER))
    assert (await roster.hold("v")).offer_id == "o1"
    assert await redis.zscore(roster.own.deadlines, "o1") is not None


async def test_a_late_yes_meeting_a_changed_profile_takes_the_volunteer_out_of_the_new_keys(
    roster: Interleaved, other: Roster, redis: Redis, settings: Settings
) -> None:
    roster.meanwhile, roster.ran = change_profile(other), []
    assert await roster.reclaim("v", "o1", "INC-1", NOW)
    assert roster.ran == ["reclaim", "reclaim"]
    assert await indexed_under(redis, settings.redis_prefix, "v") == (set(), kel_keys(roster, AFTER))
    assert (await roster.hold("v")).status == "assigned"


async def test_a_rest_ending_meeting_a_changed_profile_wakes_into_the_new_geo_keys(
    roster: Interleaved, other: Roster, redis: Redis, settings: Settings
) -> None:
    assert await roster.reserve("v", "o1", "INC-1", LATER, NOW)
    assert not await roster.free("v", "o1", A.RELEASED, NOW, resting_until=NOW + timedelta(hours=8))
    roster.meanwhile, roster.ran = change_profile(other), []
    assert await roster.wake_rested(NOW + timedelta(hours=9)) == ["v"]
    assert roster.ran == ["wake_rested", "wake_rested"]  # the first left v in the schedule
    geo, kel = await indexed_under(redis, settings.redis_prefix, "v")
    assert (geo, kel) == (set(roster.geo_keys(AFTER)), kel_keys(roster, AFTER))
    assert await redis.zscore(roster.own.resting, "v") is None
    assert await roster.wake_rested(NOW + timedelta(hours=10)) == []


async def test_a_profile_applied_over_a_changed_one_leaves_only_its_own_indexes(
    roster: Interleaved, other: Roster, redis: Redis, settings: Settings
) -> None:
    """Two profile events of one volunteer applied by two writers at once: the later event's script
    finds the indexes it read replaced by the earlier one's, reads again, and takes the volunteer out
    of those (not of the ones it read); one index set is left, the later profile's."""
    latest = volunteer("v", 3.0, Unit.TRC, (Skill.RAPID_ASSESSMENT,), home="35.71.03.1001")
    roster.meanwhile, roster.ran = change_profile(other, AFTER, 1), []
    assert await roster.apply(latest, event_at=NOW + timedelta(seconds=2), now=NOW) == 0
    # refused (pipelined, or alone on a cluster), then applied again on its own with the current keys
    assert roster.ran[-1] == "apply_profile"
    geo, kel = await indexed_under(redis, settings.redis_prefix, "v")
    assert (geo, kel) == (set(roster.geo_keys(latest)), kel_keys(roster, latest))
    assert kel.isdisjoint(kel_keys(roster, AFTER)) and geo.isdisjoint(roster.geo_keys(AFTER))


async def test_a_tombstone_meeting_a_changed_profile_leaves_every_index(
    roster: Interleaved, other: Roster, redis: Redis, settings: Settings
) -> None:
    roster.meanwhile, roster.ran = change_profile(other), []
    await roster.remove("v")
    assert roster.ran == ["remove_volunteer", "remove_volunteer"]
    assert await indexed_under(redis, settings.redis_prefix, "v") == (set(), set())
    assert not await redis.exists(roster.keys.volunteer("v"))


async def test_expiry_passes_over_an_offer_claimed_between_the_read_and_the_claim(
    roster: Interleaved, other: Roster
) -> None:
    assert await roster.reserve("v", "o1", "INC-1", NOW - timedelta(seconds=1), NOW)
    lease = timedelta(seconds=15)
    claimed: list[list[tuple[str, str, str]]] = []

    async def another_worker_claims() -> None:
        claimed.append(await other.claim_due_offers(NOW, lease))

    roster.meanwhile_due, roster.ran = another_worker_claims, []
    assert await roster.claim_due_offers(NOW, lease) == []  # read as due, leased by the other since
    assert claimed == [[("o1", "INC-1", "v")]]
    assert roster.ran == ["claim_due"]
    assert await roster.claim_due_offers(NOW + timedelta(seconds=16), lease) == [("o1", "INC-1", "v")]


class InterleavedStore(IncidentStore):
    """The incident store, with a profile change run once right after `wake_for` has read."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        super().__init__(redis, prefix)
        self.meanwhile: Meanwhile = None
        self.calls = 0

    async def _wake_call(
        self, vols: list[str], fanout: int, skip: list[str]
    ) -> tuple[list[str], list[str | int]]:
        self.calls += 1
        read = await super()._wake_call(vols, fanout, skip)
        change, self.meanwhile = self.meanwhile, None
        if change is not None:
            await change()
        return read


async def test_a_freed_volunteer_whose_kinds_changed_wakes_the_incidents_of_its_new_kinds(
    roster: Interleaved, other: Roster, redis: Redis, settings: Settings
) -> None:
    store = InterleavedStore(redis, settings.redis_prefix)
    await store.mark_understaffed("INC-EVAC", NOW, ["tagana:evacuation"])
    await store.mark_understaffed("INC-WATER", NOW, ["tagana:water_rescue"])
    store.meanwhile = change_profile(other)
    assert await store.wake_for(["v"], fanout=1) == ["INC-WATER"]
    assert store.calls == 2  # the first read named the evacuation registry: read again
    assert not await redis.exists(store.retry_key("INC-EVAC"))
