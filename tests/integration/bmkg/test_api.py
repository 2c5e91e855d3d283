"""`POST /api/v1/weather/cap` and `GET /api/v1/weather/alerts` through the gateway's real app, with the
real Kafka broker and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis

from schemas.api import WeatherAlertView
from schemas.events import WeatherAlertCancelled, WeatherAlertIssued
from services.common.config import Settings
from services.common.readmodels import Keys
from services.common.topics import WEATHER_ALERTS
from services.gateway.app import create_app
from tests.integration.bmkg.feeds import TopicReader
from tests.unit.bmkg.documents import (
    GORONTALO,
    KEDIRI,
    KEDIRI_CANCEL,
    MOJOROTO,
    PESANTREN,
    codes_of,
    read,
    shifted,
)
from tests.unit.bmkg.test_hostile import BILLION_LAUGHS, EXTERNAL_ENTITY

pytestmark = pytest.mark.integration

OPERATOR = "operator-key-for-tests"
API_KEYS = f"operator:{OPERATOR},admin:admin-key-for-tests"
XML = {"Authorization": f"Bearer {OPERATOR}", "Content-Type": "application/xml"}
LIMIT = 16 * 1024


@pytest.fixture
def api_settings(topics: Settings) -> Settings:
    return Settings(**{**topics.model_dump(), "api_keys": API_KEYS, "bmkg_max_document_bytes": LIMIT})


@pytest.fixture
async def client(api_settings: Settings, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http,
    ):
        yield http


@pytest.fixture
async def reader(topics: Settings) -> AsyncIterator[TopicReader]:
    topic_reader = await TopicReader(topics.kafka_bootstrap, topics.topic(WEATHER_ALERTS)).start()
    yield topic_reader
    await topic_reader.stop()


@pytest.fixture
def suffix(topics: Settings) -> Iterator[str]:
    yield "." + topics.topic_prefix.strip(".")


def _gorontalo_now(now: datetime) -> bytes:
    """The real Gorontalo capture, moved to today so it is not expired."""
    text = read(GORONTALO).decode()
    wita = now + timedelta(hours=8)
    for old, delta in (("15:07:00", -30), ("15:27:00", -10), ("17:27:00", 90)):
        stamp = (wita + timedelta(minutes=delta)).strftime("%Y-%m-%dT%H:%M:%S")
        text = text.replace(f"2026-09-24T{old}", stamp)
    return text.encode()


async def test_kediri_warning_is_accepted_after_the_broker_acks(
    client: httpx.AsyncClient, reader: TopicReader, suffix: str
) -> None:
    document = shifted(KEDIRI, datetime.now(UTC), identifier_suffix=suffix)

    response = await client.post("/api/v1/weather/cap", content=document, headers=XML)

    assert response.status_code == 202, response.text
    body = response.json()
    ident = "2.49.0.1.360.0.2026.01.15.08.35.001" + suffix
    assert body["alert_id"] == ident
    assert body["status"] == "issued"
    assert body["affected_kelurahan"] == codes_of(MOJOROTO, PESANTREN)
    assert body["affected_kecamatan"] == ["Mojoroto", "Pesantren"]
    (event,) = await reader.wait(1)  # already on the broker when the 202 came back
    assert isinstance(event.payload, WeatherAlertIssued)
    assert event.payload.alert_id == ident

    again = await client.post(
        "/api/v1/weather/cap", content=document, headers={**XML, "Content-Type": "text/xml; charset=utf-8"}
    )
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert len(await reader.settle(500)) == 1


async def test_cancel_after_the_alert(client: httpx.AsyncClient, reader: TopicReader, suffix: str) -> None:
    now = datetime.now(UTC)
    await client.post(
        "/api/v1/weather/cap", content=shifted(KEDIRI, now, identifier_suffix=suffix), headers=XML
    )

    response = await client.post(
        "/api/v1/weather/cap", content=shifted(KEDIRI_CANCEL, now, identifier_suffix=suffix), headers=XML
    )

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "cancelled"
    _, cancelled = await reader.wait(2)
    assert isinstance(cancelled.payload, WeatherAlertCancelled)
    assert "2.49.0.1.360.0.2026.01.15.08.35.001" + suffix in cancelled.payload.cancelled_alert_ids


async def test_alert_elsewhere_is_ignored_with_the_reason(
    client: httpx.AsyncClient, reader: TopicReader
) -> None:
    response = await client.post(
        "/api/v1/weather/cap", content=_gorontalo_now(datetime.now(UTC)), headers=XML
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "alert_id": "2.49.0.1.360.0.2026.09.24.07.75.002",
        "status": "ignored",
        "affected_kelurahan": [],
        "affected_kecamatan": [],
        "reason": "no Kota Kediri kelurahan affected",
    }
    assert await reader.settle(500) == []
    metrics = await client.get("/metrics")
    assert 'sigap_bmkg_documents_total{origin="api",outcome="ignored"}' in metrics.text


@pytest.mark.parametrize(
    ("document", "status", "code", "words"),
    [
        (read(GORONTALO), 422, "cap_expired", "expired at 2026-09-24T09:27:00+00:00"),
        (BILLION_LAUGHS, 422, "cap_forbidden_xml", "refused"),
        (EXTERNAL_ENTITY, 422, "cap_forbidden_xml", "refused"),
        (read(KEDIRI).replace(b"cap:1.2", b"cap:1.1"), 422, "cap_wrong_namespace", "expected CAP 1.2"),
        (b"hujan deras di Mojoroto", 422, "cap_not_xml", "not well-formed"),
        (read(KEDIRI).replace(b"<sent>2026-01-15T15:10:00+07:00</sent>", b""), 422, "cap_invalid", "<sent>"),
        (read(KEDIRI) + b"<!--" + b"x" * LIMIT + b"-->", 413, "payload_too_large", "limit"),
    ],
)
async def test_unusable_documents_get_a_clear_error(
    client: httpx.AsyncClient, document: bytes, status: int, code: str, words: str
) -> None:
    response = await client.post("/api/v1/weather/cap", content=document, headers=XML)

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert words in error["message"]


async def test_oversized_body_without_content_length_is_cut_off(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"<!--" + b"x" * 1024 + b"-->"

    response = await client.post("/api/v1/weather/cap", content=chunks(), headers=XML)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_other_content_types_and_missing_keys_are_refused(client: httpx.AsyncClient) -> None:
    as_json = await client.post(
        "/api/v1/weather/cap", content=read(KEDIRI), headers={**XML, "Content-Type": "application/json"}
    )
    anonymous = await client.post(
        "/api/v1/weather/cap", content=read(KEDIRI), headers={"Content-Type": "application/xml"}
    )
    listing = await client.get("/api/v1/weather/alerts")

    assert as_json.status_code == 415
    assert as_json.json()["error"]["code"] == "unsupported_media_type"
    assert anonymous.status_code == 401
    assert listing.status_code == 401


def _view(alert_id: str, status: str, sent: datetime, expires: datetime | None) -> WeatherAlertView:
    return WeatherAlertView(
        alert_id=alert_id,
        kind="cap",
        event="Hujan Lebat dan Petir",
        headline=f"headline {alert_id}",
        severity="Moderate",
        urgency="Immediate",
        sent=sent,
        expires=expires,
        affected_kelurahan=codes_of(MOJOROTO),
        affected_kecamatan=["Mojoroto"],
        status=status,
    )


async def test_alert_list_reads_the_dispatchers_read_models(
    client: httpx.AsyncClient, api_settings: Settings, redis: Redis, suffix: str
) -> None:
    now = datetime.now(UTC)
    keys = Keys(api_settings.redis_prefix)
    active = _view("active-1", "active", now - timedelta(minutes=5), now + timedelta(hours=1))
    lapsed = _view("lapsed-1", "active", now - timedelta(hours=3), now - timedelta(minutes=1))
    for view in (active, lapsed):
        await redis.set(keys.alert(view.alert_id), view.model_dump_json())
        await redis.zadd(keys.active_alerts, {view.alert_id: view.expires.timestamp()})  # type: ignore[union-attr]
    await redis.set(keys.alert("broken"), "{not json")
    await redis.zadd(
        keys.active_alerts, {"broken": now.timestamp() + 60, "no-document": now.timestamp() + 60}
    )
    # an alert published through this API and later cancelled by the dispatcher
    response = await client.post(
        "/api/v1/weather/cap", content=shifted(KEDIRI, now, identifier_suffix=suffix), headers=XML
    )
    cancelled_id = response.json()["alert_id"]
    cancelled = _view(cancelled_id, "cancelled", now - timedelta(minutes=20), now + timedelta(hours=2))
    await redis.set(keys.alert(cancelled_id), cancelled.model_dump_json())

    current = await client.get("/api/v1/weather/alerts", headers={"Authorization": f"Bearer {OPERATOR}"})
    everything = await client.get(
        "/api/v1/weather/alerts", params={"all": "true"}, headers={"Authorization": f"Bearer {OPERATOR}"}
    )

    assert current.status_code == 200, current.text
    assert [a["alert_id"] for a in current.json()["items"]] == ["active-1"]
    assert current.json()["items"][0]["affected_kelurahan"] == codes_of(MOJOROTO)
    items = {a["alert_id"]: a["status"] for a in everything.json()["items"]}
    assert items == {"active-1": "active", "lapsed-1": "expired", cancelled_id: "cancelled"}
    assert [a["alert_id"] for a in everything.json()["items"]] == ["active-1", cancelled_id, "lapsed-1"]
