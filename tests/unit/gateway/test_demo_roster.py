"""The demo roster `make up` loads: deterministic, realistic, spread over the city."""

from __future__ import annotations

from collections import Counter
from datetime import date

from schemas import reference
from schemas.vocabulary import ChannelType, Skill, Unit
from services.gateway import demo_roster

TODAY = date(2026, 11, 28)


def test_deterministic_ids_and_content() -> None:
    first, second = demo_roster.profiles(TODAY), demo_roster.profiles(TODAY)
    assert first == second
    assert [p.volunteer_id for p in first] == [f"V-{n:03d}" for n in range(1, 131)]


def test_shape_of_the_roster() -> None:
    roster = demo_roster.profiles(TODAY)
    units = Counter(p.unit for p in roster)
    assert dict(units) == {
        Unit.TRC: 26,
        Unit.TAGANA: 48,
        Unit.PBI_JKN: 20,
        Unit.KARANG_TARUNA: 24,
        Unit.PSM: 12,
    }
    two = [p for p in roster if len(p.units) > 1]
    assert 8 <= len(two) <= 30 and all(p.units[0] == p.unit for p in roster)
    assert all(p.nia for p in roster if Unit.TAGANA in p.units)
    for unit, skill in (
        (Unit.PBI_JKN, Skill.VICTIM_REGISTRATION),
        (Unit.PBI_JKN, Skill.SOCIAL_DATA),
        (Unit.KARANG_TARUNA, Skill.PUBLIC_KITCHEN),
        (Unit.PSM, Skill.PUBLIC_KITCHEN),
        (Unit.TAGANA, Skill.BOAT_OPERATOR),
    ):
        assert sum(1 for p in roster if unit in p.units and skill in p.skills) >= 5, (unit, skill)
    assert {p.home_kelurahan_code for p in roster} == set(reference.all_kelurahan())  # all 46
    on_duty = sum(p.on_duty for p in roster) / len(roster)
    assert 0.6 <= on_duty <= 0.8
    assert all(Skill.RAPID_ASSESSMENT in p.skills for p in roster if p.unit == Unit.TRC)
    tagana_skills = Counter(s for p in roster if p.unit == Unit.TAGANA for s in p.skills)
    for skill in (Skill.WATER_RESCUE, Skill.EVACUATION, Skill.PUBLIC_KITCHEN, Skill.LOGISTICS, Skill.SHELTER):
        assert tagana_skills[skill] >= 10, skill
    assert len({p.name for p in roster}) > 100


def test_certifications_where_skills_need_them_some_lapsed() -> None:
    roster = demo_roster.profiles(TODAY)
    certs = [c for p in roster for c in p.certifications]
    assert {c.skill for c in certs} <= {Skill.WATER_RESCUE, Skill.FIRST_AID}
    for p in roster:
        assert {c.skill for c in p.certifications} == {
            s for s in p.skills if s in demo_roster.CERTIFIED_SKILLS
        }
    lapsed = sum(c.expires_on < TODAY for c in certs) / len(certs)
    assert 0.03 < lapsed < 0.25


def test_homes_near_their_kelurahan_and_channels() -> None:
    for p in demo_roster.profiles(TODAY):
        home = reference.kelurahan(p.home_kelurahan_code)
        assert p.location is not None
        assert reference.haversine_km(p.location.lat, p.location.lon, home.lat, home.lon) < 1.0
        assert p.channels[-1].type == ChannelType.OUTBOX and p.channels[-1].address == p.volunteer_id
        assert p.phone.startswith("+62800")  # a toll-free range no phone has: never a real person
        assert all(not c.address.endswith(".com") for c in p.channels)
