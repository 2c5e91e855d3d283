"""Shared fixtures. Integration tests talk to the real Kafka broker and Redis that `make test` starts
(`deploy/local/`); each test owns a fresh topic prefix, Redis key prefix and consumer groups."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from services.common.config import Settings
from services.common.redis import new_redis
from services.common.topics import create_topics, delete_topics

KAFKA = os.environ.get("SIGAP_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
REDIS_URL = os.environ.get("SIGAP_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def prefix() -> str:
    """A fresh prefix for topics, Redis keys and consumer groups."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def test_env(prefix: str) -> dict[str, str]:
    """Environment for a service process under test (see tests/support/procs.py)."""
    return {
        "SIGAP_ENV": "test",
        "SIGAP_KAFKA_BOOTSTRAP": KAFKA,
        "SIGAP_REDIS_URL": REDIS_URL,
        "SIGAP_TOPIC_PREFIX": prefix,
        "SIGAP_REDIS_PREFIX": "{" + prefix.rstrip(".") + "}:",  # one cluster slot per test
        "SIGAP_REDIS_CLUSTER": os.environ.get("SIGAP_REDIS_CLUSTER", "false"),
    }


@pytest.fixture
def settings(test_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    for name, value in test_env.items():
        monkeypatch.setenv(name, value)
    yield Settings()


@pytest.fixture
async def topics(settings: Settings) -> AsyncIterator[Settings]:
    """The test's own topics on the real broker, deleted afterwards."""
    await create_topics(settings.kafka_bootstrap, settings.topic_prefix)
    yield settings
    await delete_topics(settings.kafka_bootstrap, settings.topic_prefix)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    """A client of the real Redis; the test's keys are deleted afterwards."""
    client = new_redis(settings.redis_url, cluster=settings.redis_cluster)
    yield client
    async for key in client.scan_iter(match=settings.redis_prefix + "*", count=1000):
        await client.delete(key)
    await client.aclose()
