"""An answer parked in Redis (it overtook its offer: `test_answer_overtakes.py`) is not lost with Redis:
its `responses` offset was committed when it was parked, so Redis held its only copy, and a rebuild
wipes `dsp:parked:*`. The rebuild derives it again from the topics — acknowledged by the dispatcher's
group, applied by no recorded decision — and puts it back on `responses`, where the incident's owner
decides it. Against the real Redis and broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis

from schemas.envelope import Envelope, decode_event, make_event
from schemas.events import OfferAccepted, Payload, VolunteerRegistered
from schemas.vocabulary import AssignmentStatus
from services.common.config import Settings
from services.common.kafka import key_of
from services.common.topics import RESPONSES
from services.dispatcher.rebuild import rebuild
from services.dispatcher.runcards import load_runcards
from services.dispatcher.settings import DEFAULT_RUNCARDS
from services.dispatcher.unapplied import dispatcher_group
from tests.integration.dispatcher.conftest import volunteer
from tests.integration.dispatcher.test_answer_overtakes import sender  # noqa: F401 - a fixture
from tests.integration.dispatcher.test_dispatch import CountingSender, dispatch_for, report_of

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


async def test_a_parked_answer_lost_with_redis_is_put_back_and_decided(
    redis: Redis,
    settings: Settings,
    sender: CountingSender,  # noqa: F811 - the fixture
) -> None:
    producer = sender.producer
    profiles = [volunteer(vid, km) for vid, km in (("a", 1.0), ("b", 2.0))]
    for profile in profiles:
        event = make_event(VolunteerRegistered(profile=profile), source="test")
        await producer.send_and_wait(settings.topic("volunteers"), event.to_json(), key=key_of(event))
    report = report_of("INC-PK")
    await producer.send_and_wait(settings.topic("incidents"), report.to_json(), key=b"INC-PK")

    killed = dispatch_for(redis, settings, sender)
    for profile in profiles:
        await killed.roster.apply(profile, event_at=NOW, now=NOW)
    state = await killed.handle(report, NOW)  # offer.made on dispatch-log
    assert state is not None
    offer = state.assignments[0]
    await redis.delete(killed.incidents.state_key("INC-PK"))  # killed before its save

    ids = {"offer_id": offer.offer_id, "incident_id": "INC-PK", "volunteer_id": offer.volunteer_id}
    accepted = make_event(OfferAccepted(**ids), source="test")
    where = await producer.send_and_wait(settings.topic(RESPONSES), accepted.to_json(), key=b"INC-PK")
    owner = dispatch_for(redis, settings, sender)
    assert await owner.handle(accepted, NOW + timedelta(seconds=1)) is None  # parked
    assert await redis.exists(f"{settings.redis_prefix}dsp:parked:INC-PK")
    await _commit(settings, where.partition, where.offset + 1)  # the worker acknowledged it

    # Redis lost (or an operator's rebuild): the parked answer goes with it, and comes back
    done = await rebuild(
        settings, load_runcards(DEFAULT_RUNCARDS), redis=redis, now=NOW + timedelta(seconds=2)
    )
    assert done is not None and done.answers_put_back == 1
    assert not await redis.exists(f"{settings.redis_prefix}dsp:parked:INC-PK")
    again = await _on_responses(settings, where.partition)
    assert [e.event_id for e in again].count(accepted.event_id) == 2  # the same event, once more

    # its owner decides it (after the rebuild: the state is the log's, the offer outstanding)
    after = dispatch_for(redis, settings, sender)
    decided = await after.handle(again[-1], NOW + timedelta(seconds=3))
    assert decided is not None and decided.assignments[0].status == AssignmentStatus.ACCEPTED
    # a second rebuild finds it applied: nothing more is put back
    done = await rebuild(
        settings, load_runcards(DEFAULT_RUNCARDS), redis=redis, now=NOW + timedelta(seconds=4)
    )
    assert done is not None and done.answers_put_back == 0


async def _commit(settings: Settings, partition: int, offset: int) -> None:
    """Commit `offset` on `responses[partition]` for the dispatcher workers' group, as a worker does."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=dispatcher_group(settings),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        tp = TopicPartition(settings.topic(RESPONSES), partition)
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


async def _on_responses(settings: Settings, partition: int) -> list[Envelope[Payload]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(settings.topic(RESPONSES), partition)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        out: list[Envelope[Payload]] = []
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(tp, timeout_ms=1000)).values():
                out.extend(decode_event(r.value) for r in records if r.value)
        return out
    finally:
        await consumer.stop()
