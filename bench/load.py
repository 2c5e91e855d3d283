"""Open-loop load generators: sends are scheduled on a fixed clock and never wait for earlier replies.

- `post_incidents`: `POST /api/v1/incidents` through the gateway, from several HTTP clients; an incident
  counts as sent when the gateway answers 202 (after the broker's ack).
- `produce_incidents`: `incident.reported` events straight onto `incidents`, as the gateway produces
  them, for the dispatcher's sustained-rate search (HTTP on two shared cores would measure the client).

Each incident asks for one Tagana volunteer, somewhere in Kota Kediri, at minor severity (the longest
offer time-to-live, so no offer expires during a stage).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from schemas.envelope import Envelope, make_event
from schemas.events import IncidentReported, Need, Payload
from schemas.fields import GeoPoint
from schemas.reference import all_kelurahan
from schemas.vocabulary import IncidentType, Severity, Unit
from services.common.kafka import key_of

log = logging.getLogger(__name__)

TICK_S = 0.002


@dataclass
class Sent:
    sent_at: float  # unix seconds when the request (or record) left the bench
    acked_at: float | None = None  # when the 202 (or the broker's ack) came back


@dataclass
class Sends:
    """What one stage sent: incident id → times; and what went wrong."""

    started_at: float = 0.0
    finished_at: float = 0.0
    scheduled: int = 0
    incidents: dict[str, Sent] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    dropped: int = 0  # not sent because too many requests were already in flight
    lag_max_s: float = 0.0  # how far the sender itself fell behind its clock


def _spot(rng: random.Random) -> tuple[float, float, str]:
    place = rng.choice(list(all_kelurahan().values()))
    return place.lat + rng.uniform(-0.004, 0.004), place.lon + rng.uniform(-0.004, 0.004), place.code


def incident_body(rng: random.Random, n: int) -> dict[str, Any]:
    lat, lon, code = _spot(rng)
    return {
        "type": "flood",
        "severity": "minor",
        "title": f"Genangan air (bench #{n})",
        "location": {"lat": round(lat, 6), "lon": round(lon, 6)},
        "kelurahan_code": code,
        "affected_people": 10,
        "needs": [{"unit": "tagana", "count": 1}],
    }


def incident_record(rng: random.Random, incident_id: str) -> tuple[bytes, bytes]:
    lat, lon, code = _spot(rng)
    event: Envelope[Payload] = make_event(
        IncidentReported(
            incident_id=incident_id,
            type=IncidentType.FLOOD,
            severity=Severity.MINOR,
            title=f"Genangan air (bench {incident_id})",
            location=GeoPoint(lat=round(lat, 6), lon=round(lon, 6)),
            kelurahan_code=code,
            affected_people=10,
            needs=[Need(unit=Unit.TAGANA, count=1)],
            reported_by="bench",
        ),
        source="bench",
        correlation_id=incident_id,
    )
    return event.to_json(), key_of(event) or incident_id.encode()


async def _clock(rate: float, duration_s: float, sends: Sends, fire: Any) -> None:
    """Call `fire(n)` for n = 0.. at `rate` per second for `duration_s`, catching up when late."""
    total = round(rate * duration_s)
    sends.scheduled = total
    start = time.perf_counter()
    sends.started_at = time.time()
    n = 0
    while n < total:
        now = time.perf_counter()
        due = min(total, int((now - start) * rate) + 1)
        if due > n:
            sends.lag_max_s = max(sends.lag_max_s, now - (start + n / rate))
        while n < due:
            fire(n)
            n += 1
        await asyncio.sleep(max(0.0, min(TICK_S, start + n / rate - time.perf_counter())))
    sends.finished_at = time.time()


async def post_incidents(
    clients: list[httpx.AsyncClient],
    *,
    rate: float,
    duration_s: float,
    seed: int,
    max_in_flight: int = 4000,
) -> Sends:
    """POST incidents at `rate`/s for `duration_s`; return when every request has been answered."""
    rng = random.Random(seed)
    sends = Sends()
    tasks: set[asyncio.Task[None]] = set()

    async def post(n: int) -> None:
        client = clients[n % len(clients)]
        sent_at = time.time()
        try:
            response = await client.post("/api/v1/incidents", json=incident_body(rng, n))
        except httpx.HTTPError as exc:
            sends.statuses[type(exc).__name__] += 1
            return
        sends.statuses[str(response.status_code)] += 1
        if response.status_code == 202:
            sends.incidents[response.json()["id"]] = Sent(sent_at, time.time())

    def fire(n: int) -> None:
        if len(tasks) >= max_in_flight:
            sends.dropped += 1
            return
        task = asyncio.create_task(post(n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    await _clock(rate, duration_s, sends, fire)
    if tasks:
        await asyncio.gather(*tasks)
    return sends


async def produce_incidents(
    producer: AIOKafkaProducer, topic: str, *, rate: float, duration_s: float, tag: str, seed: int
) -> Sends:
    """Produce `incident.reported` at `rate`/s for `duration_s` (records built before the clock starts)."""
    rng = random.Random(seed)
    total = round(rate * duration_s)
    records = [incident_record(rng, f"BI-{tag}-{n:06d}") for n in range(total)]
    sends = Sends()
    futures: list[tuple[str, asyncio.Future[Any]]] = []
    pending: deque[tuple[str, bytes, bytes]] = deque()

    def stamp(incident_id: str, future: asyncio.Future[Any]) -> None:
        sent = sends.incidents.get(incident_id)
        if sent is not None and not future.cancelled() and future.exception() is None:
            sent.acked_at = time.time()

    def fire(n: int) -> None:
        value, key = records[n]
        incident_id = key.decode()
        sends.incidents[incident_id] = Sent(time.time())
        pending.append((incident_id, value, key))

    async def flush() -> None:
        while pending:
            incident_id, value, key = pending.popleft()
            future = await producer.send(topic, value, key=key)
            future.add_done_callback(lambda f, i=incident_id: stamp(i, f))
            futures.append((incident_id, future))

    async def drive() -> None:
        clock = asyncio.create_task(_clock(rate, duration_s, sends, fire))
        while not clock.done() or pending:
            await flush()
            await asyncio.sleep(TICK_S / 2)
        await clock

    await drive()
    for incident_id, future in futures:
        try:
            await future
            sends.statuses["acked"] += 1
        except Exception as exc:
            sends.statuses[type(exc).__name__] += 1
            sends.incidents.pop(incident_id, None)
    return sends
