"""The ops-room board: sign-in, session cookie, CSRF, forms, and the cookie-authenticated API."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from schemas.events import IncidentCancelled, IncidentReported, OfferAccepted
from services.common.topics import INCIDENTS, RESPONSES
from tests.integration.gateway.conftest import (
    MANISRENGGO,
    Gw,
    assignment,
    events_of,
    incident_view,
    read_topic,
    seed_incident,
    seed_offer,
)

pytestmark = pytest.mark.integration

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@contextlib.asynccontextmanager
async def signed_in(gw: Gw, key: str = "dev-operator-key") -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gw.url, timeout=20) as client:
        login = await client.get("/board/login")
        match = CSRF.search(login.text)
        assert match
        answer = await client.post("/board/login", data={"key": key, "csrf": match.group(1)})
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/board"
        yield client


async def test_sign_in_sets_a_strict_httponly_session_and_never_the_key(gw: Gw) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as anonymous:
        assert (await anonymous.get("/board")).headers["location"] == "/board/login"
        assert (await anonymous.get("/board/panel")).status_code == 303
    async with signed_in(gw) as client:
        cookies = list(client.cookies.jar)
        session = next(c for c in cookies if c.name == "sigap_session")
        assert "dev-operator-key" not in session.value
        assert session.has_nonstandard_attr("HttpOnly")
        assert session.get_nonstandard_attr("SameSite", "").lower() == "strict"
        board = await client.get("/board")
        assert board.status_code == 200
        assert "dev-operator-key" not in board.text
        assert "Laporkan kejadian" in board.text
        assert board.text.count('<option value="35.71.') == 46  # the kelurahan picker
        assert 'optgroup label="Kec. Mojoroto"' in board.text
        # the same session reads the API (the board's live stream uses it) but cannot write without CSRF
        assert (await client.get("/api/v1/incidents")).status_code == 200
        denied = await client.post("/api/v1/incidents/INC-1/close")
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "csrf_failed"


async def test_a_wrong_key_is_refused_and_guessing_is_throttled(gw: Gw) -> None:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        token = CSRF.search((await client.get("/board/login")).text)
        assert token
        refused = await client.post("/board/login", data={"key": "guess-0000", "csrf": token.group(1)})
        assert refused.status_code == 401
        assert "sigap_session" not in refused.cookies
        for _ in range(10):
            last = await client.post("/board/login", data={"key": "guess-0000", "csrf": token.group(1)})
        assert last.status_code == 429
        no_csrf = await client.post("/board/login", data={"key": "dev-operator-key"})
        assert no_csrf.status_code in (303, 429)
        assert "sigap_session" not in no_csrf.cookies


async def test_post_an_incident_from_the_form(gw: Gw) -> None:
    async with signed_in(gw) as client:
        page = await client.get("/board")
        csrf = CSRF.search(page.text)
        idem = re.search(r'name="idem" value="([0-9a-f]+)"', page.text)
        assert csrf and idem
        form = {
            "csrf": csrf.group(1),
            "idem": idem.group(1),
            "type": "flood",
            "severity": "severe",
            "title": "Banjir di bantaran",
            "kelurahan_code": MANISRENGGO,  # no lat/lon: the kelurahan's centroid
            "need_unit": ["tagana", ""],
            "need_skill": ["water_rescue", ""],
            "need_count": ["2", "1"],
        }
        answer = await client.post("/board/incidents", data=form, headers={"X-Requested-With": "fetch"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["ok"] is True
        again = await client.post("/board/incidents", data=form)  # a double submit without JavaScript
        assert again.status_code == 303
        invalid = await client.post(
            "/board/incidents",
            data={**form, "idem": "other", "title": ""},
            headers={"X-Requested-With": "fetch"},
        )
        assert invalid.status_code == 422
        assert "title" in invalid.json()["error"]["message"]
        forged = await client.post(
            "/board/incidents", data={**form, "csrf": "nope"}, headers={"X-Requested-With": "fetch"}
        )
        assert forged.status_code == 403

    records = await read_topic(gw.settings, INCIDENTS, expect=1)
    assert len(records) == 1  # the double submit carried the same idempotency key
    reported = events_of(records)[0].payload
    assert isinstance(reported, IncidentReported)
    assert reported.kelurahan_code == MANISRENGGO
    assert [(n.unit.value, n.skill.value if n.skill else None, n.count) for n in reported.needs] == [
        ("tagana", "water_rescue", 2)
    ]


async def test_board_buttons_cancel_and_record_an_answer(gw: Gw) -> None:
    from schemas.vocabulary import AssignmentStatus

    await seed_incident(
        gw, incident_view("INC-1", assignments=[assignment("of-1", "V-001", AssignmentStatus.OFFERED)])
    )
    await seed_offer(gw, "of-1", "INC-1", "V-001")
    async with signed_in(gw) as client:
        panel = await client.get("/board/panel")
        assert "INC-1" in panel.text and "/board/offers/of-1/accept" in panel.text
        csrf = client.cookies["sigap_csrf"]
        accepted = await client.post("/board/offers/of-1/accept", data={"csrf": csrf})
        assert accepted.status_code == 303
        flash = await client.get("/board")
        assert "dicatat" in flash.text
        cancelled = await client.post(
            "/board/incidents/INC-1/cancel",
            data={"csrf": csrf, "reason": "banjir surut"},
            headers={"X-Requested-With": "fetch"},
        )
        assert cancelled.json() == {"ok": True, "message": "Kejadian INC-1 dibatalkan."}
        missing = await client.post(
            "/board/incidents/INC-9/close", data={"csrf": csrf}, headers={"X-Requested-With": "fetch"}
        )
        assert missing.status_code == 404
        data = (await client.get("/board/map.json")).json()
        assert data["incidents"][0]["id"] == "INC-1"
        assert (await client.get("/board/outbox")).status_code == 403  # operators do not see the links

    answer = events_of(await read_topic(gw.settings, RESPONSES, expect=1))[0].payload
    assert isinstance(answer, OfferAccepted) and answer.via == "ops_room"
    cancel = events_of(await read_topic(gw.settings, INCIDENTS, expect=1))[0].payload
    assert isinstance(cancel, IncidentCancelled) and cancel.reason == "banjir surut"


async def test_admin_sees_the_outbox_page_and_can_sign_out(gw: Gw) -> None:
    async with signed_in(gw, "dev-admin-key") as client:
        assert (await client.get("/board/outbox")).status_code == 200
        out = await client.post("/board/logout", data={"csrf": client.cookies["sigap_csrf"]})
        assert out.headers["location"] == "/board/login"
        assert (await client.get("/board")).status_code == 303


async def test_weather_banner_posts_its_draft_incident_once(gw: Gw) -> None:
    from datetime import UTC, datetime, timedelta

    from schemas.api import IncidentCreate, WeatherAlertView
    from schemas.reference import kelurahan

    home = kelurahan(MANISRENGGO)
    now = datetime.now(UTC)
    alert = WeatherAlertView(
        alert_id="2.49.0.1.360.0.2026.11.28.kediri",
        kind="cap",
        event="Hujan lebat disertai petir",
        headline="Peringatan dini cuaca Jawa Timur",
        severity="Severe",
        urgency="Immediate",
        sent=now,
        expires=now + timedelta(hours=2),
        affected_kelurahan=[MANISRENGGO],
        affected_kecamatan=["Kota"],
        status="active",
        draft_incident=IncidentCreate.model_validate(
            {
                "type": "extreme_weather",
                "severity": "severe",
                "title": "Siaga hujan lebat Manisrenggo",
                "location": {"lat": home.lat, "lon": home.lon},
            }
        ),
    )
    await gw.redis.set(gw.keys.alert(alert.alert_id), alert.model_dump_json())
    await gw.redis.zadd(gw.keys.active_alerts, {alert.alert_id: alert.expires.timestamp()})  # type: ignore[union-attr]
    async with signed_in(gw) as client:
        board = await client.get("/board")
        assert "Hujan lebat disertai petir" in board.text
        assert "Manisrenggo" in board.text
        action = f"/board/alerts/{alert.alert_id}/draft"
        assert action in board.text
        csrf = client.cookies["sigap_csrf"]
        first = await client.post(action, data={"csrf": csrf}, headers={"X-Requested-With": "fetch"})
        second = await client.post(action, data={"csrf": csrf}, headers={"X-Requested-With": "fetch"})
        assert first.json()["ok"] and second.json()["ok"]
        assert "sudah pernah" in second.json()["message"]
        missing = await client.post(
            "/board/alerts/nope/draft", data={"csrf": csrf}, headers={"X-Requested-With": "fetch"}
        )
        assert missing.status_code == 404

    records = await read_topic(gw.settings, INCIDENTS, expect=1)
    assert len(records) == 1  # one click or two: one incident
    draft = events_of(records)[0].payload
    assert isinstance(draft, IncidentReported)
    assert draft.from_alert_id == alert.alert_id
    assert draft.title == "Siaga hujan lebat Manisrenggo"
