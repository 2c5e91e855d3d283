"""Rule 7's registry against the real Redis (no worker): a freed volunteer wakes the oldest
understaffed incidents they could help, a bounded number, never every incident waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from schemas.vocabulary import AssignmentStatus, Skill, Unit
from services.common.config import Settings
from services.dispatcher.roster import Roster
from services.dispatcher.store import IncidentStore
from tests.integration.dispatcher.conftest import volunteer

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)
T0 = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
EVAC, TRC = "tagana:evacuation", "trc"


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


@pytest.fixture
async def store(redis: Redis, settings: Settings) -> IncidentStore:
    return IncidentStore(redis, settings.redis_prefix)


@pytest.fixture
async def roster(redis: Redis, settings: Settings) -> Roster:
    r = Roster(redis, settings.redis_prefix)
    for vid, unit, skills in (
        ("e1", Unit.TAGANA, (Skill.EVACUATION,)),
        ("e2", Unit.TAGANA, (Skill.EVACUATION,)),
        ("t1", Unit.TRC, (Skill.RAPID_ASSESSMENT,)),
        ("k1", Unit.TAGANA, (Skill.PUBLIC_KITCHEN,)),
    ):
        assert await r.apply(volunteer(vid, 1.0, unit, skills), event_at=NOW, now=NOW) == 1
    return r


async def shortage(store: IncidentStore, how_many: int, kind: str, first_minute: int = 0) -> list[str]:
    """`how_many` incidents understaffed, short of `kind`, reported a minute apart (oldest first)."""
    ids = [f"INC-{kind}-{i:04d}" for i in range(how_many)]
    for i, incident_id in enumerate(ids):
        await store.mark_understaffed(incident_id, at(first_minute + i), [kind])
    return ids


async def test_a_freed_volunteer_wakes_the_oldest_incidents_of_their_kind_only(
    store: IncidentStore, roster: Roster
) -> None:
    """The storm this replaces: 1,500 incidents waiting, and every free retried all of them."""
    evac = await shortage(store, 1500, EVAC)
    trc = await shortage(store, 50, TRC, first_minute=-100)  # older, but e1 cannot fill them
    assert await store.wake_for(["e1"], fanout=2) == evac[:2]
    assert await store.wake_for(["e1"], fanout=2) == []  # their retries are on their way
    await store.clear_retry(evac[1])  # that retry ran and found nobody
    assert await store.wake_for(["e1"], fanout=2) == [evac[1]]
    # a TRC volunteer wakes the TRC incidents; two freed evacuees wake two each, oldest first
    assert await store.wake_for(["t1"], fanout=3) == trc[:3]
    assert await store.wake_for(["e1", "e2"], fanout=2) == evac[2:4]  # 0 and 1 already on their way
    assert await store.wake_for(["k1"], fanout=2) == []  # nobody is short of a public kitchen
    assert len(await store.understaffed()) == 500  # the periodic backstop still sees the oldest 500


async def test_only_an_available_volunteer_wakes_anything_and_exclusions_hold(
    store: IncidentStore, roster: Roster
) -> None:
    evac = await shortage(store, 10, EVAC)
    assert await roster.reserve("e1", "o1", "INC-elsewhere", at(10), NOW)  # taken again meanwhile
    assert await store.wake_for(["e1", "nobody"], fanout=2) == []
    await roster.free("e1", "o1", AssignmentStatus.DECLINED, NOW)
    assert await store.wake_for(["e1"], fanout=2, exclude=[evac[0]]) == evac[1:3]
    assert await store.wake_for([], fanout=2) == []


async def test_the_registries_follow_what_an_incident_is_short_of(
    store: IncidentStore, roster: Roster, redis: Redis
) -> None:
    await store.mark_understaffed("INC-1", at(0), [TRC])
    await store.mark_understaffed("INC-1", at(0), [EVAC, TRC])  # short of evacuees too now
    assert await store.wake_for(["e1"], fanout=1) == ["INC-1"]
    await store.clear_retry("INC-1")
    await store.mark_understaffed("INC-1", at(0), [TRC])  # evacuees found
    assert await store.wake_for(["e1"], fanout=1) == []
    assert await store.wake_for(["t1"], fanout=1) == ["INC-1"]
    await store.clear_retry("INC-1")
    await store.clear_understaffed("INC-1")  # staffed or ended: out of every registry
    assert await store.wake_for(["t1", "e1"], fanout=5) == []
    assert await store.understaffed() == []
    assert [k async for k in redis.scan_iter(match=store.understaffed_kind_key("*"))] == []
    assert not await redis.exists(store.understaffed_kinds_key)
