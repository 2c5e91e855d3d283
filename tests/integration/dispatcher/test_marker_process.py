"""A Redis that comes back with the generation marker but without its last writes — a replica Sentinel
promoted (replication is asynchronous), a primary restarted from an AOF fsynced once a second — is
rebuilt from the topics before anyone acts on it: the marker names the Redis process the rebuild ran
on (its run id), and a marker of another process counts as none. Against the real Redis and broker:
Redis under Sentinel shows that a restart and a failover each make the marker another process's; in
the worker's test another process is played by a marker naming another run id, its lost writes by
putting back the keys as they were before them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from schemas.events import Need
from schemas.vocabulary import IncidentStatus, Skill, Unit
from services.common.config import Settings
from services.common.redis import redis_for
from services.dispatcher.incident_state import IncidentState, NeedState
from services.dispatcher.marker import RebuildInterrupted, current_generation, redis_run_id, write_marker
from services.dispatcher.rebuild import rebuild
from services.dispatcher.roster import Roster as RedisRoster
from services.dispatcher.roster import RosterKeys, StoreNotReady
from services.dispatcher.runcards import load_runcards
from services.dispatcher.settings import DEFAULT_RUNCARDS
from services.dispatcher.store import IncidentStore
from tests.integration.dispatcher.conftest import (
    HERE,
    Bus,
    Roster,
    Workers,
    eventually,
    incident,
    move_clock,
    volunteer,
)
from tests.integration.dispatcher.test_rebuild import made
from tests.support.brokers import OwnSentinel

pytestmark = pytest.mark.integration

ONE = [Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=1)]
OTHER_PROCESS = "f" * 40


async def test_a_marker_of_another_redis_process_counts_as_none(redis: Redis, topics: Settings) -> None:
    runcards = load_runcards(DEFAULT_RUNCARDS)
    prefix = topics.redis_prefix
    marker = RosterKeys(prefix).generation
    first = await rebuild(topics, runcards, redis=redis, only_if_missing=True)  # an empty Redis: built
    assert first is not None
    assert await redis.get(marker) == f"{first.generation} {await redis_run_id(redis, prefix)}"
    assert await current_generation(redis, prefix) == first.generation
    assert await rebuild(topics, runcards, redis=redis, only_if_missing=True) is None

    # the same keys, now on a process that did not write them (promoted, or restarted)
    await redis.set(marker, f"{first.generation} {OTHER_PROCESS}")
    assert await current_generation(redis, prefix) is None
    roster = RedisRoster(redis, prefix, guarded=True)
    with pytest.raises(StoreNotReady):
        await roster.nearest(Unit.TAGANA, None, HERE, 5.0, count=3)
    store = IncidentStore(redis, prefix, guarded=True)
    state = _state("INC-M1")
    with pytest.raises(StoreNotReady):
        await store.save(state, 0)
    assert not await redis.exists(store.state_key("INC-M1"))
    await redis.set(marker, first.generation)  # a marker that names no process (written before)
    assert await current_generation(redis, prefix) is None

    again = await rebuild(topics, runcards, redis=redis, only_if_missing=True)
    assert again is not None and again.generation != first.generation
    assert await current_generation(redis, prefix) == again.generation
    assert (await store.save(state, 0)).version == 1
    assert await roster.nearest(Unit.TAGANA, None, HERE, 5.0, count=3) is not None


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[OwnSentinel]:
    own = OwnSentinel(tmp_path / "sentinel-data", 17120, 17130)  # the faults' ports: not during `make faults`
    own.start()
    try:
        yield own
    finally:
        own.stop()


async def test_a_restart_and_a_failover_each_leave_a_marker_of_another_process(
    sentinel: OwnSentinel, settings: Settings
) -> None:
    s = Settings(
        **{
            **settings.model_dump(),
            "redis_sentinels": sentinel.sentinels,
            "redis_sentinel_master": "sigap",
            "redis_password_dispatcher": "",
        }
    )
    redis = redis_for(s)
    prefix = s.redis_prefix
    try:
        await write_marker(redis, prefix, "g-1", await redis_run_id(redis, prefix))
        assert await current_generation(redis, prefix) == "g-1"
        await redis.wait(2, 2000)  # both replicas have it

        node = int(sentinel.primary().rsplit(":", 1)[1]) - 17120 + 1
        await asyncio.to_thread(sentinel.restart_node, node)  # SHUTDOWN (AOF written), started again
        found = await _eventually_answers(lambda: redis.get(RosterKeys(prefix).generation))
        assert str(found).startswith("g-1 ")  # the data came back from the AOF, the marker with it
        assert await current_generation(redis, prefix) is None  # but this process never was rebuilt

        await write_marker(redis, prefix, "g-2", await redis_run_id(redis, prefix))
        await redis.wait(2, 2000)
        old = sentinel.primary()
        await asyncio.to_thread(sentinel.kill_primary)
        found = await _eventually_answers(lambda: _promoted(redis, sentinel, old, prefix))
        assert str(found).startswith("g-2 ")  # replicated before the kill
        assert await current_generation(redis, prefix) is None  # a replica promoted: not rebuilt
    finally:
        await redis.aclose()


async def _promoted(redis: Redis, sentinel: OwnSentinel, old: str, prefix: str) -> object:
    if sentinel.primary() == old:
        raise ConnectionError("not failed over yet")
    return await redis.get(RosterKeys(prefix).generation)


async def test_a_rebuild_writes_no_marker_when_the_process_changed_under_it(
    redis: Redis, topics: Settings
) -> None:
    prefix = topics.redis_prefix
    with pytest.raises(RebuildInterrupted):
        await write_marker(redis, prefix, "20260101T000000Z-abcdef01", OTHER_PROCESS)
    assert not await redis.exists(RosterKeys(prefix).generation)


async def test_writes_lost_in_a_failover_are_rebuilt_before_the_worker_acts(
    bus: Bus, workers: Workers, roster: Roster, redis: Redis, settings: Settings
) -> None:
    await bus.register(volunteer("v1", 1.0), volunteer("v2", 2.0))
    worker = workers.start("w1", clocked=True)
    await roster.ready(2)
    await eventually(lambda: current_generation(redis, settings.redis_prefix), what="the first rebuild")
    before = await _snapshot(redis, settings.redis_prefix)

    await bus.send("incidents", incident("INC-F1", ONE))
    await eventually(lambda: made(bus), what="the first offer")
    [(_, first_volunteer, first_offer)] = made(bus)
    assert first_volunteer == "v1"
    await eventually(lambda: _status_is(roster, "v1", "offered"), what="v1 held")

    # failover: the promoted replica had everything up to the first incident, nothing after it
    await _restore(redis, settings.redis_prefix, before)
    generation = await redis.get(RosterKeys(settings.redis_prefix).generation)
    await redis.set(RosterKeys(settings.redis_prefix).generation, f"{generation.split()[0]} {OTHER_PROCESS}")
    assert await roster.status("v1") != "offered"  # the lost reservation: v1 looks free

    await bus.send("incidents", incident("INC-F2", ONE))
    await eventually(lambda: len(made(bus)) >= 2, what="the second offer")
    second = [v for i, v, _ in made(bus) if i == "INC-F2"]
    assert second == ["v2"], made(bus)  # never v1 again: Redis was rebuilt from the log first
    assert await roster.status("v1") == "offered"
    assert await current_generation(redis, settings.redis_prefix) not in (None, generation.split()[0])

    # the lost deadline is back: the first offer expires when its time comes
    await move_clock(worker, 600, "expire_offers")
    await eventually(
        lambda: any(e.payload.offer_id == first_offer for e in bus.events("dispatch-log", "offer.expired")),  # type: ignore[attr-defined]
        what="the first offer expired",
    )
    assert "Traceback" not in workers.logs(), workers.logs()


def _state(incident_id: str) -> IncidentState:
    report = incident(incident_id, ONE)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return IncidentState(
        incident_id=incident_id,
        type=report.type,
        severity=report.severity,
        title=report.title,
        location=report.location,
        kelurahan_code=report.kelurahan_code,
        status=IncidentStatus.REPORTED,
        reported_at=at,
        updated_at=at,
        needs=[NeedState(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=1)],
    )


async def _status_is(roster: Roster, vid: str, status: str) -> bool:
    return await roster.status(vid) == status


Snapshot = dict[str, tuple[str, object]]


async def _snapshot(redis: Redis, prefix: str) -> Snapshot:
    """Every key of the test's deployment and its value, by type."""
    out: Snapshot = {}
    async for key in redis.scan_iter(match=prefix + "*", count=1000):
        kind = await redis.type(key)
        if kind == "hash":
            out[key] = (kind, await redis.hgetall(key))
        elif kind == "zset":
            out[key] = (kind, dict(await redis.zrange(key, 0, -1, withscores=True)))
        elif kind == "set":
            out[key] = (kind, await redis.smembers(key))
        elif kind == "string":
            out[key] = (kind, await redis.get(key))
        elif kind == "list":
            out[key] = (kind, await redis.lrange(key, 0, -1))
    return out


async def _restore(redis: Redis, prefix: str, snapshot: Snapshot) -> None:
    """The deployment's keys as they were in `snapshot` (what a lagging replica holds)."""
    doomed = [k async for k in redis.scan_iter(match=prefix + "*", count=1000)]
    if doomed:
        await redis.delete(*doomed)
    for key, (kind, value) in snapshot.items():
        if kind == "hash":
            await redis.hset(key, mapping=value)  # type: ignore[arg-type]
        elif kind == "zset":
            await redis.zadd(key, value)  # type: ignore[arg-type]
        elif kind == "set":
            await redis.sadd(key, *value)  # type: ignore[misc]
        elif kind == "string":
            await redis.set(key, value)  # type: ignore[arg-type]
        elif kind == "list":
            await redis.rpush(key, *value)  # type: ignore[misc]


async def _eventually_answers(read: Callable[[], Awaitable[object]], timeout_s: float = 60.0) -> object:
    """What `read` returns once Redis answers again (a restart or a failover under way)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await read()
        except Exception:  # connection refused, loading, read-only, not failed over yet
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
