"""`send_in_batches` against the real broker: every record lands on the partition `send` would have
chosen, in order, with a timestamp; a batch that fills goes on in the next one."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer

from services.common.config import Settings
from services.common.kafka import new_producer
from services.common.topics import DISPATCH_LOG, NOTIFICATIONS
from services.dispatcher.outputs import Outbound, send_in_batches

pytestmark = pytest.mark.integration


async def _read(bootstrap: str, topics: list[str], count: int) -> list[tuple[str, int, bytes, bytes, int]]:
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    seen: list[tuple[str, int, bytes, bytes, int]] = []
    try:
        deadline = time.monotonic() + 20
        while len(seen) < count and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                seen.extend((tp.topic, tp.partition, r.key, r.value, r.timestamp) for r in records)
    finally:
        await consumer.stop()
    return seen


async def test_records_land_where_send_puts_them_in_order(topics: Settings) -> None:
    producer = new_producer(topics.kafka_bootstrap, client_id=f"{topics.topic_prefix}batches")
    await producer.start()
    try:
        log, notes = topics.topic(DISPATCH_LOG), topics.topic(NOTIFICATIONS)
        big = b"x" * 6000  # three of these fill a 16 KiB batch: the next batch takes over
        records: list[Outbound] = []
        for n in range(40):
            key = f"INC-{n % 7}".encode()
            records.append((log, key, b"log-%d" % n))
            records.append((notes, key, b"note-%d-" % n + (big if n % 5 == 0 else b"")))
        started_ms = int(time.time() * 1000)
        pending = await send_in_batches(producer, records)
        assert len(pending) < len(records)  # batches, not one acknowledgement per record
        await asyncio.gather(*pending)

        expected = {}
        for topic, key, _ in records:  # where the producer's own partitioner would put each key
            partitions = sorted(await producer.partitions_for(topic))
            expected[(topic, key)] = producer._partition(topic, None, key, None, key, None)
            assert expected[(topic, key)] in partitions
    finally:
        await producer.stop()

    seen = await _read(topics.kafka_bootstrap, [log, notes], len(records))
    assert sorted(v for *_, v, _ in seen) == sorted(v for *_, v in records)  # each once, none lost
    order: dict[tuple[str, bytes], list[bytes]] = defaultdict(list)
    for topic, partition, key, value, timestamp in seen:
        assert partition == expected[(topic, key)], (topic, key)
        assert started_ms - 1000 <= timestamp <= int(time.time() * 1000)
        order[(topic, key)].append(value)
    for (topic, key), values in order.items():  # each key's records in the order they were given
        assert values == [v for t, k, v in records if (t, k) == (topic, key)]
