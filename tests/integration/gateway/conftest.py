"""The gateway under test: the real app served by uvicorn in the test's event loop, talking to the real
Kafka and Redis with the test's own topic and key prefixes. The read models are seeded the way the
dispatcher writes them (`services.common.readmodels`), so each test sets the state it needs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis

from schemas.api import AssignmentView, IncidentView, NeedView, TimelineEntry
from schemas.envelope import Envelope, decode_event
from schemas.events import Payload, VolunteerProfile
from schemas.fields import GeoPoint
from schemas.reference import kelurahan
from schemas.vocabulary import AssignmentStatus, IncidentStatus, IncidentType, Severity, Unit
from services.common.config import Settings
from services.common.links import LinkClaims, sign
from services.common.readmodels import Keys
from services.gateway.app import create_app
from tests.support.procs import free_port

OPERATOR = {"Authorization": "Bearer dev-operator-key"}
COORDINATOR = {"Authorization": "Bearer dev-coordinator-key"}
ADMIN = {"Authorization": "Bearer dev-admin-key"}
MANISRENGGO = "35.71.02.1015"


@dataclass
class Gw:
    settings: Settings
    url: str
    client: httpx.AsyncClient
    redis: Redis
    keys: Keys

    def topic(self, name: str) -> str:
        return self.settings.topic(name)


@pytest.fixture
async def gw(topics: Settings, redis: Redis) -> AsyncIterator[Gw]:
    port = free_port()
    settings = topics.model_copy(update={"http_port": port, "public_url": f"http://127.0.0.1:{port}"})
    app = create_app(settings)
    app.state.sse_heartbeat_s = 0.5
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started, "uvicorn did not start"
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=20.0) as client:
        yield Gw(settings, url, client, redis, Keys(settings.redis_prefix))
    server.should_exit = True
    await asyncio.wait_for(task, 15)


# --- reading what the gateway produced --------------------------------------------------------


async def read_topic(settings: Settings, name: str, *, expect: int, timeout_s: float = 10.0) -> list[Any]:
    """Every record on the test's topic `name`, waiting until at least `expect` are there; then a short
    grace to catch any extra one (tests assert exact counts)."""
    topic = settings.topic(name)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        parts = await partitions_of(settings, topic)
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        grace_until: float | None = None
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
            if len(records) >= expect:
                if grace_until is None:
                    grace_until = loop.time() + 0.5
                elif loop.time() >= grace_until:
                    break
        return sorted(records, key=lambda r: (r.timestamp, r.partition, r.offset))
    finally:
        await consumer.stop()


async def partitions_of(settings: Settings, topic: str) -> set[int]:
    """The topic's partitions, from the broker's metadata (aiokafka's public admin API; a topic created a
    moment ago may take a few metadata rounds to show)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        for _ in range(50):
            described = await admin.describe_topics(None)  # all topics: naming one could create it
            parts = {p["partition"] for t in described if t["topic"] == topic for p in t["partitions"]}
            if parts:
                return parts
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    raise AssertionError(f"topic {topic} has no partitions")


def events_of(records: list[Any]) -> list[Envelope[Payload]]:
    return [decode_event(r.value) for r in records]


# --- seeding the read models the way the dispatcher writes them --------------------------------


def incident_view(
    incident_id: str,
    *,
    status: IncidentStatus = IncidentStatus.DISPATCHING,
    assignments: list[AssignmentView] | None = None,
    now: datetime | None = None,
) -> IncidentView:
    now = now or datetime.now(UTC)
    kel = kelurahan(MANISRENGGO)
    return IncidentView(
        id=incident_id,
        type=IncidentType.FLOOD,
        severity=Severity.SEVERE,
        title="Banjir luapan Sungai Brantas",
        description="Air 60 cm di permukiman",
        location=GeoPoint(lat=kel.lat, lon=kel.lon),
        kelurahan_code=kel.code,
        kelurahan_name=kel.name,
        kecamatan_name=kel.kecamatan_name,
        affected_people=40,
        status=status,
        needs=[NeedView(unit=Unit.TAGANA, count=1, filled=0, offered=1, open=0)],
        assignments=assignments or [],
        timeline=[TimelineEntry(at=now, event="reported", detail="test")],
        reported_at=now,
        updated_at=now,
    )


