"""Run cards (rule 1): the shipped file covers every type and severity, and bad files are refused."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from schemas.vocabulary import IncidentType, Severity, Skill, Unit
from services.dispatcher.runcards import RunCardError, load_runcards, parse_runcards
from services.dispatcher.settings import DEFAULT_RUNCARDS

CARDS = load_runcards(DEFAULT_RUNCARDS)


@pytest.mark.parametrize("incident_type", list(IncidentType))
@pytest.mark.parametrize("severity", list(Severity))
def test_every_type_and_severity_has_a_card(incident_type: IncidentType, severity: Severity) -> None:
    needs = CARDS.needs(incident_type, severity)
    assert needs and all(n.count >= 1 for n in needs)
    assert any(n.unit == Unit.TRC for n in needs)  # TRC assesses (or, for social cases, handles) every one
    if incident_type.is_social_case:
        assert sum(n.count for n in needs if n.unit == Unit.TRC) >= 1
        assert {n.unit for n in needs} <= {Unit.TRC, Unit.PSM, Unit.PBI_JKN}
    else:
        assert any(n.unit == Unit.TRC and n.skill == Skill.RAPID_ASSESSMENT for n in needs)


def test_more_severe_incidents_never_need_fewer_people() -> None:
    order = [Severity.MINOR, Severity.MODERATE, Severity.SEVERE, Severity.EXTREME]
    for incident_type in IncidentType:
        totals = [sum(n.count for n in CARDS.needs(incident_type, s)) for s in order]
        assert totals == sorted(totals), incident_type


def _team(incident_type: IncidentType, severity: Severity, skill: Skill) -> dict[Unit, int]:
    team: dict[Unit, int] = {}
    for n in CARDS.needs(incident_type, severity):
        if n.skill == skill:
            team[n.unit] = team.get(n.unit, 0) + n.count
    return team


@pytest.mark.parametrize("incident_type", list(IncidentType))
@pytest.mark.parametrize("severity", list(Severity))
def test_a_dapur_umum_is_a_team_of_8_to_15_with_karang_taruna(
    incident_type: IncidentType, severity: Severity
) -> None:
    kitchen = _team(incident_type, severity, Skill.PUBLIC_KITCHEN)
    if sum(kitchen.values()) > 1:  # (drought's one cook at the water point is no dapur umum)
        assert 8 <= sum(kitchen.values()) <= 15, kitchen
        assert kitchen.get(Unit.TAGANA) and kitchen.get(Unit.KARANG_TARUNA), kitchen


@pytest.mark.parametrize("incident_type", list(IncidentType))
@pytest.mark.parametrize("severity", list(Severity))
def test_boats_go_out_with_a_crew_of_3_or_4_and_a_driver(
    incident_type: IncidentType, severity: Severity
) -> None:
    needs = CARDS.needs(incident_type, severity)
    boats = sum(n.count for n in needs if n.skill == Skill.BOAT_OPERATOR)
    rescuers = sum(n.count for n in needs if n.skill == Skill.WATER_RESCUE)
    if boats:
        assert 2 * boats <= rescuers <= 3 * boats  # each boat: its driver and 2–3 rescuers
    elif rescuers > 1:
        pytest.fail(f"{incident_type}/{severity}: {rescuers} rescuers and no boat driver")


@pytest.mark.parametrize("incident_type", [t for t in IncidentType if not t.is_social_case])
def test_posko_and_shelter_open_from_severe_and_ldp_comes_with_them(incident_type: IncidentType) -> None:
    skills = {n.skill for n in CARDS.needs(incident_type, Severity.SEVERE)}
    if incident_type not in (IncidentType.DROUGHT, IncidentType.FOREST_FIRE, IncidentType.EPIDEMIC):
        assert Skill.COMMAND_POST in skills or Skill.SHELTER in skills, incident_type
    if Skill.SHELTER in skills and incident_type != IncidentType.ASH_FALL:
        assert Skill.PSYCHOSOCIAL in skills, incident_type


@pytest.mark.parametrize("severity", list(Severity))
def test_odgj_outreach_sends_at_least_two_with_a_driver(severity: Severity) -> None:
    needs = CARDS.needs(IncidentType.ODGJ, severity)
    assert sum(n.count for n in needs) >= 2
    assert any(n.skill == Skill.DRIVER for n in needs)


@pytest.mark.parametrize(
    "incident_type", [IncidentType.FLOOD, IncidentType.FIRE, IncidentType.EVACUEE_RECEPTION]
)
def test_pbi_jkn_companions_register_victims_in_floods_fires_and_evacuee_reception(
    incident_type: IncidentType,
) -> None:
    for severity in (Severity.MODERATE, Severity.SEVERE, Severity.EXTREME):
        team = _team(incident_type, severity, Skill.VICTIM_REGISTRATION)
        assert team.get(Unit.PBI_JKN), (incident_type, severity)
    assert _team(incident_type, Severity.SEVERE, Skill.SOCIAL_DATA).get(Unit.PBI_JKN)


def test_the_runcard_file_cites_the_practice_of_each_card() -> None:
    text = DEFAULT_RUNCARDS.read_text("utf-8")
    for name in ["default", *(t.value for t in IncidentType if t != IncidentType.OTHER)]:  # other: default
        after = text.split(f"[cards.{name}]\n", 1)
        assert len(after) == 2 and after[1].startswith("# "), f"[cards.{name}] has no comment"


def test_flood_severe_is_the_design_example() -> None:
    needs = [(n.unit, n.skill, n.count) for n in CARDS.needs(IncidentType.FLOOD, Severity.SEVERE)]
    assert needs[:4] == [
        (Unit.TRC, Skill.RAPID_ASSESSMENT, 2),
        (Unit.TAGANA, Skill.WATER_RESCUE, 3),
        (Unit.TAGANA, Skill.BOAT_OPERATOR, 1),
        (Unit.TAGANA, Skill.EVACUATION, 3),
    ]


def test_offer_ttls_rings_and_certified_skills() -> None:
    assert dict(CARDS.offer_ttl_s) == {
        Severity.EXTREME: 120,
        Severity.SEVERE: 180,
        Severity.MODERATE: 300,
        Severity.MINOR: 600,
    }
    assert CARDS.rings(25) == [1, 2, 5, 10, 20, 25]
    assert CARDS.rings(3) == [1, 2, 3]
    assert CARDS.certification_required == {Skill.WATER_RESCUE, Skill.FIRST_AID}
    assert CARDS.min_step_km == 0.125


def test_a_type_without_its_own_card_falls_back_to_the_default() -> None:
    data = tomllib.loads(DEFAULT_RUNCARDS.read_text("utf-8"))
    del data["cards"]["drought"]
    cards = parse_runcards(data)
    assert cards.needs(IncidentType.DROUGHT, Severity.MINOR) == cards.needs(
        IncidentType.OTHER, Severity.MINOR
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[cards.default]\nminor = [{unit="tagana", count=1}]', "lacks severities"),
        ('[cards.flod]\nminor=[]\n[cards.default]\nminor=[{unit="trc",count=1}]', "unknown incident types"),
        ("[cards.flood]\nminor = [{unit='trc', count=1}]", "is required"),
        (
            "[cards.default]\n"
            + "\n".join(f"{s}=[{{unit='trc',skill='cooking',count=1}}]" for s in Severity),
            "cooking",
        ),
        (
            "[cards.default]\n"
            + "\n".join(f"{s}=[{{unit='trc',count=1}}]" for s in Severity)
            + "\n[matching]\ncertification_required=['swimming']",
            "swimming",
        ),
        (
            "[cards.default]\n"
            + "\n".join(f"{s}=[{{unit='trc',count=1}}]" for s in Severity)
            + "\n[offers]\nttl_s={severe=-1}",
            "positive",
        ),
        (
            "[cards.default]\n"
            + "\n".join(f"{s}=[{{unit='trc',count=1}}]" for s in Severity)
            + "\n[matching]\nmin_step_km=0",
            "min_step_km must be a positive number",
        ),
    ],
)
def test_bad_run_cards_are_refused_with_a_reason(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "cards.toml"
    path.write_text(text)
    with pytest.raises(RunCardError, match=message):
        load_runcards(path)


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RunCardError, match="cannot read"):
        load_runcards(tmp_path / "missing.toml")
