"""`POST /api/v1/incidents/{id}/assessments` (kaji cepat) against the real broker: 202 once the event is
on `incidents`, keyed by the incident id; 422 naming the failing fields; 404 / 409 as for cancel."""

from __future__ import annotations

import re

import pytest

from schemas.events import IncidentAssessed
from schemas.vocabulary import AssignmentStatus, IncidentStatus, Skill, Unit
from services.common.topics import INCIDENTS
from tests.integration.gateway.conftest import (
    COORDINATOR,
    OPERATOR,
    Gw,
    assignment,
    events_of,
    incident_view,
    offer_token,
    profile,
    read_topic,
    seed_incident,
    seed_offer,
    seed_volunteer,
)

pytestmark = pytest.mark.integration
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')

REPORT = {
    "families": 40,
    "people": 150,
    "houses_damaged": {"light": 12, "moderate": 3, "heavy": 2},
    "evacuees": 120,
    "evacuee_sites": ["Balai Kelurahan Manisrenggo", "Masjid Al-Ikhlas"],
    "injured": 2,
    "dead": 0,
    "missing": 1,
    "urgent_needs": ["public_kitchen", "shelter", "health"],
    "notes": "Air setinggi pinggang di RW 03",
    "assessed_at": "2026-11-28T15:20:00+07:00",
    "location": {"lat": -7.80, "lon": 111.98},
}


async def test_an_assessment_is_accepted_and_published_keyed_by_the_incident(gw: Gw) -> None:
    await seed_incident(gw, incident_view("INC-A"))
    answer = await gw.client.post("/api/v1/incidents/INC-A/assessments", json=REPORT, headers=OPERATOR)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["id"] == "INC-A" and body["status"] == "accepted" and body["event_id"]
    just_one = await gw.client.post(
        "/api/v1/incidents/INC-A/assessments", json={"evacuees": 60}, headers=COORDINATOR
    )
    assert just_one.status_code == 202

    records = await read_topic(gw.settings, INCIDENTS, expect=2)
    assert {r.key for r in records} == {b"INC-A"}
    events = events_of(records)
    first = events[0].payload if events[0].event_id == body["event_id"] else events[1].payload
    assert isinstance(first, IncidentAssessed)
    assert first.via == "ops_room" and first.by
    report = first.assessment
    assert (report.families, report.people, report.evacuees, report.missing) == (40, 150, 120, 1)
    assert report.houses_damaged is not None and report.houses_damaged.heavy == 2
    assert report.urgent_needs == ["public_kitchen", "shelter", "health"]
    assert report.assessed_at is not None and report.assessed_at.hour == 8  # 15.20 WIB in UTC
    assert {e.correlation_id for e in events} == {"INC-A"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"houses_damaged": {}}, "body"),
        ({"evacuees": -5}, "evacuees"),
        ({"urgent_needs": ["karaoke"]}, "urgent_needs"),
        ({"evacuees": 10, "colour": "red"}, "colour"),
        ({"assessed_at": "2026-11-28T15:20:00"}, "assessed_at"),  # a time without its zone
    ],
)
async def test_a_bad_assessment_is_refused_naming_the_field(
    gw: Gw, body: dict[str, object], field: str
) -> None:
    await seed_incident(gw, incident_view("INC-B"))
    answer = await gw.client.post("/api/v1/incidents/INC-B/assessments", json=body, headers=OPERATOR)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert field in str(error["details"])


async def test_unknown_closed_and_unauthorised(gw: Gw) -> None:
    await seed_incident(gw, incident_view("INC-C", status=IncidentStatus.CLOSED))
    closed = await gw.client.post("/api/v1/incidents/INC-C/assessments", json=REPORT, headers=OPERATOR)
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "incident_not_open"
    missing = await gw.client.post("/api/v1/incidents/INC-404/assessments", json=REPORT, headers=OPERATOR)
    assert missing.status_code == 404
    anonymous = await gw.client.post("/api/v1/incidents/INC-C/assessments", json=REPORT)
    assert anonymous.status_code == 401


# --- the TRC volunteer's link page ------------------------------------------------------------


async def _trc_assignment(gw: Gw, status: AssignmentStatus, unit: Unit = Unit.TRC) -> str:
    seeded = assignment("of-t", "V-TRC", status).model_copy(update={"unit": unit, "skill": None})
    await seed_incident(gw, incident_view("INC-T", assignments=[seeded]))
    await seed_offer(gw, "of-t", "INC-T", "V-TRC", status)
    await seed_volunteer(
        gw, profile("V-TRC", name="Budi Santoso", unit=unit.value, skills=[], certifications=[])
    )
    return offer_token(gw, "of-t", "V-TRC", "INC-T")


