"""One owner per key space, enforced: as the services' ACL users of the test's prefix (the suite's own
Redis, tests/support/suite_redis.py), the gateway cannot write a dispatcher key, each service writes its
own keys and reads the others' read models but not their private keys, and the real roster scripts run
as the dispatcher."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from redis.exceptions import NoPermissionError

from services.common.acl import SERVICES
from services.common.config import Settings
from services.common.readmodels import Keys
from services.common.redis import Service
from services.dispatcher.roster import Roster
from tests.integration.dispatcher.conftest import volunteer

pytestmark = pytest.mark.integration


@pytest.fixture
def clients(as_service: Callable[[Service], Redis]) -> dict[str, Redis]:
    """The three services' clients, each its own ACL user limited to the test's prefix (the suite's
    Redis, tests/support/suite_redis.py)."""
    return {s: as_service(s) for s in SERVICES}


async def test_the_gateway_cannot_write_a_dispatcher_key(
    clients: dict[str, Redis], settings: Settings
) -> None:
    keys = Keys(settings.redis_prefix)
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
    # private keys are not read models: the dispatcher's state, the notifier's claims
    await dispatcher.set(f"{keys.prefix}dsp:generation", "g-1")
    await notifier.hset(f"{keys.prefix}notif:N-1", "outcome", "delivered")
    with pytest.raises(NoPermissionError):
        await gateway.get(f"{keys.prefix}dsp:generation")
    with pytest.raises(NoPermissionError):
        await notifier.get(f"{keys.prefix}dsp:generation")
    with pytest.raises(NoPermissionError):
        await dispatcher.hget(f"{keys.prefix}notif:N-1", "outcome")
    assert await dispatcher.lrange(keys.outbox, 0, -1) == ["{}"]  # the notifier's read model


async def test_the_dispatchers_scripts_run_as_its_user(clients: dict[str, Redis], settings: Settings) -> None:
    roster = Roster(clients["dispatcher"], settings.redis_prefix)
    now = datetime.now(UTC)
    assert await roster.apply(volunteer("V-7", 1.0), event_at=now, now=now) == 1
    assert await roster.reserve("V-7", "of-1", "INC-1", now, now)
    assert (await roster.hold("V-7")).offer_id == "of-1"
    with pytest.raises(NoPermissionError):
        await Roster(clients["gateway"], settings.redis_prefix).apply(
            volunteer("V-8", 1.0), event_at=now, now=now
        )