async def seed_incident(gw: Gw, view: IncidentView) -> None:
    score = view.reported_at.timestamp()
    await gw.redis.set(gw.keys.incident(view.id), view.model_dump_json())
    await gw.redis.zadd(gw.keys.all_incidents, {view.id: score})
    if view.status.is_open:
        await gw.redis.zadd(gw.keys.open_incidents, {view.id: score})
    else:
        await gw.redis.zrem(gw.keys.open_incidents, view.id)


async def seed_offer(  # noqa: PLR0917 - the fields of the offer hash, in order
    gw: Gw,
    offer_id: str,
    incident_id: str,
    volunteer_id: str,
    status: AssignmentStatus = AssignmentStatus.OFFERED,
    expires_in_s: float = 180,
) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=expires_in_s)
    await gw.redis.hset(
        gw.keys.offer(offer_id),
        mapping={
            "incident_id": incident_id,
            "volunteer_id": volunteer_id,
            "status": status.value,
            "expires_at": expires.isoformat(),
        },
    )


def profile(volunteer_id: str = "V-901", **changes: Any) -> VolunteerProfile:
    kel = kelurahan(MANISRENGGO)
    data: dict[str, Any] = {
        "volunteer_id": volunteer_id,
        "name": "Siti Rahayu",
        "phone": "0812-3456-7890",
        "unit": "tagana",
        "skills": ["water_rescue", "evacuation"],
        "certifications": [{"skill": "water_rescue", "expires_on": "2030-01-01"}],
        "home_kelurahan_code": kel.code,
        "location": {"lat": kel.lat, "lon": kel.lon},
        "channels": [
            {"type": "whatsapp", "address": "081234567890"},
            {"type": "outbox", "address": volunteer_id},
        ],
        "on_duty": True,
    }
    data.update(changes)
    return VolunteerProfile.model_validate(data)


async def seed_volunteer(gw: Gw, prof: VolunteerProfile, **fields: str) -> None:
    mapping = {
        "profile": prof.model_dump_json(),
        "status": "available" if prof.on_duty else "off_duty",
        **fields,
    }
    await gw.redis.hset(gw.keys.volunteer(prof.volunteer_id), mapping=mapping)
    await gw.redis.sadd(gw.keys.volunteers, prof.volunteer_id)


def offer_token(
    gw: Gw, offer_id: str, volunteer_id: str, incident_id: str | None = None, *, expires_in_s: float = 3600
) -> str:
    claims = LinkClaims(
        kind="offer",
        volunteer_id=volunteer_id,
        offer_id=offer_id,
        incident_id=incident_id,
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in_s),
    )
    return sign(claims, gw.settings.link_secret)


def assignment(offer_id: str, volunteer_id: str, status: AssignmentStatus) -> AssignmentView:
    now = datetime.now(UTC)
    return AssignmentView(
        offer_id=offer_id,
        volunteer_id=volunteer_id,
        volunteer_name="Siti Rahayu",
        unit=Unit.TAGANA,
        status=status,
        distance_km=1.2,
        offered_at=now,
        expires_at=now + timedelta(minutes=3),
    )


def body(**changes: Any) -> dict[str, Any]:
    kel = kelurahan(MANISRENGGO)
    data: dict[str, Any] = {
        "type": "flood",
        "severity": "severe",
        "title": "Banjir di Manisrenggo",
        "location": {"lat": kel.lat, "lon": kel.lon},
    }
    data.update(changes)
    return data


def parse_json(raw: bytes) -> Any:
    return json.loads(raw)