async def test_the_trc_link_page_has_the_form_and_posts_the_same_event(gw: Gw) -> None:
    token = await _trc_assignment(gw, AssignmentStatus.ON_SCENE)
    page = await gw.client.get(f"/r/{token}")
    assert page.status_code == 200
    assert "Kaji cepat" in page.text and f'action="/r/{token}/assessment"' in page.text
    for field in ("families", "people", "houses_heavy", "evacuees", "evacuee_sites", "missing", "notes"):
        assert f'name="{field}"' in page.text, field
    csrf = CSRF.search(page.text)
    assert csrf is not None
    form = {
        "csrf": csrf.group(1),
        "families": "40",
        "people": "",
        "houses_heavy": "2",
        "evacuees": "120",
        "evacuee_sites": "Balai RW 03, Masjid Al-Ikhlas",
        "urgent_needs": ["public_kitchen", "shelter"],
        "notes": "air setinggi pinggang",
        "assessed_at": "2026-11-28T15:20",
    }
    sent = await gw.client.post(f"/r/{token}/assessment", data=form)
    assert sent.status_code == 303 and sent.headers["location"] == f"/r/{token}?done=assessment"
    thanks = await gw.client.get(sent.headers["location"])
    assert "Hasil kaji cepat sudah dikirim" in thanks.text

    records = await read_topic(gw.settings, INCIDENTS, expect=1)
    assert records[0].key == b"INC-T"
    event = events_of(records)[0].payload
    assert isinstance(event, IncidentAssessed)
    assert (event.via, event.volunteer_id, event.offer_id) == ("link", "V-TRC", "of-t")
    assert event.by == "Budi Santoso (TRC)"
    report = event.assessment
    assert (report.families, report.people, report.evacuees) == (40, None, 120)
    assert report.houses_damaged is not None and report.houses_damaged.heavy == 2
    assert report.evacuee_sites == ["Balai RW 03", "Masjid Al-Ikhlas"]
    assert report.urgent_needs == ["public_kitchen", "shelter"]
    assert report.assessed_at is not None and (report.assessed_at.hour, report.assessed_at.minute) == (8, 20)


async def test_only_trc_on_an_accepted_assignment_may_assess(gw: Gw) -> None:
    offered = await _trc_assignment(gw, AssignmentStatus.OFFERED)
    page = await gw.client.get(f"/r/{offered}")
    assert "/assessment" not in page.text
    csrf = CSRF.search(page.text)
    assert csrf is not None
    refused = await gw.client.post(f"/r/{offered}/assessment", data={"csrf": csrf.group(1), "evacuees": "5"})
    assert refused.status_code == 409
    assert "anggota TRC" in refused.text

    tagana = await _trc_assignment(gw, AssignmentStatus.ACCEPTED, unit=Unit.TAGANA)
    assert "/assessment" not in (await gw.client.get(f"/r/{tagana}")).text
    forged = await gw.client.post(f"/r/{tagana}/assessment", data={"csrf": "0" * 32, "evacuees": "5"})
    assert forged.status_code == 403
    assert len(await read_topic(gw.settings, INCIDENTS, expect=0, timeout_s=1.0)) == 0


async def test_an_empty_or_bad_form_gets_a_clear_page(gw: Gw) -> None:
    token = await _trc_assignment(gw, AssignmentStatus.ACCEPTED)
    csrf = CSRF.search((await gw.client.get(f"/r/{token}")).text)
    assert csrf is not None
    for form in ({"evacuees": ""}, {"evacuees": "banyak"}, {"injured": "-1"}):
        bad = await gw.client.post(f"/r/{token}/assessment", data={"csrf": csrf.group(1), **form})
        assert bad.status_code == 422
        assert '<html lang="id">' in bad.text and "Kaji cepat belum terkirim" in bad.text


# --- the board ----------------------------------------------------------------------------------


async def test_the_board_shows_the_latest_assessment_and_records_one_on_behalf(gw: Gw) -> None:
    from datetime import UTC, datetime

    from schemas.api import AssessmentView
    from schemas.events import AssessmentReport, NeedChange
    from tests.integration.gateway.test_board import signed_in

    latest = AssessmentView(
        report=AssessmentReport(evacuees=120, families=40, evacuee_sites=["Balai RW 03"]),
        received_at=datetime(2026, 11, 28, 8, 20, tzinfo=UTC),
        via="link",
        by="Budi Santoso (TRC)",
        changes=[NeedChange(unit=Unit.KARANG_TARUNA, skill=Skill.PUBLIC_KITCHEN, count=4, previous=0)],
    )
    view = incident_view("INC-K").model_copy(update={"assessment": latest, "assessments": 2})
    await seed_incident(gw, view)
    async with signed_in(gw) as client:
        panel = (await client.get("/board/panel")).text
        assert "Kaji cepat terakhir" in panel and "pukul 15.20 WIB" in panel
        assert "40 KK; 120 pengungsi; mengungsi di Balai RW 03" in panel
        assert "Karang Taruna — Dapur umum +4 (menjadi 4)" in panel and "ke-2" in panel
        csrf = CSRF.search(panel)
        assert csrf is not None
        sent = await client.post(
            "/board/incidents/INC-K/assessment",
            data={"csrf": csrf.group(1), "evacuees": "200", "urgent_needs": ["health"]},
            headers={"X-Requested-With": "fetch"},
        )
        assert sent.status_code == 200, sent.text
        empty = await client.post(
            "/board/incidents/INC-K/assessment",
            data={"csrf": csrf.group(1), "evacuees": ""},
            headers={"X-Requested-With": "fetch"},
        )
        assert empty.status_code == 422
    records = await read_topic(gw.settings, INCIDENTS, expect=1)
    event = events_of(records)[0].payload
    assert isinstance(event, IncidentAssessed) and event.via == "ops_room"
    assert event.assessment.evacuees == 200 and event.assessment.urgent_needs == ["health"]
