"""How long `sigap rebuild` takes: all of the dispatcher's Redis from the topics (issue 15's target:
under 60 s for 1,000 open incidents and 100,000 volunteers on this machine).

    python -m bench.rebuild [--volunteers 100000] [--incidents 1000]

On its own topic and key prefix (deleted afterwards) on the configured broker and Redis: the synthetic
roster (`bench.roster`) on `volunteers`; `--incidents` open floods reported on `incidents`, each with
the dispatch log the dispatcher writes for them — the `reported` decision with its needs, the status
changes, seven slots (the flood/severe run card), four of them accepted, one declined and offered
again, one expired — and each offer's delivery report on `responses`. Then `rebuild` runs once, timed
(the whole and each step), and the report is printed as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from bench.roster import produce
from schemas.envelope import make_event
from schemas.events import (
    IncidentReported,
    IncidentStatusChanged,
    Need,
    NotificationDelivered,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferMade,
    Payload,
)
from schemas.reference import all_kelurahan
from schemas.vocabulary import ChannelType, IncidentStatus, IncidentType, Severity, Skill, Unit
from services.common.config import Settings
from services.common.kafka import key_of
from services.common.redis import new_redis
from services.common.topics import (
    DISPATCH_LOG,
    INCIDENTS,
    RESPONSES,
    VOLUNTEERS,
    create_topics,
    delete_topics,
)
from services.dispatcher.incident import offer_id_for
from services.dispatcher.rebuild import rebuild
from services.dispatcher.runcards import load_runcards
from services.dispatcher.settings import DEFAULT_RUNCARDS

log = logging.getLogger(__name__)

NEEDS = [
    Need(unit=Unit.TAGANA, skill=Skill.WATER_RESCUE, count=2),
    Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=2),
    Need(unit=Unit.TAGANA, skill=Skill.PUBLIC_KITCHEN, count=2),
    Need(unit=Unit.TRC, skill=Skill.RAPID_ASSESSMENT, count=1),
]


def incident_records(index: int, at: datetime) -> tuple[IncidentReported, list[Payload], list[Payload]]:
    """One open flood: its report, its dispatch log, its delivery reports (8 offers to 8 volunteers)."""
    places = list(all_kelurahan().values())
    place = places[index % len(places)]
    incident_id = f"BI-{index:05d}"
    report = IncidentReported(
        incident_id=incident_id,
        type=IncidentType.FLOOD,
        severity=Severity.SEVERE,
        title=f"Banjir {place.name} #{index}",
        location={"lat": place.lat, "lon": place.lon},  # type: ignore[arg-type]
        kelurahan_code=place.code,
    )
    log_: list[Payload] = [
        IncidentStatusChanged(
            incident_id=incident_id, status=IncidentStatus.REPORTED, reason="run card", needs=NEEDS
        ),
        IncidentStatusChanged(
            incident_id=incident_id,
            status=IncidentStatus.DISPATCHING,
            previous_status=IncidentStatus.REPORTED,
            reason="searching for volunteers",
        ),
    ]
    delivered: list[Payload] = []
    slots = [(n, need) for n, need in enumerate(NEEDS) for _ in range(need.count)]
    for seq, (need_index, need) in enumerate([*slots, slots[0]]):  # slot 0 offered twice (a decline)
        vid = f"BV-{(index * 9 + seq) % 100_000:06d}"
        offer_id = offer_id_for(incident_id, seq)
        ids = {"offer_id": offer_id, "incident_id": incident_id, "volunteer_id": vid}
        log_.append(
            OfferMade(
                **ids,
                need_index=need_index,
                unit=need.unit,
                skill=need.skill,
                distance_km=1.5,
                expires_at=at + timedelta(minutes=3),
            )
        )
        delivered.append(
            NotificationDelivered(
                notification_id=f"n-{offer_id}", channel=ChannelType.OUTBOX, attempts=1, latency_ms=40, **ids
            )
        )
        if seq == 0:
            log_.append(OfferDeclined(**ids))
        elif seq in (1, 2, 3, 4):
            log_.append(OfferAccepted(**ids))
        elif seq == 5:
            log_.append(OfferExpired(**ids))
    return report, log_, delivered


async def load(settings: Settings, volunteers: int, incidents: int) -> float:
    started = time.perf_counter()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        await produce(producer, settings.topic(VOLUNTEERS), volunteers)
        at = datetime.now(UTC) - timedelta(minutes=1)
        pending = []
        for index in range(incidents):
            report, decisions, delivered = incident_records(index, at)
            for topic, payloads in ((INCIDENTS, [report]), (DISPATCH_LOG, decisions), (RESPONSES, delivered)):
                for payload in payloads:
                    event = make_event(payload, source="bench", occurred_at=at)
                    pending.append(
                        await producer.send(settings.topic(topic), event.to_json(), key=key_of(event))
                    )
            if len(pending) > 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def main_async(volunteers: int, incidents: int) -> dict[str, object]:
    prefix = f"bench-rebuild-{uuid.uuid4().hex[:8]}."
    settings = Settings(topic_prefix=prefix, redis_prefix="{" + prefix.rstrip(".") + "}:")
    await create_topics(settings.kafka_bootstrap, settings.topic_prefix)
    redis = new_redis(settings.redis_url)
    try:
        loaded = await load(settings, volunteers, incidents)
        started = time.perf_counter()
        report = await rebuild(settings, load_runcards(DEFAULT_RUNCARDS))
        seconds = time.perf_counter() - started
        assert report is not None  # noqa: S101 - our own prefix: nobody else holds its lock
        return {
            "volunteers": volunteers,
            "open_incidents": incidents,
            "load_s": round(loaded, 1),
            "rebuild_s": round(seconds, 2),
            "phases_s": report.phases,
            "double_booked": len(report.double_booked),
            "report": report.summary(),
        }
    finally:
        doomed = [key async for key in redis.scan_iter(match=settings.redis_prefix + "*", count=5000)]
        for start in range(0, len(doomed), 5000):
            await redis.unlink(*doomed[start : start + 5000])
        await redis.aclose()
        await delete_topics(settings.kafka_bootstrap, settings.topic_prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--volunteers", type=int, default=100_000)
    parser.add_argument("--incidents", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = asyncio.run(main_async(args.volunteers, args.incidents))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
