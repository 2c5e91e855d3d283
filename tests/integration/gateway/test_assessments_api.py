"""`POST /api/v1/incidents/{id}/assessments` (kaji cepat) against the real broker: 202 once the event is
on `incidents`, keyed by the incident id; 422 naming the failing fields; 404 / 409 as for cancel."""

from __future__ import annotations

import pytest

from schemas.events import IncidentAssessed
from schemas.vocabulary import IncidentStatus
from services.common.topics import INCIDENTS
from tests.integration.gateway.conftest import (
    COORDINATOR,
    OPERATOR,
    Gw,
    events_of,
    incident_view,
    read_topic,
    seed_incident,
)

pytestmark = pytest.mark.integration

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
