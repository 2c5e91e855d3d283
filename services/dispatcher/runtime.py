"""The worker's live resources (Redis client, adapters, the dispatch service), created on first use
inside the running event loop — never at import time."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster

from services.common.autopipe import AutoPipelineRedis
from services.common.base_settings import CommonSettings
from services.common.clock import Clock, system_clock
from services.common.kafka import new_producer
from services.common.redis import Sentinels, as_redis, pool_options, sentinel_client
from services.dispatcher.alerts import AlertReaction
from services.dispatcher.assessment import load_assessment_rules
from services.dispatcher.dispatch import Dispatch
from services.dispatcher.guard import Generation
from services.dispatcher.incident import Policy
from services.dispatcher.outputs import OwnProducerSender, Sender
from services.dispatcher.roster import Roster
from services.dispatcher.runcards import load_runcards
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import AlertStore, IncidentStore

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    redis: Redis
    roster: Roster
    dispatch: Dispatch
    alerts: AlertReaction
    sender: Sender
    generation: Generation
    clock: Clock
    """where the agents and timers read now (`services.common.clock`)"""

    @classmethod
    def create(
        cls, settings: CommonSettings, own: DispatcherSettings, sender: Sender, clock: Clock = system_clock
    ) -> Runtime:
        runcards = load_runcards(own.runcards_file)
        policy = Policy(
            runcards=runcards,
            max_radius_km=own.max_radius_km,
            offer_ttl_override_s=own.offer_ttl_s,
            rest_after=timedelta(seconds=own.rest_after_s),
            rest_for=timedelta(seconds=own.rest_s),
            assessment=load_assessment_rules(own.assessment_rules_file),
        )
        redis = dispatcher_redis(
            settings.redis_url_for("dispatcher"),
            own.dispatcher_max_in_flight,
            cluster=settings.redis_cluster,
            sentinels=settings.redis_sentinels,
            master=settings.redis_sentinel_master,
        )
        roster = Roster(redis, settings.redis_prefix, guarded=True)
        incidents = IncidentStore(redis, settings.redis_prefix, guarded=True)
        dispatch = Dispatch(
            roster=roster,
            incidents=incidents,
            sender=sender,
            policy=policy,
            settings=settings,
            own=own,
            coordinators=own.coordinator_recipients(),
            clock=clock,
        )
        alerts = AlertReaction(roster, AlertStore(redis, settings.redis_prefix), sender, settings)
        log.info(
            "dispatcher ready: run cards %s, max radius %.1f km, offer TTL %s, rest %s after %s",
            own.runcards_file,
            own.max_radius_km,
            f"{own.offer_ttl_s:g} s (override)" if own.offer_ttl_s else "by severity",
            timedelta(seconds=own.rest_s),
            timedelta(seconds=own.rest_after_s),
        )
        generation = Generation(redis, settings, runcards, on_change=incidents.forget_all, clock=clock)
        return cls(redis, roster, dispatch, alerts, sender, generation, clock)


REDIS_SPARE_CONNECTIONS = 32
"""Connections beyond one per incident event in flight: timers, the roster feed, alerts, health."""


def dispatcher_redis(
    url: str, in_flight: int, *, cluster: bool = False, sentinels: Sentinels = "", master: str = "sigap"
) -> Redis:
    """The worker's Redis client (`services.common.redis.new_redis`'s options), pipelining on its own
    (`AutoPipelineRedis`: the commands a batch's incidents issue together go as one pipeline): one
    connection per incident event in flight and some spare; a caller finding none free waits for one
    (up to the socket timeout) instead of failing at once. With `sentinels`, the same on the primary
    they name."""
    if cluster:  # one pool per node inside the client; no coalescing (AutoPipelineRedis is single-node)
        return as_redis(
            RedisCluster.from_url(
                url,
                decode_responses=True,
                max_connections=in_flight + REDIS_SPARE_CONNECTIONS,
                socket_timeout=5,
                socket_connect_timeout=5,
            )
        )
    if sentinels:
        return sentinel_client(
            url,
            sentinels,
            master,
            redis_class=AutoPipelineRedis,
            max_connections=in_flight + REDIS_SPARE_CONNECTIONS,
            timeout=5,
        )
    pool = BlockingConnectionPool(
        **pool_options(url),
        max_connections=in_flight + REDIS_SPARE_CONNECTIONS,
        timeout=5,
        decode_responses=True,
        socket_timeout=5,
        socket_connect_timeout=5,
        health_check_interval=30,
    )
    return AutoPipelineRedis(connection_pool=pool)


_runtime: Runtime | None = None
_clock: Clock = system_clock


def use_clock(clock: Clock) -> None:
    """Run this worker on `clock` instead of the system's: a test's `ManualClock`, given by the test's
    entry point (`tests/support/clocked.py`) before the worker starts."""
    global _clock  # noqa: PLW0603 - the clock the one runtime of this process is created with
    if _runtime is not None:
        raise RuntimeError("the worker's runtime exists already; give the clock before it starts")
    _clock = clock


def get_runtime(app: Any, settings: CommonSettings, own: DispatcherSettings) -> Runtime:
    """The worker's runtime; the first call (from an agent or timer, inside the loop) creates it."""
    global _runtime  # noqa: PLW0603 - one runtime per worker process, made inside its event loop
    if _runtime is None:
        # no linger, as faust's producer: with idempotence one request per partition is in flight, and
        # a 1 ms linger on each ready-made batch cut the drain from 269 to 92 incidents/s (PROFILE §10)
        producer = new_producer(
            settings.kafka_bootstrap, client_id="sigap-dispatcher", settings=settings, linger_ms=0
        )
        _runtime = Runtime.create(settings, own, OwnProducerSender(producer), _clock)
    return _runtime


def forget_incident_states() -> None:
    """Partitions moved: drop the incident states this worker keeps in memory (if it has any yet)."""
    if _runtime is not None:
        _runtime.dispatch.incidents.forget_all()
