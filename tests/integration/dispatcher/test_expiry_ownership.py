"""Offer expiry acts only on the incidents of the partitions a worker owns (against the real Redis and
broker, `FollowUps.expire_due` as the worker's timer calls it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from schemas.envelope import decode_event
from services.common.config import Settings
from services.common.kafka import new_producer
from services.common.topics import RESPONSES, SPECS
from services.dispatcher.ownership import Ownership
from tests.integration.dispatcher.conftest import volunteer
from tests.integration.dispatcher.test_dispatch import CountingSender, dispatch_for

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


@pytest.fixture
async def sender(topics: Settings) -> AsyncIterator[CountingSender]:
    producer = new_producer(topics.kafka_bootstrap, client_id=f"{topics.topic_prefix}test")
    await producer.start()
    yield CountingSender(producer)
    await producer.stop()


class TP:
    def __init__(self, topic: str, partition: int) -> None:
        self.topic, self.partition = topic, partition


async def test_a_worker_expires_only_its_own_incidents_offers_and_hands_the_rest_back(
    redis: Redis, settings: Settings, sender: CountingSender
) -> None:
    topic = settings.topic(RESPONSES)
    partitions = SPECS[RESPONSES].partitions
    mine, theirs = Ownership(topic, partitions), Ownership(topic, partitions)
    mine.assigned(TP(topic, p) for p in range(0, partitions, 2))
    theirs.assigned(TP(topic, p) for p in range(1, partitions, 2))
    incidents = [f"INC-EXP-{n}" for n in range(12)]
    assert {mine.owns(i) for i in incidents} == {True, False}, "both workers should own some"
    worker = dispatch_for(redis, settings, sender)
    for n, incident_id in enumerate(incidents):
        await worker.roster.apply(volunteer(f"v{n}", 1.0 + n), event_at=NOW, now=NOW)
        await worker.roster.reserve(f"v{n}", f"O-{n}", incident_id, NOW - timedelta(seconds=1), NOW)

    assert await worker.followups.expire_due(NOW, mine.owns) == sum(mine.owns(i) for i in incidents)
    expired = [decode_event(v).payload for t, v in sender.sent if t == topic]
    assert sorted(p.incident_id for p in expired) == sorted(i for i in incidents if mine.owns(i))  # type: ignore[attr-defined]
    # the others are due again at once: their owner expires them on its next tick
    sender.sent.clear()
    assert await worker.followups.expire_due(NOW, theirs.owns) == sum(theirs.owns(i) for i in incidents)
    expired = [decode_event(v).payload for t, v in sender.sent if t == topic]
    assert sorted(p.incident_id for p in expired) == sorted(i for i in incidents if theirs.owns(i))  # type: ignore[attr-defined]


async def test_a_worker_that_owns_nothing_expires_nothing(
    redis: Redis, settings: Settings, sender: CountingSender
) -> None:
    """Between a revocation and the next assignment: nothing claimed for good, nothing sent."""
    nobody = Ownership(settings.topic(RESPONSES), SPECS[RESPONSES].partitions)
    nobody.assigned([])
    worker = dispatch_for(redis, settings, sender)
    await worker.roster.apply(volunteer("a", 1.0), event_at=NOW, now=NOW)
    await worker.roster.reserve("a", "O-1", "INC-X", NOW - timedelta(seconds=1), NOW)
    assert await worker.followups.expire_due(NOW, nobody.owns) == 0
    assert not sender.sent
    everyone = Ownership(settings.topic(RESPONSES), SPECS[RESPONSES].partitions)
    everyone.assigned(TP(settings.topic(RESPONSES), p) for p in range(SPECS[RESPONSES].partitions))
    assert await worker.followups.expire_due(NOW, everyone.owns) == 1
