"""`/api/v1/incidents` against the real broker and Redis: what is produced, and every error answer."""

from __future__ import annotations

import asyncio
import re

import pytest

from schemas.events import IncidentCancelled, IncidentClosed, IncidentReported
from schemas.vocabulary import IncidentStatus
from services.common.topics import INCIDENTS
from tests.integration.gateway.conftest import (
    ADMIN,
    COORDINATOR,
    MANISRENGGO,
    OPERATOR,
    Gw,
    body,
    events_of,
    incident_view,
    read_topic,
    seed_incident,
)

pytestmark = pytest.mark.integration

INCIDENT_ID = re.compile(r"^INC-\d{8}-[0-9A-HJKMNP-TV-Z]{8}$")


async def test_post_answers_202_only_with_the_event_on_the_broker(gw: Gw) -> None:
    response = await gw.client.post(
        "/api/v1/incidents", json=body(needs=[{"unit": "tagana", "count": 1}]), headers=OPERATOR
    )
    assert response.status_code == 202
    answer = response.json()
    assert answer["status"] == "reported"
    assert INCIDENT_ID.match(answer["id"])

    records = await read_topic(gw.settings, INCIDENTS, expect=1)
    assert len(records) == 1
    assert records[0].key == answer["id"].encode()
    event = events_of(records)[0]
    assert isinstance(event.payload, IncidentReported)
    assert event.payload.incident_id == answer["id"]
    assert event.correlation_id == answer["id"]
    assert event.payload.kelurahan_code == MANISRENGGO  # derived from the location: none was given
    assert [n.model_dump(mode="json") for n in event.payload.needs] == [
        {"unit": "tagana", "skill": None, "count": 1}
    ]
    assert event.payload.reported_by and event.payload.reported_by.startswith("operator#")


async def test_without_needs_the_run_card_is_left_to_the_dispatcher(gw: Gw) -> None:
    response = await gw.client.post(
        "/api/v1/incidents", json=body(kelurahan_code="35.71.01.1001"), headers=OPERATOR
    )
    assert response.status_code == 202
    event = events_of(await read_topic(gw.settings, INCIDENTS, expect=1))[0]
    assert isinstance(event.payload, IncidentReported)
    assert event.payload.needs == []
    assert event.payload.kelurahan_code == "35.71.01.1001"  # given, kept


