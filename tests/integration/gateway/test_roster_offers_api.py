"""Offers answered by the ops room, the roster API, the outbox, the live stream and the health probes."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import httpx
import pytest

from schemas.api import OutboxMessage
from schemas.events import (
    OfferAccepted,
    OfferDeclined,
    VolunteerDutyChanged,
    VolunteerLinksRevoked,
    VolunteerRegistered,
    VolunteerUpdated,
)
from schemas.fields import utcnow
from schemas.vocabulary import AssignmentStatus, ChannelType, Language, NotificationKind
from services.common.readmodels import change_notice
from services.common.topics import RESPONSES, VOLUNTEERS
from services.dispatcher.roster import Roster
from services.dispatcher.volunteers import apply_records, rebuild_roster
from tests.integration.gateway.conftest import (
    ADMIN,
    COORDINATOR,
    MANISRENGGO,
    OPERATOR,
    Gw,
    body,
    events_of,
    profile,
    read_topic,
    seed_offer,
    seed_volunteer,
)

pytestmark = pytest.mark.integration


# --- offers -----------------------------------------------------------------------------------


async def test_ops_room_records_an_accept_and_a_decline(gw: Gw) -> None:
    await seed_offer(gw, "of-1", "INC-1", "V-001")
    await seed_offer(gw, "of-2", "INC-1", "V-002")
    accepted = await gw.client.post("/api/v1/offers/of-1/accept", headers=OPERATOR)
    assert accepted.status_code == 202
    assert accepted.json() == {"offer_id": "of-1", "status": "accepted"}
    declined = await gw.client.post("/api/v1/offers/of-2/decline", headers=OPERATOR)
    assert declined.status_code == 202

    records = await read_topic(gw.settings, RESPONSES, expect=2)
    assert len(records) == 2
    assert {r.key for r in records} == {b"INC-1"}  # keyed by incident: one worker sees it in order
    by_type = {type(e.payload): e.payload for e in events_of(records)}
    accept = by_type[OfferAccepted]
    assert isinstance(accept, OfferAccepted)
    assert (accept.offer_id, accept.volunteer_id, accept.via) == ("of-1", "V-001", "ops_room")
    assert accept.by and accept.by.startswith("operator#")
    assert isinstance(by_type[OfferDeclined], OfferDeclined)


async def test_answering_an_offer_that_is_not_open(gw: Gw) -> None:
    await seed_offer(gw, "of-acc", "INC-1", "V-001", AssignmentStatus.ACCEPTED)
    await seed_offer(gw, "of-wd", "INC-1", "V-002", AssignmentStatus.WITHDRAWN)
    await seed_offer(gw, "of-exp", "INC-1", "V-003", AssignmentStatus.EXPIRED)

    for path in (
        "/api/v1/offers/of-acc/accept",
        "/api/v1/offers/of-acc/decline",
        "/api/v1/offers/of-wd/accept",
        "/api/v1/offers/of-exp/decline",
    ):
        response = await gw.client.post(path, headers=OPERATOR)
        assert response.status_code == 409, path
        assert response.json()["error"]["code"] == "offer_not_open"
    assert (await gw.client.post("/api/v1/offers/of-none/accept", headers=OPERATOR)).status_code == 404
    assert len(await read_topic(gw.settings, RESPONSES, expect=0, timeout_s=1)) == 0

    # "the ops room can still record an answer" for someone whose offer expired (rule 5)
    late = await gw.client.post("/api/v1/offers/of-exp/accept", headers=OPERATOR)
    assert late.status_code == 202
    assert len(await read_topic(gw.settings, RESPONSES, expect=1)) == 1


async def test_offers_need_a_key(gw: Gw) -> None:
    await seed_offer(gw, "of-1", "INC-1", "V-001")
    assert (await gw.client.post("/api/v1/offers/of-1/accept")).status_code == 401


# --- volunteers -------------------------------------------------------------------------------


def upsert(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Budi Santoso",
        "phone": "0812 3456 7890",
        "unit": "tagana",
        "skills": ["evacuation"],
        "home_kelurahan_code": MANISRENGGO,
        "channels": [{"type": "whatsapp", "address": "0812-3456-7890"}],
        "on_duty": True,
    }
    data.update(changes)
    return data


async def test_register_then_update_a_volunteer(gw: Gw) -> None:
    created = await gw.client.post("/api/v1/volunteers", json=upsert(id="V-500"), headers=COORDINATOR)
    assert created.status_code == 202
    assert created.json() == {"id": "V-500", "event": "volunteer.registered"}
    fresh = await gw.client.post("/api/v1/volunteers", json=upsert(), headers=COORDINATOR)
    assert fresh.status_code == 202
    fresh_id = fresh.json()["id"]
    assert fresh_id.startswith("V-")

    kept = profile("V-500")  # the roster knows V-500 (with a shared location) once the dispatcher applied it
    await seed_volunteer(gw, kept)
    updated = await gw.client.post(
        "/api/v1/volunteers", json=upsert(id="V-500", name="Budi Santoso Jr"), headers=COORDINATOR
    )
    assert updated.json() == {"id": "V-500", "event": "volunteer.updated"}

    records = await read_topic(gw.settings, VOLUNTEERS, expect=3)
    assert [r.key for r in records].count(b"V-500") == 2
    events = events_of(records)
    registered = [e.payload for e in events if isinstance(e.payload, VolunteerRegistered)]
    assert {p.profile.volunteer_id for p in registered} == {"V-500", fresh_id}
    assert registered[0].profile.phone == "+6281234567890"  # normalised to E.164
    update = next(e.payload for e in events if isinstance(e.payload, VolunteerUpdated))
    assert update.profile.name == "Budi Santoso Jr"
    assert update.profile.location == kept.location  # the last known location is kept


async def test_roster_changes_need_a_coordinator_and_valid_fields(gw: Gw) -> None:
    forbidden = await gw.client.post("/api/v1/volunteers", json=upsert(), headers=OPERATOR)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["details"] == {"required_role": "coordinator", "role": "operator"}
    invalid = await gw.client.post(
        "/api/v1/volunteers",
        json=upsert(phone="+1 555 0100", unit="police", channels=[], home_kelurahan_code="35.71.09.9999"),
        headers=ADMIN,
    )
    assert invalid.status_code == 422
    fields = {d["field"] for d in invalid.json()["error"]["details"]}
    assert {"phone", "unit", "channels", "home_kelurahan_code"} <= fields
    assert len(await read_topic(gw.settings, VOLUNTEERS, expect=0, timeout_s=1)) == 0


async def test_list_and_show_volunteers_with_status(gw: Gw) -> None:
    await seed_volunteer(gw, profile("V-001"))
    await seed_volunteer(
        gw,
        profile("V-002", unit="trc", skills=["rapid_assessment"], certifications=[]),
        status="assigned",
        incident_id="INC-9",
        offer_id="of-9",
        deployments=json.dumps([utcnow().isoformat()]),
    )
    await seed_volunteer(gw, profile("V-003", on_duty=False, home_kelurahan_code="35.71.01.1001"))

    everyone = (await gw.client.get("/api/v1/volunteers", headers=OPERATOR)).json()["items"]
    assert [v["id"] for v in everyone] == ["V-001", "V-002", "V-003"]
    page = await gw.client.get("/api/v1/volunteers", params={"limit": 1, "offset": 1}, headers=OPERATOR)
    assert [v["id"] for v in page.json()["items"]] == ["V-002"]
    trc = (await gw.client.get("/api/v1/volunteers", params={"unit": "trc"}, headers=OPERATOR)).json()[
        "items"
    ]
    assert [v["id"] for v in trc] == ["V-002"]
    assert trc[0]["status"] == "assigned"
    assert trc[0]["active_incident_id"] == "INC-9"
    assert trc[0]["deployments_30d"] == 1
    off = await gw.client.get("/api/v1/volunteers", params={"status": "off_duty"}, headers=OPERATOR)
    assert [v["id"] for v in off.json()["items"]] == ["V-003"]
    by_kel = await gw.client.get(
        "/api/v1/volunteers", params={"kelurahan_code": "35.71.01.1001"}, headers=OPERATOR
    )
    assert [v["id"] for v in by_kel.json()["items"]] == ["V-003"]
    bad = await gw.client.get("/api/v1/volunteers", params={"status": "asleep"}, headers=OPERATOR)
    assert bad.status_code == 422

    one = await gw.client.get("/api/v1/volunteers/V-001", headers=OPERATOR)
    assert one.json()["status"] == "available"
    assert one.json()["active_incident_id"] is None
    assert (await gw.client.get("/api/v1/volunteers/V-404", headers=OPERATOR)).status_code == 404


async def test_duty_change_carries_the_whole_profile(gw: Gw) -> None:
    await seed_volunteer(gw, profile("V-001"))
    moved = {"lat": -7.81, "lon": 112.02}
    answer = await gw.client.post(
        "/api/v1/volunteers/V-001/duty", json={"on_duty": False, "location": moved}, headers=OPERATOR
    )
    assert answer.status_code == 202
    assert answer.json() == {"id": "V-001", "event": "volunteer.duty_changed"}
    assert (
        await gw.client.post("/api/v1/volunteers/V-404/duty", json={"on_duty": True}, headers=OPERATOR)
    ).status_code == 404
    assert (
        await gw.client.post("/api/v1/volunteers/V-001/duty", json={}, headers=OPERATOR)
    ).status_code == 422

    records = await read_topic(gw.settings, VOLUNTEERS, expect=1)
    assert len(records) == 1
    assert records[0].key == b"V-001"
    change = events_of(records)[0].payload
    assert isinstance(change, VolunteerDutyChanged)
    assert change.on_duty is False
    assert change.profile.on_duty is False
    assert change.profile.location is not None
    assert (change.profile.location.lat, change.profile.location.lon) == (-7.81, 112.02)
    assert change.profile.skills == profile("V-001").skills  # nothing else lost


async def _apply_volunteers_topic(gw: Gw, roster: Roster, applied: int) -> int:
    """Do what the dispatcher's roster feed does: apply the `volunteers` records after the first
    `applied` ones to the roster read model. Returns how many records the topic has."""
    records = await read_topic(gw.settings, VOLUNTEERS, expect=applied + 1)
    await apply_records(roster, [(r.key, r.value) for r in records[applied:]], utcnow())
    return len(records)


async def test_self_service_link_issue_and_revoke(gw: Gw) -> None:
    roster = Roster(gw.redis, gw.settings.redis_prefix)
    await seed_volunteer(gw, profile("V-001"))
    assert (await gw.client.post("/api/v1/volunteers/V-001/link", headers=OPERATOR)).status_code == 403
    issued = await gw.client.post("/api/v1/volunteers/V-001/link", headers=COORDINATOR)
    assert issued.status_code == 201
    url = issued.json()["url"]
    assert url.startswith(gw.url + "/v/")
    path = urlsplit(url).path
    assert (await gw.client.get(path)).status_code == 200

    # the revocation is an event on `volunteers`, applied by the dispatcher (played here)
    revoking = asyncio.create_task(gw.client.delete("/api/v1/volunteers/V-001/link", headers=COORDINATOR))
    seen = await _apply_volunteers_topic(gw, roster, 0)
    assert (await revoking).status_code == 204
    revoked = events_of(await read_topic(gw.settings, VOLUNTEERS, expect=1))[0]
    assert isinstance(revoked.payload, VolunteerLinksRevoked)
    assert revoked.payload.profile.link_generation == 1
    assert revoked.payload.by and revoked.payload.by.startswith("coordinator")
    assert "link_gen" not in await gw.redis.hgetall(gw.keys.volunteer("V-001"))  # no dispatcher key written
    page = await gw.client.get(path)
    assert page.status_code == 410
    assert "dicabut" in page.text
    newer = (await gw.client.post("/api/v1/volunteers/V-001/link", headers=COORDINATOR)).json()
    assert newer["generation"] == 1
    assert (await gw.client.get(urlsplit(newer["url"]).path)).status_code == 200

    # an update of the profile carries the generation on
    updated = await gw.client.post("/api/v1/volunteers", json=upsert(id="V-001"), headers=COORDINATOR)
    assert updated.status_code == 202
    seen = await _apply_volunteers_topic(gw, roster, seen)
    assert (await gw.client.get(path)).status_code == 410

    # Redis lost: the roster rebuilt from the topic still refuses the revoked link
    async for key in gw.redis.scan_iter(match=gw.settings.redis_prefix + "*", count=1000):
        await gw.redis.delete(key)
    assert (await gw.client.get(path)).status_code == 404
    assert await rebuild_roster(gw.settings) == seen
    assert (await gw.client.get(path)).status_code == 410
    assert (await gw.client.get(urlsplit(newer["url"]).path)).status_code == 200
    assert (await gw.client.delete("/api/v1/volunteers/V-404/link", headers=COORDINATOR)).status_code == 404


# --- outbox, stream, health -------------------------------------------------------------------


async def test_outbox_is_for_admins(gw: Gw) -> None:
    message = OutboxMessage(
        notification_id="n-1",
        volunteer_id="V-001",
        kind=NotificationKind.OFFER,
        channel=ChannelType.WHATSAPP,
        address="+6281234567890",
        language=Language.ID,
        subject="Panggilan tugas",
        text="Banjir di Manisrenggo",
        response_url="http://x/r/t",
        incident_id="INC-1",
        offer_id="of-1",
        stored_at=utcnow(),
    )
    await gw.redis.lpush(gw.keys.outbox, message.model_dump_json())
    await gw.redis.lpush(gw.keys.volunteer_outbox("V-001"), message.model_dump_json())
    assert (await gw.client.get("/api/v1/outbox", headers=COORDINATOR)).status_code == 403
    everything = await gw.client.get("/api/v1/outbox", headers=ADMIN)
    assert [m["notification_id"] for m in everything.json()["items"]] == ["n-1"]
    mine = await gw.client.get("/api/v1/outbox", params={"volunteer_id": "V-001"}, headers=ADMIN)
    assert len(mine.json()["items"]) == 1
    other = await gw.client.get("/api/v1/outbox", params={"volunteer_id": "V-002"}, headers=ADMIN)
    assert other.json()["items"] == []


async def test_stream_relays_change_notices(gw: Gw) -> None:
    async with httpx.AsyncClient(base_url=gw.url, timeout=10) as client:
        assert (await client.get("/api/v1/stream")).status_code == 401
        async with client.stream("GET", "/api/v1/stream", headers=OPERATOR) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()

            async def next_data() -> dict[str, str]:
                async for line in lines:
                    if line.startswith("data: "):
                        return dict(json.loads(line[6:]))
                raise AssertionError("stream ended")

            async def publish_until_seen() -> dict[str, str]:
                # the subscription starts with the first client: publish until the relay has it
                reader = asyncio.ensure_future(next_data())
                while not reader.done():
                    await gw.redis.publish(gw.keys.changes, change_notice("incident", "INC-42"))
                    await asyncio.wait([reader], timeout=0.2)
                return reader.result()

            notice = await asyncio.wait_for(publish_until_seen(), 10)
            assert notice == {"kind": "incident", "id": "INC-42"}
            # heartbeats keep flowing while nothing changes (the fixture sets them to 0.5 s)
            async for line in lines:
                if line.startswith(": ping"):
                    break


async def test_health_readiness_metrics_and_openapi(gw: Gw) -> None:
    assert (await gw.client.get("/healthz")).json() == {"status": "ok"}
    ready = await gw.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"kafka": "ok", "redis": "ok"}
    await gw.client.get("/api/v1/incidents", headers=OPERATOR)
    metrics = (await gw.client.get("/metrics")).text
    assert 'sigap_gateway_requests_total{method="GET",route="/api/v1/incidents",status="200"}' in metrics
    spec = (await gw.client.get("/openapi.json")).json()
    post = spec["paths"]["/api/v1/incidents"]["post"]
    assert {"202", "401", "403", "409", "422", "503"} <= set(post["responses"])
    assert post["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "ApiKey" in spec["components"]["securitySchemes"]
    unknown = await gw.client.get("/no/such/path")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    wrong_method = await gw.client.delete("/api/v1/incidents", headers=OPERATOR)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_readyz_says_503_when_kafka_and_redis_are_unreachable(gw: Gw) -> None:
    from services.gateway.app import create_app

    broken = gw.settings.model_copy(
        update={"kafka_bootstrap": "127.0.0.1:1", "redis_url": "redis://127.0.0.1:1/0"}
    )
    app = create_app(broken)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"]["details"] == {"kafka": "unreachable", "redis": "unreachable"}
        assert (await client.get("/healthz")).status_code == 200
        posted = await client.post("/api/v1/incidents", json=body(), headers=OPERATOR)
        assert posted.status_code == 503
        assert posted.json()["error"]["code"] == "broker_unavailable"
        assert posted.headers["retry-after"] == "5"
        listed = await client.get("/api/v1/incidents", headers=OPERATOR)
        assert listed.status_code == 503
        assert listed.json()["error"]["code"] == "store_unavailable"
    await app.state.gateway.publisher.stop()
    await app.state.gateway.redis.aclose()
