"""Fixtures of the dispatcher's integration tests: dispatcher workers as real subprocesses against
the real broker and Redis, a producer for the test's topics, and a reader of what came out."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from redis.asyncio import Redis

from schemas import reference
from schemas.envelope import Envelope, decode_event, make_event
from schemas.events import (
    Certification,
    ChannelAddress,
    IncidentReported,
    Need,
    NotificationRequested,
    Payload,
    VolunteerProfile,
    VolunteerRegistered,
)
from schemas.fields import GeoPoint
from schemas.vocabulary import ChannelType, IncidentType, Severity, Skill, Unit
from services.common.config import Settings
from services.common.kafka import key_of
from services.common.readmodels import Keys
from services.common.redis import Service
from services.common.topics import TOPICS
from tests.support.procs import ServiceProcess, free_port
from tests.support.waiting import eventually

SEMAMPIR = reference.kelurahan("35.71.02.1001")
HERE = GeoPoint(lat=SEMAMPIR.lat, lon=SEMAMPIR.lon)
KM_PER_DEG_LAT = 111.195


def east_of(point: GeoPoint, km: float) -> GeoPoint:
    """A point `km` east of `point` (great-circle distance within a metre at these scales)."""
    return GeoPoint(lat=point.lat, lon=point.lon + km / (KM_PER_DEG_LAT * math.cos(math.radians(point.lat))))


def north_of(point: GeoPoint, km: float) -> GeoPoint:
    return GeoPoint(lat=point.lat + km / KM_PER_DEG_LAT, lon=point.lon)


def volunteer(
    vid: str,
    km: float,
    unit: Unit = Unit.TAGANA,
    skills: tuple[Skill, ...] = (Skill.EVACUATION,),
    *,
    on_duty: bool = True,
    certified_until: date | None = date(2030, 1, 1),
    home: str = SEMAMPIR.code,
    where: GeoPoint = HERE,
) -> VolunteerProfile:
    return VolunteerProfile(
        volunteer_id=vid,
        name=f"Relawan {vid}",
        phone=f"08123{abs(hash(vid)) % 10_000_000:07d}",
        unit=unit,
        skills=list(skills),
        certifications=[Certification(skill=s, expires_on=certified_until) for s in skills]
        if certified_until
        else [],
        home_kelurahan_code=home,
        location=east_of(where, km),
        channels=[ChannelAddress(type=ChannelType.OUTBOX, address=vid)],
        on_duty=on_duty,
        allow_outside_area=True,
    )


def incident(
    incident_id: str,
    needs: list[Need] | None = None,
    *,
    type_: IncidentType = IncidentType.FLOOD,
    severity: Severity = Severity.SEVERE,
    where: GeoPoint = HERE,
) -> IncidentReported:
    return IncidentReported(
        incident_id=incident_id,
        type=type_,
        severity=severity,
        title=f"Banjir {incident_id}",
        location=where,
        kelurahan_code=SEMAMPIR.code,
        needs=needs or [],
    )


@dataclass
class Record:
    topic: str
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    event: Envelope[Payload] | None


@dataclass
class Bus:
    """The test's side of Kafka: produce inputs, collect every output record."""

    settings: Settings
    producer: AIOKafkaProducer
    consumer: AIOKafkaConsumer
    records: list[Record] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    read_to: dict[tuple[str, int], int] = field(default_factory=dict)
    """the next offset to read, by (topic, partition)"""

    async def send(self, topic: str, payload: Payload, *, event_id: str | None = None) -> Envelope[Payload]:
        event = make_event(payload, source="test", event_id=event_id)
        await self.producer.send_and_wait(self.settings.topic(topic), event.to_json(), key=key_of(event))
        return event

    async def send_raw(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        await self.producer.send_and_wait(self.settings.topic(topic), value, key=key)

    async def register(self, *profiles: VolunteerProfile) -> None:
        for p in profiles:
            await self.send("volunteers", VolunteerRegistered(profile=p))

    def on(self, topic: str) -> list[Record]:
        name = self.settings.topic(topic)
        return [r for r in self.records if r.topic == name]

    def events(self, topic: str, event_type: str | None = None) -> list[Envelope[Payload]]:
        return [
            r.event
            for r in self.on(topic)
            if r.event is not None and (event_type is None or r.event.event_type == event_type)
        ]

    def notifications(self, kind: str | None = None) -> list[NotificationRequested]:
        out = [e.payload for e in self.events("notifications")]
        return [n for n in out if isinstance(n, NotificationRequested) and (kind is None or n.kind == kind)]

    async def _collect(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for r in records:
                    try:
                        event: Envelope[Payload] | None = decode_event(r.value) if r.value else None
                    except ValueError:
                        event = None
                    self.records.append(Record(r.topic, r.key, r.value, r.timestamp, event))
                    self.read_to[(r.topic, r.partition)] = r.offset + 1

    async def caught_up(self, *names: str) -> None:
        """Wait until every record the topics hold now has been read: after it, what is not in
        `records` had not been written when this was called."""
        tps = [
            TopicPartition(self.settings.topic(t.name), p)
            for t in TOPICS
            if t.name in names
            for p in range(t.partitions)
        ]
        end = await self.consumer.end_offsets(tps)
        await eventually(
            lambda: all(self.read_to.get((tp.topic, tp.partition), 0) >= end[tp] for tp in tps),
            what=f"the bus to read {', '.join(names)} to the end",
        )


@pytest.fixture
async def bus(topics: Settings) -> AsyncIterator[Bus]:
    producer = AIOKafkaProducer(bootstrap_servers=topics.kafka_bootstrap, acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=topics.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    wanted = ("notifications", "dispatch-log", "dead-letters", "responses")
    tps = [
        TopicPartition(topics.topic(t.name), p)
        for t in TOPICS
        if t.name in wanted
        for p in range(t.partitions)
    ]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    b = Bus(topics, producer, consumer)
    b.task = asyncio.create_task(b._collect())
    yield b
    b.task.cancel()
    await asyncio.gather(b.task, return_exceptions=True)
    await consumer.stop()
    await producer.stop()


@dataclass
class Workers:
    """Start dispatcher worker subprocesses with the test's environment."""

    env: dict[str, str]
    log_dir: Path
    started: list[ServiceProcess] = field(default_factory=list)

    def start(self, name: str = "w1", *, clocked: bool = False, **extra: str) -> ServiceProcess:
        """A worker; `clocked`: on a clock that stands still until the test moves it (`move_clock`)."""
        port = free_port()
        env = {**self.env, "SIGAP_DISPATCHER_PORT": str(port), **extra}
        proc = ServiceProcess(
            ["-m", "tests.support.clocked" if clocked else "services.dispatcher", "worker", "-l", "info"],
            env,
            self.log_dir / f"dispatcher-{name}.log",
        ).start()
        proc.port = port  # type: ignore[attr-defined]
        self.started.append(proc)
        proc.wait_http(f"http://127.0.0.1:{port}/healthz", timeout_s=60)
        return proc

    def logs(self) -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.log_tail(40)}" for p in self.started)


async def move_clock(worker: ServiceProcess, advance_s: float = 0.0, *run: str) -> dict[str, Any]:
    """Advance the clock of a worker started with `clocked=True`, then run its timers named in `run`
    (`expire_offers`, `wake_rested`, `retry_understaffed`, `expire_alerts`) at the new now.
    Returns `{"now": iso, "ran": {timer: count}}`."""
    port = worker.port  # type: ignore[attr-defined]
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"http://127.0.0.1:{port}/test/clock", json={"advance_s": advance_s, "run": list(run)}
        )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


@pytest.fixture
def dispatcher_env(test_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {
        **test_env,
        "SIGAP_DATA_DIR": str(tmp_path / "data"),
        "SIGAP_OFFER_TTL_S": "30",
        "SIGAP_EXPIRY_INTERVAL_S": "0.2",
        "SIGAP_RETRY_INTERVAL_S": "2",
        "SIGAP_LINK_SECRET": "integration-test-link-secret-0123456789",
        "SIGAP_PUBLIC_URL": "http://sigap.test",
        "SIGAP_COORDINATORS": "Pak Koordinator|outbox:koordinator",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def redis(redis: Redis, as_service: Callable[[Service], Redis]) -> Redis:
    """In the dispatcher's tests the test code acts as the dispatcher: its own ACL user (the outer
    `redis` fixture, the default user, still deletes the test's keys afterwards)."""
    return as_service("dispatcher")


@pytest.fixture
def workers(dispatcher_env: dict[str, str], tmp_path: Path, topics: Settings) -> Iterator[Workers]:
    w = Workers(dispatcher_env, tmp_path)
    yield w
    with ThreadPoolExecutor() as pool:  # each waits for its worker's shutdown: all at once
        list(pool.map(lambda proc: proc.stop(timeout_s=10), w.started))


class Roster:
    """Reads the roster read models the way the gateway does."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.keys = Keys(settings.redis_prefix)

    async def count(self) -> int:
        return int(await self.redis.scard(self.keys.volunteers))

    async def ready(self, n: int) -> None:
        """Wait until the worker has materialised `n` volunteers."""
        await eventually(lambda: self._has(n), what=f"{n} volunteers in the roster")

    async def _has(self, n: int) -> bool:
        return await self.count() >= n

    async def status(self, vid: str) -> str | None:
        value = await self.redis.hget(self.keys.volunteer(vid), "status")
        return str(value) if value is not None else None

    async def fields(self, vid: str) -> dict[str, str]:
        return dict(await self.redis.hgetall(self.keys.volunteer(vid)))

    async def incident(self, incident_id: str) -> Any:
        from schemas.api import IncidentView

        raw = await self.redis.get(self.keys.incident(incident_id))
        return IncidentView.model_validate_json(raw) if raw else None


@pytest.fixture
def roster(redis: Redis, settings: Settings) -> Roster:
    return Roster(redis, settings)
