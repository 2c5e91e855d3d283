"""One owner per key space, enforced: on a Redis of its own (never the shared one) with the services'
ACL users applied, the gateway cannot write a dispatcher key, each service writes its own keys and
reads the others' read models, and the real roster and incident-store scripts run as the dispatcher."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError

from services.common.acl import SERVICES, apply, service_url
from services.common.readmodels import Keys
from services.dispatcher.roster import Roster
from tests.integration.dispatcher.conftest import volunteer
from tests.support.procs import free_port

pytestmark = pytest.mark.integration

PREFIX = "{kediri}:"
PASSWORDS = {s: f"test-{s}-password" for s in SERVICES}


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own on a free port, stopped afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
async def clients(own_redis: str) -> AsyncIterator[dict[str, Redis]]:
    admin = Redis.from_url(own_redis, decode_responses=True)
    for _ in range(100):
        try:
            await admin.ping()
            break
        except RedisConnectionError:
            await asyncio.sleep(0.05)
    await apply(admin, PREFIX, PASSWORDS)
    users = {
        s: Redis.from_url(service_url(own_redis, s, PASSWORDS[s]), decode_responses=True) for s in SERVICES
    }
    yield users
    for client in [*users.values(), admin]:
        await client.aclose()


async def test_the_gateway_cannot_write_a_dispatcher_key(clients: dict[str, Redis]) -> None:
    keys = Keys(PREFIX)
    gateway, dispatcher, notifier = clients["gateway"], clients["dispatcher"], clients["notifier"]
    await dispatcher.hset(keys.volunteer("V-1"), mapping={"status": "available"})
    with pytest.raises(NoPermissionError):
        await gateway.hset(keys.volunteer("V-1"), "status", "off_duty")  # e.g. the old link_gen bump
    with pytest.raises(NoPermissionError):
        await gateway.delete(keys.incident("INC-1"))
    assert await gateway.hget(keys.volunteer("V-1"), "status") == "available"  # reads the read model
    assert await gateway.set(keys.idempotency("k-1"), "INC-1", nx=True)  # its own keys
    with pytest.raises(NoPermissionError):
        await dispatcher.set(keys.idempotency("k-2"), "x")
    with pytest.raises(NoPermissionError):
        await notifier.hset(keys.volunteer("V-1"), "status", "off_duty")
    await notifier.lpush(keys.outbox, "{}")
    with pytest.raises(NoPermissionError):
        await gateway.lpush(keys.outbox, "{}")
    assert await gateway.publish(keys.changes, "{}") == 0
    with pytest.raises(NoPermissionError):
        await gateway.flushall()
    with pytest.raises(NoPermissionError):
        await gateway.set("sigap:elsewhere", "1")  # another deployment's keys


async def test_the_dispatchers_scripts_run_as_its_user(clients: dict[str, Redis]) -> None:
    roster = Roster(clients["dispatcher"], PREFIX)
    now = datetime.now(UTC)
    assert await roster.apply(volunteer("V-7", 1.0), event_at=now, now=now) == 1
    assert await roster.reserve("V-7", "of-1", "INC-1", now, now)
    assert (await roster.hold("V-7")).offer_id == "of-1"
    with pytest.raises(NoPermissionError):
        await Roster(clients["gateway"], PREFIX).apply(volunteer("V-8", 1.0), event_at=now, now=now)
