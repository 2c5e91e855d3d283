"""The roster feed: `volunteers` topic events into the Redis roster, live and as a full rebuild.

`rebuild_roster(settings)` reads the compacted topic from the beginning up to the end offsets taken
at start and applies every profile (`python -m services.dispatcher rebuild-roster`, `sigap roster
rebuild`). Applying is idempotent and ordered per volunteer by the event time, so a rebuild running
beside live workers never rolls a volunteer back.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.envelope import Envelope, InvalidEvent, decode_event
from schemas.events import Payload, VolunteerDutyChanged, VolunteerRegistered, VolunteerUpdated
from services.common.config import Settings
from services.common.redis import new_redis
from services.common.topics import VOLUNTEERS
from services.dispatcher.roster import Roster

log = logging.getLogger(__name__)


async def apply_volunteer_event(roster: Roster, event: Envelope[Payload], now: datetime) -> bool:
    """Apply one roster event; True when the volunteer just became available (retry understaffed)."""
    payload = event.payload
    if isinstance(payload, VolunteerDutyChanged):
        result = await roster.apply(
            payload.profile,
            event_at=event.occurred_at,
            now=now,
            on_duty=payload.on_duty,
            location=payload.location,
        )
    elif isinstance(payload, VolunteerRegistered | VolunteerUpdated):
        result = await roster.apply(payload.profile, event_at=event.occurred_at, now=now)
    else:
        log.warning("%s on the volunteers topic is not a roster event; ignored", event.event_type)
        return False
    if result < 0:
        log.info(
            "volunteer %s: event %s is older than the roster's; skipped",
            payload.profile.volunteer_id,
            event.event_id,
        )
    return result == 1


async def apply_record(roster: Roster, key: bytes | None, value: bytes | None, now: datetime) -> bool:
    """Apply one record of the topic: a tombstone (no value) removes the volunteer named by the key."""
    if value is None:
        if key:
            await roster.remove(key.decode("utf-8", "replace"))
        return False
    return await apply_volunteer_event(roster, decode_event(value), now)


async def _partitions(settings: Settings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = [t for t in described if t.get("topic") == topic and not t.get("error_code")]
    if not found:
        raise RuntimeError(f"topic {topic} does not exist")
    return sorted(p["partition"] for p in found[0]["partitions"])


async def rebuild_roster(settings: Settings, timeout_s: float = 120.0) -> int:
    """Re-apply the whole `volunteers` topic to Redis; return the number of records applied."""
    topic = settings.topic(VOLUNTEERS)
    redis = new_redis(settings.redis_url)
    roster = Roster(redis, settings.redis_prefix)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"{settings.topic_prefix}roster-rebuild",
    )
    await consumer.start()
    applied = skipped = 0
    try:
        tps = [TopicPartition(topic, p) for p in await _partitions(settings, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        started = datetime.now(UTC)
        while remaining:
            if (datetime.now(UTC) - started).total_seconds() > timeout_s:
                raise TimeoutError(f"roster rebuild did not reach the end of {topic} in {timeout_s:.0f} s")
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    try:
                        await apply_record(roster, record.key, record.value, datetime.now(UTC))
                        applied += 1
                    except InvalidEvent as exc:
                        skipped += 1
                        log.warning(
                            "%s[%d]@%d is not a valid roster event: %s",
                            topic,
                            tp.partition,
                            record.offset,
                            exc.reason,
                        )
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        log.info("roster rebuilt from %s: %d records applied, %d invalid skipped", topic, applied, skipped)
        return applied
    finally:
        await consumer.stop()
        await redis.aclose()
