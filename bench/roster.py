"""A synthetic roster of volunteers spread over Kota Kediri, loaded through the `volunteers` topic.

Volunteers live around the 46 kelurahan centroids (a few hundred metres of jitter), mostly Tagana and on
duty, reachable on WhatsApp (the bench enables only the outbox channel, so nothing leaves the machine).
They are produced as `volunteer.registered` events in large unacknowledged batches, and the dispatcher
materialises them in Redis; `wait_materialised` counts the `volunteers` set until all are there.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterator

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from schemas.envelope import Envelope, make_event
from schemas.events import ChannelAddress, Payload, VolunteerProfile, VolunteerRegistered
from schemas.fields import GeoPoint
from schemas.reference import KOTA_KEDIRI_AREA, all_kelurahan
from schemas.vocabulary import ChannelType, Skill, Unit
from services.common.kafka import key_of
from services.common.readmodels import Keys

log = logging.getLogger(__name__)

FIRST_NAMES = ("Siti", "Budi", "Dwi", "Agus", "Sri", "Eko", "Rina", "Joko", "Wahyu", "Nur", "Tri", "Dewi")
LAST_NAMES = ("Aminah", "Santoso", "Lestari", "Prasetyo", "Wulandari", "Hidayat", "Rahayu", "Saputra")
TAGANA_SKILLS = (Skill.WATER_RESCUE, Skill.EVACUATION, Skill.PUBLIC_KITCHEN, Skill.LOGISTICS, Skill.SHELTER)
TRC_SKILLS = (Skill.RAPID_ASSESSMENT, Skill.FIRST_AID, Skill.PSYCHOSOCIAL, Skill.DRIVER)
JITTER_DEG = 0.006  # about 650 m


def volunteer_id(index: int) -> str:
    return f"BV-{index:06d}"


def generate(
    count: int, *, seed: int = 7, tagana_share: float = 0.85, on_duty_share: float = 0.9
) -> Iterator[VolunteerProfile]:
    """`count` valid volunteer profiles, deterministic for a seed."""
    rng = random.Random(seed)
    places = list(all_kelurahan().values())
    area = KOTA_KEDIRI_AREA
    for i in range(count):
        home = places[i % len(places)]
        lat = min(max(home.lat + rng.uniform(-JITTER_DEG, JITTER_DEG), area.south), area.north)
        lon = min(max(home.lon + rng.uniform(-JITTER_DEG, JITTER_DEG), area.west), area.east)
        tagana = rng.random() < tagana_share
        pool = TAGANA_SKILLS if tagana else TRC_SKILLS
        phone = f"+628{(1_100_000_000 + i):010d}"
        yield VolunteerProfile(
            volunteer_id=volunteer_id(i),
            name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            phone=phone,
            unit=Unit.TAGANA if tagana else Unit.TRC,
            skills=rng.sample(pool, k=rng.randint(1, 3)),
            home_kelurahan_code=home.code,
            location=GeoPoint(lat=round(lat, 6), lon=round(lon, 6)),
            channels=[ChannelAddress(type=ChannelType.WHATSAPP, address=phone)],
            on_duty=rng.random() < on_duty_share,
        )


def expected_available(count: int, *, seed: int = 7) -> int:
    """How many generated volunteers are on-duty Tagana (the ones the bench's incidents can use)."""
    return sum(1 for p in generate(count, seed=seed) if p.on_duty and p.unit == Unit.TAGANA)


async def produce(producer: AIOKafkaProducer, topic: str, count: int, *, batch: int = 5000) -> float:
    """Produce `count` `volunteer.registered` events; return the seconds it took (acknowledged)."""
    started = time.perf_counter()
    pending: list[asyncio.Future[object]] = []
    for profile in generate(count):
        event: Envelope[Payload] = make_event(VolunteerRegistered(profile=profile), source="bench")
        pending.append(await producer.send(topic, event.to_json(), key=key_of(event)))
        if len(pending) >= batch:
            await asyncio.gather(*pending)
            pending.clear()
    if pending:
        await asyncio.gather(*pending)
    return time.perf_counter() - started


async def wait_materialised(redis: Redis, keys: Keys, count: int, timeout_s: float) -> float:
    """Wait until the dispatcher holds `count` volunteers in Redis; return the seconds waited."""
    started = time.perf_counter()
    deadline = started + timeout_s
    last = -1
    while True:
        have = int(await redis.scard(keys.volunteers))
        if have >= count:
            return time.perf_counter() - started
        if time.perf_counter() > deadline:
            raise TimeoutError(
                f"the dispatcher materialised {have} of {count} volunteers in {timeout_s:.0f}s"
            )
        if have != last:
            log.info("roster: %d/%d volunteers materialised", have, count)
            last = have
        await asyncio.sleep(0.5)
