"""Shared fixtures. Integration tests talk to the real Kafka broker that `make test` starts and to the
suite's own Redis (`tests/support/suite_redis.py`, started by `deploy/local/redis.sh`); each test owns a
fresh topic prefix, Redis key prefix, consumer groups and Redis ACL users: the services under test
connect as their own user, so one writing another's keys fails the test (NOPERM)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from services.common.config import Settings
from services.common.redis import Service, new_redis
from services.common.topics import create_topics, delete_topics
from tests.support.suite_redis import SUITE_REDIS, TestUsers

KAFKA = os.environ.get("SIGAP_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
REDIS_URL = SUITE_REDIS.url
"""the suite's Redis as its default user (seeds and inspects every key space)"""
os.environ["SIGAP_REDIS_URL"] = REDIS_URL  # what a test's Settings() and bench/faults helpers read


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's, there when it is
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test` runs on pytest-xdist workers: a module's tests on one worker, in their order
    (`tests/support/xdist_scheduling.py`), whatever `--dist` says."""
    from tests.support.xdist_scheduling import ModuleScheduling

    return ModuleScheduling(config)  # xdist's log is not used


@pytest.fixture(scope="session", autouse=True)
def suite_redis() -> Iterator[Any]:
    """The suite's Redis: started on first use (unit tests need none), stopped at the end."""
    yield SUITE_REDIS
    SUITE_REDIS.stop()


@pytest.fixture
def redis_users(prefix: str, suite_redis: Any) -> Iterator[TestUsers]:
    """The test's three service users, limited to its Redis prefix."""
    SUITE_REDIS.start()
    users = SUITE_REDIS.users(redis_prefix_of(prefix))
    SUITE_REDIS.create(users)
    yield users
    SUITE_REDIS.drop(users)


def redis_prefix_of(prefix: str) -> str:
    """The Redis key prefix of a topic prefix: its own hash tag (one cluster slot per test)."""
    return "{" + prefix.rstrip(".") + "}:"


@pytest.fixture
def prefix() -> str:
    """A fresh prefix for topics, Redis keys and consumer groups."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def test_env(prefix: str, redis_users: TestUsers) -> dict[str, str]:
    """Environment for a service process under test (see tests/support/procs.py): each service
    connects as its own ACL user."""
    return {
        "SIGAP_ENV": "test",
        "SIGAP_KAFKA_BOOTSTRAP": KAFKA,
        "SIGAP_REDIS_URL": REDIS_URL,
        "SIGAP_TOPIC_PREFIX": prefix,
        "SIGAP_REDIS_PREFIX": redis_prefix_of(prefix),
        "SIGAP_REDIS_CLUSTER": os.environ.get("SIGAP_REDIS_CLUSTER", "false"),
        **redis_users.env(),
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


@pytest.fixture
async def as_service(settings: Settings) -> AsyncIterator[Callable[[Service], Redis]]:
    """Clients of the real Redis as a service's own ACL user (for code under test run in-process)."""
    clients: list[Redis] = []

    def connect(service: Service) -> Redis:
        client = new_redis(settings.redis_url_for(service), cluster=settings.redis_cluster)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        await client.aclose()
