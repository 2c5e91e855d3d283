"""The roster feed: `volunteers` topic events into the Redis roster, live and as a full rebuild.

`rebuild_roster(settings)` reads the compacted topic from the beginning up to the end offsets taken
at start and applies every profile (`python -m services.dispatcher rebuild-roster`, `sigap roster
rebuild`). Applying is idempotent and ordered per volunteer by the event time, so a rebuild running
beside live workers never rolls a volunteer back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from schemas.envelope import Envelope, InvalidEvent, decode_event
from schemas.events import (
    Payload,
    VolunteerDutyChanged,
    VolunteerLinksRevoked,
    VolunteerRegistered,
    VolunteerUpdated,
)
from services.common.base_settings import CommonSettings
from services.common.kafka import security_options
from services.common.redis import redis_for
from services.common.topics import VOLUNTEERS
from services.dispatcher.roster import ProfileChange, Roster

log = logging.getLogger(__name__)


def profile_change(event: Envelope[Payload]) -> ProfileChange | None:
    """The roster change a `volunteers` event carries; None for any other event type."""
    payload = event.payload
    if isinstance(payload, VolunteerDutyChanged):
        return ProfileChange(payload.profile, event.occurred_at, payload.on_duty, payload.location)
    if isinstance(payload, VolunteerRegistered | VolunteerUpdated | VolunteerLinksRevoked):
        return ProfileChange(payload.profile, event.occurred_at)
    return None


async def apply_volunteer_event(roster: Roster, event: Envelope[Payload], now: datetime) -> bool:
    """Apply one roster event; True when the volunteer just became available (retry understaffed)."""
    change = profile_change(event)
    if change is None:
        log.warning("%s on the volunteers topic is not a roster event; ignored", event.event_type)
        return False
    return (await roster.apply_many([change], now))[0] == 1


async def apply_record(roster: Roster, key: bytes | None, value: bytes | None, now: datetime) -> bool:
    """Apply one record of the topic; True when the volunteer just became available. Raises
    `InvalidEvent` for a record that is not a roster event."""
    _, available, invalid = await apply_records(roster, [(key, value)], now)
    if invalid:
        raise InvalidEvent(invalid[0][1])
    return bool(available)


async def apply_records(
    roster: Roster, records: list[tuple[bytes | None, bytes | None]], now: datetime
) -> tuple[int, list[str], list[tuple[int, str]]]:
    """Apply a batch of `(key, value)` records of the topic in one round trip. A tombstone (no
    value) removes the volunteer named by the key. Returns (applied, the ids of the volunteers who
    became available, invalid records as (index, reason))."""
    changes: list[ProfileChange] = []
    invalid: list[tuple[int, str]] = []
    available: list[str] = []

    async def flush() -> None:
        results = await roster.apply_many(changes, now)
        available.extend(c.profile.volunteer_id for c, r in zip(changes, results, strict=True) if r == 1)
        changes.clear()

    for index, (key, value) in enumerate(records):
        if value is None:
            if changes:  # keep the topic's order around a removal
                await flush()
            if key:
                await roster.remove(key.decode("utf-8", "replace"))
            continue
        try:
            change = profile_change(decode_event(value))
        except InvalidEvent as exc:
            invalid.append((index, exc.reason))
            continue
        if change is None:
            invalid.append(
                (index, "not a roster event (volunteer.registered, .updated, .duty_changed, .links_revoked)")
            )
            continue
        changes.append(change)
    if changes:
        await flush()
    return len(records) - len(invalid), available, invalid


async def partitions(settings: CommonSettings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **security_options(settings))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = [t for t in described if t.get("topic") == topic and not t.get("error_code")]
    if not found:
        raise RuntimeError(f"topic {topic} does not exist")
    return sorted(p["partition"] for p in found[0]["partitions"])


async def read_to_end(
    settings: CommonSettings, topic: str, *, max_records: int = 2000, timeout_s: float = 300.0
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """A topic's records up to its end offsets when reading began, in batches (each of one partition,
    in its order)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"{settings.topic_prefix}rebuild",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        **security_options(settings),
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await partitions(settings, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"did not reach the end of {topic} in {timeout_s:.0f} s")
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=max_records)
            for tp, records in batches.items():
                yield [r for r in records if r.offset < end[tp]]
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()


async def rebuild_roster(settings: CommonSettings, timeout_s: float = 300.0) -> int:
    """Re-apply the whole `volunteers` topic to Redis; return the number of records applied."""
    topic = settings.topic(VOLUNTEERS)
    redis = redis_for(settings, "dispatcher")
    roster = Roster(redis, settings.redis_prefix)
    applied = skipped = 0
    try:
        async for wanted in read_to_end(settings, topic, timeout_s=timeout_s):
            done, _, invalid = await apply_records(
                roster, [(r.key, r.value) for r in wanted], datetime.now(UTC)
            )
            applied += done
            skipped += len(invalid)
            for index, reason in invalid:
                record = wanted[index]
                log.warning(
                    "%s[%d]@%d is not a valid roster event: %s",
                    topic,
                    record.partition,
                    record.offset,
                    reason,
                )
        log.info("roster rebuilt from %s: %d records applied, %d invalid skipped", topic, applied, skipped)
        return applied
    finally:
        await redis.aclose()
