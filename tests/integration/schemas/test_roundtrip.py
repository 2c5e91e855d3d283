"""Every event type through a real Kafka topic with the faust codec, and through real Redis."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer
from faust.serializers import codecs
from redis.asyncio import Redis

from schemas.codec import CODEC_NAME, register
from schemas.envelope import Envelope, decode_event, make_event
from schemas.events import Payload
from services.common.config import Settings
from services.common.kafka import key_of, new_producer
from services.common.topics import DEAD_LETTERS, INCIDENTS, TOPICS
from tests.support.samples import sample_payloads

pytestmark = pytest.mark.integration


async def test_topics_exist_with_the_volunteers_topic_compacted(topics: Settings) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=topics.kafka_bootstrap)
    await admin.start()
    try:
        names = set(await admin.list_topics())
        assert {topics.topic(t.name) for t in TOPICS} <= names
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topics.topic("volunteers"))]
        )
        entries = {c[0]: c[1] for c in described[0].resources[0][4]}
        assert entries["cleanup.policy"] == "compact"
    finally:
        await admin.close()


async def test_every_event_round_trips_through_kafka_with_the_codec(topics: Settings) -> None:
    register()
    codec = codecs.get_codec(CODEC_NAME)
    topic = topics.topic(INCIDENTS)
    sent = [make_event(p, source="test", correlation_id="INC-1") for p in sample_payloads()]
    producer = new_producer(topics.kafka_bootstrap)
    await producer.start()
    try:
        for event in sent:
            await producer.send_and_wait(topic, codec.dumps(event), key=key_of(event))
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=topics.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=topics.topic_prefix + "roundtrip",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[Envelope[Payload]] = []
    try:
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    received.extend(codec.loads(r.value) for r in records)
    finally:
        await consumer.stop()
    assert sorted(received, key=lambda e: e.event_id) == sorted(sent, key=lambda e: e.event_id)
    assert {type(e.payload) for e in received} == {type(p) for p in sample_payloads()}


async def test_codec_refuses_what_is_not_an_envelope() -> None:
    register()
    codec = codecs.get_codec(CODEC_NAME)
    with pytest.raises(TypeError, match="Envelope"):
        codec.dumps({"event_type": "x"})
    with pytest.raises(ValueError, match="payload"):
        codec.loads(
            b'{"event_id":"1","event_type":"offer.expired","schema_version":1,'
            b'"occurred_at":"2026-11-28T00:00:00Z","source":"t","payload":{}}'
        )


async def test_every_event_round_trips_through_redis(redis: Redis, settings: Settings) -> None:
    for payload in sample_payloads():
        event = make_event(payload, source="test")
        key = f"{settings.redis_prefix}event:{event.event_id}"
        await redis.set(key, event.to_json())
        stored = await redis.get(key)
        assert stored is not None
        assert decode_event(stored) == event


async def test_dead_letters_topic_accepts_a_poison_record(topics: Settings) -> None:
    from services.common.deadletter import decode_or_dead_letter

    event, dead = decode_or_dead_letter(b"\xff garbage", topic=topics.topic(INCIDENTS), consumer="test")
    assert event is None and dead is not None
    producer = new_producer(topics.kafka_bootstrap)
    await producer.start()
    try:
        meta = await producer.send_and_wait(topics.topic(DEAD_LETTERS), dead.to_json())
    finally:
        await producer.stop()
    assert meta.offset == 0
    assert dead.payload.reason.startswith("(root)")
