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
    if incident_type == IncidentType.SOCIAL_EMERGENCY:
        assert {n.unit for n in needs} == {Unit.TRC}
    else:
        assert any(n.unit == Unit.TRC and n.skill == Skill.RAPID_ASSESSMENT for n in needs)


def test_more_severe_incidents_never_need_fewer_people() -> None:
    order = [Severity.MINOR, Severity.MODERATE, Severity.SEVERE, Severity.EXTREME]
    for incident_type in IncidentType:
        totals = [sum(n.count for n in CARDS.needs(incident_type, s)) for s in order]
        assert totals == sorted(totals), incident_type


def test_flood_severe_is_the_design_example() -> None:
    needs = [(n.unit, n.skill, n.count) for n in CARDS.needs(IncidentType.FLOOD, Severity.SEVERE)]
    assert needs == [
        (Unit.TAGANA, Skill.WATER_RESCUE, 2),
        (Unit.TAGANA, Skill.EVACUATION, 2),
        (Unit.TAGANA, Skill.PUBLIC_KITCHEN, 2),
        (Unit.TRC, Skill.RAPID_ASSESSMENT, 1),
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
