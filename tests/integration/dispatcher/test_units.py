"""IPSM members of several units (issue 19) against the real Redis: a candidate for a need of any of
their units, and still one active offer or assignment at a time (rule 4)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from schemas.events import Need
from schemas.vocabulary import AssignmentStatus, Skill, Unit
from services.common.config import Settings
from services.dispatcher.commands import FindCandidates
from services.dispatcher.matching import find_and_reserve
from services.dispatcher.ranking import ineligibility, rank
from services.dispatcher.roster import Roster
from services.dispatcher.runcards import load_runcards
from services.dispatcher.settings import DEFAULT_RUNCARDS
from tests.integration.dispatcher.conftest import HERE, volunteer

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)
LATER = NOW + timedelta(minutes=3)


def _find(incident_id: str, unit: Unit, skill: Skill | None, offer: str) -> FindCandidates:
    return FindCandidates(
        incident_id=incident_id,
        need_index=0,
        need=Need(unit=unit, skill=skill, count=1),
        location=HERE,
        offer_ids=(offer,),
        expires_at=LATER,
        exclude=frozenset(),
    )


@pytest.fixture
async def roster(redis: Redis, settings: Settings) -> Roster:
    r = Roster(redis, settings.redis_prefix)
    both = volunteer("both", 1.0, Unit.TAGANA, (Skill.PUBLIC_KITCHEN, Skill.VICTIM_REGISTRATION))
    both = both.model_copy(update={"units": [Unit.TAGANA, Unit.PBI_JKN]})
    assert await r.apply(both, event_at=NOW, now=NOW) == 1
    return r


async def test_a_member_of_two_units_is_indexed_under_both(roster: Roster) -> None:
    for unit in (Unit.TAGANA, Unit.PBI_JKN):
        assert await roster.search(unit, None, HERE, 5, 10) == ["both"]
        assert await roster.search(unit, Skill.VICTIM_REGISTRATION, HERE, 5, 10) == ["both"]
    assert await roster.search(Unit.TRC, None, HERE, 5, 10) == []
    assert await roster.in_kelurahan(Unit.PBI_JKN, [volunteer("x", 0).home_kelurahan_code]) == {"both"}


async def test_a_member_of_two_units_is_offered_for_either_and_never_twice_at_once(roster: Roster) -> None:
    runcards = load_runcards(DEFAULT_RUNCARDS)
    kitchen = _find("INC-K", Unit.TAGANA, Skill.PUBLIC_KITCHEN, "k0")
    registration = _find("INC-R", Unit.PBI_JKN, Skill.VICTIM_REGISTRATION, "r0")
    # the two incidents race for the one volunteer: exactly one gets them
    first, second = await asyncio.gather(
        find_and_reserve(roster, kitchen, NOW, runcards=runcards, max_radius_km=5.0),
        find_and_reserve(roster, registration, NOW, runcards=runcards, max_radius_km=5.0),
    )
    won = [f for f in (first, second) if f.reservations]
    assert len(won) == 1 and won[0].reservations[0].volunteer_id == "both"
    # reserved: out of every index of both units
    for unit in (Unit.TAGANA, Unit.PBI_JKN):
        assert await roster.search(unit, None, HERE, 5, 10) == []
    held = (await roster.hold("both")).offer_id
    loser = registration if won[0] is first else kitchen
    assert not (await find_and_reserve(roster, loser, NOW, runcards=runcards, max_radius_km=5.0)).reservations

    # freed: back in every index, and now the other unit's need gets them
    assert held is not None
    assert await roster.free("both", held, AssignmentStatus.DECLINED, NOW)
    for unit in (Unit.TAGANA, Unit.PBI_JKN):
        assert await roster.search(unit, None, HERE, 5, 10) == ["both"]
    retry = dataclasses.replace(loser, offer_ids=("again",))
    found = await find_and_reserve(roster, retry, NOW, runcards=runcards, max_radius_km=5.0)
    assert [r.volunteer_id for r in found.reservations] == ["both"]


async def test_a_one_unit_profile_is_not_offered_another_units_need(roster: Roster) -> None:
    runcards = load_runcards(DEFAULT_RUNCARDS)
    await roster.apply(
        volunteer("kt", 0.5, Unit.KARANG_TARUNA, (Skill.PUBLIC_KITCHEN,)), event_at=NOW, now=NOW
    )
    found = await find_and_reserve(
        roster,
        _find("INC-T", Unit.TAGANA, Skill.PUBLIC_KITCHEN, "t0"),
        NOW,
        runcards=runcards,
        max_radius_km=5.0,
    )
    assert [r.volunteer_id for r in found.reservations] == ["both"]  # the nearer kt is not Tagana


async def test_a_member_is_ranked_and_reserved_for_their_second_unit(roster: Roster) -> None:
    need = Need(unit=Unit.PBI_JKN, skill=Skill.VICTIM_REGISTRATION, count=1)
    ring = await roster.nearest(need.unit, need.skill, HERE, 5.0, count=4)
    ranked = rank([c for c in ring.candidates if ineligibility(c, need, NOW) is None], NOW)
    assert [c.volunteer_id for c in ranked] == ["both"]  # eligible for their second unit
    reserved = await roster.reserve_ranked(
        ranked, ring, offer_ids=("l0",), incident_id="INC-L", expires_at=LATER, now=NOW
    )
    assert reserved == ["both"]
    assert (await roster.hold("both")).offer_id == "l0"
    # out of every index of both units at once (the geo keys the reservation declared)
    for unit in (Unit.TAGANA, Unit.PBI_JKN):
        assert await roster.search(unit, None, HERE, 5, 10) == []
