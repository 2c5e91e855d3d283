"""Kaji cepat through the real broker: a TRC assessment of 120 evacuees on a moderate flood grows its
needs by the assessment rules, and the new offers go out (issue 19)."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.events import AssessmentReport, IncidentAssessed, IncidentNeedsChanged
from schemas.vocabulary import IncidentStatus, NotificationKind, Severity, Skill, Unit
from tests.integration.dispatcher.conftest import Bus, Roster, Workers, eventually, incident, volunteer

pytestmark = pytest.mark.integration


def offered(bus: Bus) -> set[str]:
    return {n.recipient.volunteer_id or "" for n in bus.notifications(NotificationKind.OFFER)}


async def test_a_kaji_cepat_with_120_evacuees_grows_a_flood_and_the_new_offers_go_out(
    bus: Bus, workers: Workers, roster: Roster
) -> None:
    kitchen, registration = (Skill.PUBLIC_KITCHEN,), (Skill.VICTIM_REGISTRATION,)
    await bus.register(
        volunteer("trc-1", 0.5, unit=Unit.TRC, skills=(Skill.RAPID_ASSESSMENT,)),
        volunteer("pbi-1", 0.6, unit=Unit.PBI_JKN, skills=registration),
        volunteer("pbi-2", 0.9, unit=Unit.PBI_JKN, skills=registration),
        *(volunteer(f"kt-{i}", 0.3 + i / 10, unit=Unit.KARANG_TARUNA, skills=kitchen) for i in range(5)),
        *(volunteer(f"psm-{i}", 0.4 + i / 10, unit=Unit.PSM, skills=kitchen) for i in range(3)),
        *(volunteer(f"dk-{i}", 0.7 + i / 10, skills=kitchen) for i in range(5)),
        volunteer("shelter-1", 1.1, skills=(Skill.SHELTER,)),
    )
    workers.start()
    await roster.ready(17)
    await bus.send("incidents", incident("INC-KC", severity=Severity.MODERATE))
    await eventually(lambda: {"trc-1", "pbi-1"} <= offered(bus), what="the run card's offers")
    assert not offered(bus) & {"kt-0", "psm-0", "dk-0", "shelter-1"}  # no dapur umum in a moderate card

    await bus.send(
        "incidents",
        IncidentAssessed(
            incident_id="INC-KC",
            assessment=AssessmentReport(evacuees=120, evacuee_sites=["Balai RW 03"]),
            via="link",
            volunteer_id="trc-1",
        ),
    )
    team = {"kt-0", "kt-1", "kt-2", "kt-3", "psm-0", "psm-1", "dk-0", "dk-3", "pbi-2", "shelter-1"}
    await eventually(lambda: team <= offered(bus), what="the dapur umum team, shelter and PBI-JKN offered")
    assert "kt-4" not in offered(bus)  # 120 evacuees: 4 Karang Taruna cooks, not 5

    changed = [e.payload for e in bus.events("dispatch-log", "incident.needs_changed")]
    assert len(changed) == 1 and isinstance(changed[0], IncidentNeedsChanged)
    assert {(c.unit, c.skill, c.count) for c in changed[0].changes} >= {
        (Unit.KARANG_TARUNA, Skill.PUBLIC_KITCHEN, 4),
        (Unit.PSM, Skill.PUBLIC_KITCHEN, 2),
        (Unit.PBI_JKN, Skill.VICTIM_REGISTRATION, 2),
    }

    async def grown() -> Any:
        view = await roster.incident("INC-KC")
        return view if view is not None and view.assessment is not None else None

    view = await eventually(grown, what="the read model with the assessment")
    assert view.assessment.report.evacuees == 120 and view.assessments == 1
    assert view.assessment.changes == changed[0].changes
    needs = {(n.unit, n.skill): n for n in view.needs}
    assert needs[(Unit.KARANG_TARUNA, Skill.PUBLIC_KITCHEN)].count == 4
    assert view.status in (IncidentStatus.DISPATCHING, IncidentStatus.UNDERSTAFFED)
    assert [t.event for t in view.timeline].count("assessed") == 1
