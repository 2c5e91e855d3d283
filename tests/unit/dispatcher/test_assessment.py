"""Kaji cepat: the rule table turns an assessment into needs, and `decide` grows the incident by them
(the needs follow the latest assessment, never below what is already offered or assigned)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.events import AssessmentReport, IncidentAssessed, IncidentNeedsChanged, Need, OfferAccepted
from schemas.vocabulary import AssignmentStatus, IncidentStatus, IncidentType, Severity, Skill, Unit
from services.dispatcher.assessment import AssessmentRuleError, needs_for, parse_assessment_rules
from services.dispatcher.commands import Emit, FindCandidates
from tests.unit.dispatcher.world import ASSESSMENT_RULES, T0, World, ev, later, reported

FLOOD_MODERATE = [
    ("t0", Unit.TRC, (Skill.RAPID_ASSESSMENT,), 1.0),
    *[(f"w{i}", Unit.TAGANA, (Skill.WATER_RESCUE,), 1.0 + i) for i in range(2)],
    ("b0", Unit.TAGANA, (Skill.BOAT_OPERATOR,), 2.0),
    *[(f"e{i}", Unit.TAGANA, (Skill.EVACUATION,), 1.0 + i) for i in range(2)],
    *[(f"p{i}", Unit.PBI_JKN, (Skill.VICTIM_REGISTRATION,), 1.0 + i) for i in range(4)],
    *[(f"k{i}", Unit.TAGANA, (Skill.PUBLIC_KITCHEN,), 1.0 + i) for i in range(6)],
    *[(f"kt{i}", Unit.KARANG_TARUNA, (Skill.PUBLIC_KITCHEN,), 1.0 + i) for i in range(6)],
    *[(f"psm{i}", Unit.PSM, (Skill.PUBLIC_KITCHEN,), 1.0 + i) for i in range(3)],
    *[(f"s{i}", Unit.TAGANA, (Skill.SHELTER,), 1.0 + i) for i in range(3)],
]


def assessed(incident_id: str = "INC-1", **report: object) -> IncidentAssessed:
    return IncidentAssessed(
        incident_id=incident_id,
        assessment=AssessmentReport.model_validate(report),
        via="link",
        by="Budi (TRC)",
    )


def test_a_report_must_say_something() -> None:
    with pytest.raises(ValidationError, match="at least one finding"):
        AssessmentReport.model_validate({})
    with pytest.raises(ValidationError, match="at least one finding"):
        AssessmentReport.model_validate({"houses_damaged": {}, "urgent_needs": []})
    with pytest.raises(ValidationError):
        AssessmentReport.model_validate({"evacuees": -1})
    with pytest.raises(ValidationError):
        AssessmentReport.model_validate({"urgent_needs": ["karaoke"]})
    assert AssessmentReport.model_validate({"notes": "air setinggi lutut"}).notes


def test_120_evacuees_call_for_a_dapur_umum_team_sized_by_them_a_shelter_and_registration() -> None:
    wanted = {
        (w.unit, w.skill): w.count
        for w in needs_for(ASSESSMENT_RULES, IncidentType.FLOOD, AssessmentReport(evacuees=120))
    }
    kitchen = sum(c for (u, s), c in wanted.items() if s == Skill.PUBLIC_KITCHEN)
    assert 8 <= kitchen <= 15
    assert (
        wanted[(Unit.KARANG_TARUNA, Skill.PUBLIC_KITCHEN)] >= 3
        and wanted[(Unit.PSM, Skill.PUBLIC_KITCHEN)] >= 2
    )
    assert wanted[(Unit.TAGANA, Skill.SHELTER)] >= 1
    assert wanted[(Unit.PBI_JKN, Skill.VICTIM_REGISTRATION)] == 2
    bigger = needs_for(ASSESSMENT_RULES, IncidentType.FLOOD, AssessmentReport(evacuees=900))
    assert sum(w.count for w in bigger if w.skill == Skill.PUBLIC_KITCHEN) == 15  # the largest team
    assert needs_for(ASSESSMENT_RULES, IncidentType.FLOOD, AssessmentReport(evacuees=0)) == []


def test_rules_for_other_types_do_not_apply_and_the_largest_count_wins() -> None:
    missing = AssessmentReport(missing=1)
    in_flood = {(w.unit, w.skill) for w in needs_for(ASSESSMENT_RULES, IncidentType.FLOOD, missing)}
    in_fire = {(w.unit, w.skill) for w in needs_for(ASSESSMENT_RULES, IncidentType.FIRE, missing)}
    assert (Unit.TAGANA, Skill.BOAT_OPERATOR) in in_flood and (
        Unit.TAGANA,
        Skill.BOAT_OPERATOR,
    ) not in in_fire
    both = needs_for(ASSESSMENT_RULES, IncidentType.FIRE, AssessmentReport(dead=1, missing=2))
    assert [w.count for w in both if w.skill == Skill.PSYCHOSOCIAL and w.unit == Unit.TAGANA] == [2]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({}, "required"),
        (
            {"rules": [{"field": "evacuees", "needs": [{"unit": "tagana", "count": 1}], "colour": 1}]},
            "unknown keys",
        ),
        ({"rules": [{"field": "rain", "needs": [{"unit": "tagana", "count": 1}]}]}, "unknown field"),
        (
            {"rules": [{"urgent_need": "wifi", "needs": [{"unit": "tagana", "count": 1}]}]},
            "unknown urgent need",
        ),
        ({"rules": [{"field": "evacuees", "needs": [{"unit": "navy", "count": 1}]}]}, "navy"),
        (
            {"rules": [{"field": "evacuees", "needs": [{"unit": "tagana", "skill": "cooking", "count": 1}]}]},
            "cooking",
        ),
        ({"rules": [{"field": "evacuees", "needs": [{"unit": "tagana"}]}]}, "count is required"),
        (
            {"rules": [{"field": "evacuees", "types": ["tsunami"], "needs": [{"unit": "trc", "count": 1}]}]},
            "tsunami",
        ),
        (
            {
                "rules": [
                    {"field": "evacuees", "urgent_need": "shelter", "needs": [{"unit": "trc", "count": 1}]}
                ]
            },
            "exactly one",
        ),
    ],
)
def test_a_bad_rule_file_is_refused(rules: dict[str, object], message: str) -> None:
    with pytest.raises(AssessmentRuleError, match=message):
        parse_assessment_rules(rules)


def test_a_kaji_cepat_with_120_evacuees_grows_a_flood_and_offers_at_once() -> None:
    world = World.of(*FLOOD_MODERATE)
    state = world.run(None, ev(reported(severity=Severity.MODERATE)), T0)
    before = {(n.unit, n.skill): n.count for n in state.needs}
    offers_before = len(state.assignments)
    state = world.run(
        state, ev(assessed(evacuees=120, families=40, evacuee_sites=["Balai RW 03"])), later(60)
    )
    after = {(n.unit, n.skill): n.count for n in state.needs}
    assert (
        after[(Unit.PBI_JKN, Skill.VICTIM_REGISTRATION)]
        == 2
        > before[(Unit.PBI_JKN, Skill.VICTIM_REGISTRATION)]
    )
    assert (
        after[(Unit.KARANG_TARUNA, Skill.PUBLIC_KITCHEN)] == 4
        and (Unit.KARANG_TARUNA, Skill.PUBLIC_KITCHEN) not in before
    )
    assert after[(Unit.TAGANA, Skill.SHELTER)] == 2
    assert (
        after[(Unit.TRC, Skill.RAPID_ASSESSMENT)] == before[(Unit.TRC, Skill.RAPID_ASSESSMENT)]
    )  # unchanged
    # the new slots are searched in the same step, and offered
    searched = {(c.need.unit, c.need.skill) for c in world.of_type(FindCandidates)}
    assert (Unit.KARANG_TARUNA, Skill.PUBLIC_KITCHEN) in searched and (
        Unit.PSM,
        Skill.PUBLIC_KITCHEN,
    ) in searched
    assert len(state.assignments) > offers_before
    assert {a.volunteer_id for a in state.assignments} >= {"kt0", "kt3", "psm0", "psm1", "p1"}
    # recorded on the dispatch log and the timeline; the board reads the latest assessment
    logged = [c.payload for c in world.of_type(Emit) if isinstance(c.payload, IncidentNeedsChanged)]
    assert len(logged) == 1 and "120 pengungsi" in logged[0].reason
    assert {(c.unit, c.skill, c.previous) for c in logged[0].changes} >= {
        (Unit.KARANG_TARUNA, Skill.PUBLIC_KITCHEN, 0)
    }
    events = [e.event for e in state.timeline]
    assert events[events.index("assessed") + 1] == "needs_changed"
    assert state.assessment is not None and state.assessment.report.evacuees == 120
    assert state.assessment.changes == logged[0].changes and state.assessments == 1
    assert state.status == IncidentStatus.UNDERSTAFFED  # this small world has no LDP, posko or DTKS


def test_the_needs_follow_the_latest_assessment_but_never_below_what_is_held() -> None:
    world = World.of(*FLOOD_MODERATE)
    state = world.run(None, ev(reported(severity=Severity.MODERATE)), T0)
    state = world.run(state, ev(assessed(evacuees=300)), later(10))
    kt = next(i for i, n in enumerate(state.needs) if n.unit == Unit.KARANG_TARUNA)
    assert state.needs[kt].count == 6
    # one Karang Taruna cook accepts; the rest of the six still hold offers
    a = next(a for a in state.assignments if a.need_index == kt)
    state = world.run(
        state,
        ev(OfferAccepted(offer_id=a.offer_id, incident_id="INC-1", volunteer_id=a.volunteer_id)),
        later(20),
    )
    held = sum(
        1
        for x in state.assignments
        if x.need_index == kt and x.status in (AssignmentStatus.OFFERED, AssignmentStatus.ACCEPTED)
    )
    # a later, smaller assessment: fewer cooks wanted, but none of those offered or assigned is dropped
    state = world.run(state, ev(assessed(notes="pengungsi sudah pulang sebagian", evacuees=60)), later(30))
    assert state.needs[kt].count == max(3, held) == held
    # and an assessment without evacuees at all: back to the run card's needs where nobody is held
    shelter = next(i for i, n in enumerate(state.needs) if n.skill == Skill.SHELTER)
    state = world.run(state, ev(assessed(notes="semua pengungsi pulang", evacuees=0)), later(40))
    shelter_held = sum(
        1 for x in state.assignments if x.need_index == shelter and x.status == AssignmentStatus.OFFERED
    )
    assert state.needs[shelter].count == shelter_held
    assert state.assessments == 3


def test_an_assessment_of_a_closed_incident_is_recorded_and_changes_nothing() -> None:
    from schemas.events import IncidentClosed

    world = World.of(*FLOOD_MODERATE)
    state = world.run(
        None, ev(reported(severity=Severity.MODERATE, needs=[Need(unit=Unit.TRC, count=1)])), T0
    )
    state = world.run(state, ev(IncidentClosed(incident_id="INC-1")), later(5))
    state = world.run(state, ev(assessed(evacuees=500)), later(6))
    assert [(n.unit, n.count) for n in state.needs] == [(Unit.TRC, 1)]
    assert state.assessment is not None and state.assessment.changes == []
    assert not world.of_type(FindCandidates)