async def test_same_idempotency_key_gives_the_same_id_and_one_record(gw: Gw) -> None:
    headers = {**OPERATOR, "Idempotency-Key": "radio-call-0042"}
    first = await gw.client.post("/api/v1/incidents", json=body(), headers=headers)
    second = await gw.client.post("/api/v1/incidents", json=body(), headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    records = await read_topic(gw.settings, INCIDENTS, expect=1)
    assert len(records) == 1


async def test_concurrent_retries_with_one_key_agree_on_one_incident(gw: Gw) -> None:
    headers = {**OPERATOR, "Idempotency-Key": "double-click-7"}
    answers = await asyncio.gather(
        *(gw.client.post("/api/v1/incidents", json=body(), headers=headers) for _ in range(5))
    )
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(await read_topic(gw.settings, INCIDENTS, expect=1)) == 1


async def test_a_key_reused_for_a_different_post_is_a_conflict(gw: Gw) -> None:
    headers = {**OPERATOR, "Idempotency-Key": "k-1"}
    first = await gw.client.post("/api/v1/incidents", json=body(), headers=headers)
    other = await gw.client.post("/api/v1/incidents", json=body(title="Kebakaran rumah"), headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert other.json()["error"]["details"]["incident_id"] == first.json()["id"]


async def test_distinct_posts_get_distinct_sortable_ids(gw: Gw) -> None:
    ids = [
        (await gw.client.post("/api/v1/incidents", json=body(), headers=OPERATOR)).json()["id"]
        for _ in range(3)
    ]
    assert len(set(ids)) == 3
    assert ids == sorted(ids)


async def test_401_without_or_with_a_wrong_key(gw: Gw) -> None:
    missing = await gw.client.post("/api/v1/incidents", json=body())
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.json()["error"]["code"] == "unauthorized"
    wrong = await gw.client.get("/api/v1/incidents", headers={"Authorization": "Bearer not-a-key-at-all"})
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    basic = await gw.client.get("/api/v1/incidents", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert basic.status_code == 401


async def test_422_names_the_failing_fields(gw: Gw) -> None:
    bad = body(severity="catastrophic", title="x", location={"lat": -7.8})
    response = await gw.client.post("/api/v1/incidents", json=bad, headers=OPERATOR)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    fields = {d["field"] for d in error["details"]}
    assert {"severity", "title", "location.lon"} <= fields
    assert all(d["location"] == "body" for d in error["details"])

    outside = await gw.client.post(
        "/api/v1/incidents", json=body(location={"lat": -6.2, "lon": 106.8}), headers=OPERATOR
    )
    assert outside.status_code == 422
    assert "service area" in outside.json()["error"]["details"][0]["message"]

    not_json = await gw.client.post(
        "/api/v1/incidents", content=b"{not json", headers={**OPERATOR, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    assert not_json.json()["error"]["code"] == "validation_error"

    bad_key = await gw.client.post(
        "/api/v1/incidents", json=body(), headers={**OPERATOR, "Idempotency-Key": "has spaces in it"}
    )
    assert bad_key.status_code == 422
    assert bad_key.json()["error"]["details"][0]["field"] == "Idempotency-Key"
    assert len(await read_topic(gw.settings, INCIDENTS, expect=0, timeout_s=1)) == 0


async def test_list_and_show_come_from_the_read_models(gw: Gw) -> None:
    await seed_incident(gw, incident_view("INC-20261128-AAAAAAAA", status=IncidentStatus.STAFFED))
    await seed_incident(gw, incident_view("INC-20261128-BBBBBBBB", status=IncidentStatus.CLOSED))
    everything = await gw.client.get("/api/v1/incidents", headers=OPERATOR)
    # newest first
    assert [i["id"] for i in everything.json()["items"]] == ["INC-20261128-BBBBBBBB", "INC-20261128-AAAAAAAA"]
    open_only = await gw.client.get("/api/v1/incidents", params={"status": "open"}, headers=OPERATOR)
    assert [i["id"] for i in open_only.json()["items"]] == ["INC-20261128-AAAAAAAA"]
    closed = await gw.client.get("/api/v1/incidents", params={"status": "closed"}, headers=OPERATOR)
    assert [i["id"] for i in closed.json()["items"]] == ["INC-20261128-BBBBBBBB"]
    bad_status = await gw.client.get("/api/v1/incidents", params={"status": "sleeping"}, headers=OPERATOR)
    assert bad_status.status_code == 422
    assert bad_status.json()["error"]["details"][0]["field"] == "status"

    one = await gw.client.get("/api/v1/incidents/INC-20261128-AAAAAAAA", headers=OPERATOR)
    assert one.status_code == 200
    doc = one.json()
    assert doc["status"] == "staffed"
    assert doc["needs"][0] == {
        "unit": "tagana",
        "skill": None,
        "count": 1,
        "filled": 0,
        "offered": 1,
        "open": 0,
    }
    assert doc["timeline"][0]["event"] == "reported"
    missing = await gw.client.get("/api/v1/incidents/INC-20261128-NOPE0000", headers=OPERATOR)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_cancel_and_close(gw: Gw) -> None:
    await seed_incident(gw, incident_view("INC-1"))
    await seed_incident(gw, incident_view("INC-2"))
    await seed_incident(gw, incident_view("INC-3", status=IncidentStatus.CANCELLED))

    cancelled = await gw.client.post(
        "/api/v1/incidents/INC-1/cancel", json={"reason": "laporan palsu"}, headers=OPERATOR
    )
    assert cancelled.status_code == 202
    assert cancelled.json() == {"id": "INC-1", "action": "cancel"}
    closed = await gw.client.post("/api/v1/incidents/INC-2/close", headers=OPERATOR)  # no body at all
    assert closed.status_code == 202

    again = await gw.client.post("/api/v1/incidents/INC-3/cancel", headers=OPERATOR)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "incident_not_open"
    assert (await gw.client.post("/api/v1/incidents/INC-3/close", headers=OPERATOR)).status_code == 409
    assert (await gw.client.post("/api/v1/incidents/INC-404/close", headers=OPERATOR)).status_code == 404
    assert (
        await gw.client.post("/api/v1/incidents/INC-1/cancel", json={"reason": 5}, headers=OPERATOR)
    ).status_code == 422

    events = events_of(await read_topic(gw.settings, INCIDENTS, expect=2))
    assert len(events) == 2
    kinds = {type(e.payload): e.payload for e in events}
    cancel = kinds[IncidentCancelled]
    assert isinstance(cancel, IncidentCancelled)
    assert cancel.incident_id == "INC-1"
    assert cancel.reason == "laporan palsu"
    assert isinstance(kinds[IncidentClosed], IncidentClosed)


async def test_an_oversized_body_is_refused_unread(gw: Gw) -> None:
    huge = b'{"title": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    response = await gw.client.post(
        "/api/v1/incidents", content=huge, headers={**OPERATOR, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_roles_allow_upwards(gw: Gw) -> None:
    for headers in (OPERATOR, COORDINATOR, ADMIN):
        assert (await gw.client.get("/api/v1/incidents", headers=headers)).status_code == 200
