"""`CachedPartitioner` puts every key where aiokafka's (and Kafka's) default partitioner does."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner

from services.common.kafka import CachedPartitioner


def test_same_partition_as_the_default_for_every_key_and_count() -> None:
    rng = random.Random(7)
    cached, default = CachedPartitioner(size=64), DefaultPartitioner()
    keys = [rng.randbytes(rng.randint(0, 40)) for _ in range(500)] + [b"inc-1", "Kediri 💧".encode()]
    for count in (1, 3, 4, 8, 10):
        partitions = list(range(count))
        for key in keys + keys:  # the second pass is answered from the cache (64 keys: evictions too)
            assert cached(key, partitions, partitions) == default(key, partitions, partitions), key


def test_a_record_without_key_goes_to_an_available_partition() -> None:
    cached = CachedPartitioner()
    assert {cached(None, [0, 1, 2, 3], [2]) for _ in range(20)} == {2}
    assert cached(None, [0, 1, 2, 3], []) in {0, 1, 2, 3}
