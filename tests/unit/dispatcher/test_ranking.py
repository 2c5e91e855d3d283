"""Candidates (rule 2) and their order (rule 3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from schemas.events import Need
from schemas.vocabulary import Skill, Unit, VolunteerStatus
from services.dispatcher.ranking import Candidate, eligible, ineligibility, rank

NOW = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # 03:00 on 2 March in Kediri (WIB)
CERTIFIED = {Skill.WATER_RESCUE, Skill.FIRST_AID}
RESCUE = Need(unit=Unit.TAGANA, skill=Skill.WATER_RESCUE, count=1)


def vol(vid: str, distance: float = 1.0, **kw: object) -> Candidate:
    base: dict[str, object] = {
        "name": vid,
        "unit": Unit.TAGANA,
        "skills": frozenset({Skill.WATER_RESCUE, Skill.EVACUATION}),
        "certifications": {Skill.WATER_RESCUE: date(2027, 1, 1)},
    }
    base.update(kw)
    return Candidate(volunteer_id=vid, distance_km=distance, **base)  # type: ignore[arg-type]


def why(c: Candidate, need: Need = RESCUE, excluded: frozenset[str] = frozenset()) -> str | None:
    return ineligibility(c, need, NOW, certification_required=CERTIFIED, excluded=excluded)


def test_nearest_first() -> None:
    ranked = rank([vol("far", 3.0), vol("near", 0.4), vol("mid", 1.2)], NOW, 0.1)
    assert [c.volunteer_id for c in ranked] == ["near", "mid", "far"]


def test_equally_near_then_fewer_deployments_in_the_last_30_days() -> None:
    busy = vol("busy", 1.01, deployments=(NOW - timedelta(days=2), NOW - timedelta(days=9)))
    rested = vol(
        "rested",
        1.04,
        deployments=(NOW - timedelta(days=40), NOW - timedelta(days=50), NOW - timedelta(days=3)),
    )
    assert [c.volunteer_id for c in rank([busy, rested], NOW, 0.1)] == ["rested", "busy"]
    # without a distance resolution the exact distance decides
    assert [c.volunteer_id for c in rank([busy, rested], NOW, 0.0)] == ["busy", "rested"]


def test_then_longest_since_last_deployment_and_never_deployed_first() -> None:
    recent = vol("recent", 2.0, last_deployed_at=NOW - timedelta(days=40))
    long_ago = vol("long_ago", 2.0, last_deployed_at=NOW - timedelta(days=90))
    never = vol("never", 2.0)
    ranked = rank([recent, long_ago, never], NOW, 0.1)
    assert [c.volunteer_id for c in ranked] == ["never", "long_ago", "recent"]
    # and a full tie is broken by id, so two workers agree
    assert [c.volunteer_id for c in rank([vol("b"), vol("a")], NOW, 0.1)] == ["a", "b"]


def test_eligible_candidates() -> None:
    assert why(vol("ok")) is None
    assert eligible(vol("ok"), RESCUE, NOW, certification_required=CERTIFIED)


def test_ineligible_candidates_with_reasons() -> None:
    assert why(vol("x", on_duty=False)) == "off duty"
    assert why(vol("x", active=False)) == "off duty"
    assert why(vol("x", unit=Unit.TRC)) == "unit trc"
    assert why(vol("x", skills=frozenset({Skill.EVACUATION}))) == "lacks water_rescue"
    assert why(vol("x", certifications={})) == "no valid water_rescue certification"
    assert why(vol("x", resting_until=NOW + timedelta(minutes=1))) == "resting"
    assert why(vol("x", resting_until=NOW - timedelta(minutes=1))) is None
    assert why(vol("x", status=VolunteerStatus.OFFERED)) == "busy (offered)"
    assert why(vol("x", holds_offer=True)) == "busy (available)"
    assert why(vol("x"), excluded=frozenset({"x"})) == "already offered this incident"


def test_certification_is_valid_through_its_local_expiry_date() -> None:
    # NOW is already 2 March in Kediri: a certificate that ran out on 1 March no longer counts
    assert why(vol("x", certifications={Skill.WATER_RESCUE: date(2026, 3, 2)})) is None
    assert why(vol("x", certifications={Skill.WATER_RESCUE: date(2026, 3, 1)})) is not None


def test_skills_without_required_certification_and_needs_without_skill() -> None:
    evac = Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=1)
    assert why(vol("x", certifications={}), evac) is None
    assert why(vol("x", skills=frozenset()), Need(unit=Unit.TAGANA, count=1)) is None
