"""Where one dispatcher event's time goes: `Dispatch.handle` called in a loop in this process, against
the real Redis and broker, with every adapter call timed.

`python -m bench.hotpath [--roster 1000] [--incidents 500]` builds the dispatcher's real `Dispatch` (the
same objects `services.dispatcher.runtime` wires, with an aiokafka producer as its sender), loads a
roster through the dispatcher's own `apply_record`, then feeds it `incident.reported` and
`incident.closed` events one at a time, as the agent does, and prints the time per event split by
adapter: Redis reads and scripts, waiting for the broker's acknowledgements, and the rest (decide,
projections, serialisation: CPU in the process). The profile in `bench/PROFILE.md` comes from here and
from py-spy on the worker under `bench.run --profile`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bench import roster as bench_roster
from bench.load import incident_record
from bench.stats import summarise_ms
from schemas.envelope import Envelope, decode_event, make_event
from schemas.events import IncidentClosed, Payload, VolunteerRegistered
from schemas.fields import utcnow
from services.common.config import Settings
from services.common.heap import tune_collector
from services.common.kafka import new_producer
from services.common.loop import install_event_loop
from services.common.topics import create_topics, delete_topics
from services.dispatcher import dispatch as dispatch_module
from services.dispatcher.dispatch import Dispatch
from services.dispatcher.incident import Policy
from services.dispatcher.outputs import AioKafkaSender
from services.dispatcher.roster import Roster
from services.dispatcher.runcards import load_runcards
from services.dispatcher.runtime import dispatcher_redis
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import IncidentStore
from services.dispatcher.volunteers import apply_records

log = logging.getLogger(__name__)


class Timings:
    """Accumulated seconds and calls per label, for the event currently being handled."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1

        return timed


def instrument(dispatch: Dispatch, timings: Timings) -> None:
    roster, store = dispatch.roster, dispatch.incidents
    for name in (
        "nearest",
        "search",
        "candidates",
        "reserve",
        "reserve_ranked",
        "free",
        "profile",
        "hold",
        "set_offer_status",
        "forget_deadline",
    ):
        if hasattr(roster, name):
            setattr(roster, name, timings.wrap(f"redis: roster.{name}", getattr(roster, name)))
    for name in ("load", "save", "understaffed", "claim_retries"):
        setattr(store, name, timings.wrap(f"redis: incidents.{name}", getattr(store, name)))
    # the dispatcher sends and awaits its outputs with `send_all` (it once did with `Batch.flush`,
    # which this used to time: that timing had been silently empty since)
    dispatch_module.send_all = timings.wrap("kafka: produce and await acks", dispatch_module.send_all)


async def _throughput(dispatch: Dispatch, rng: random.Random, lanes: int, incidents: int) -> dict[str, Any]:
    """Incidents (reported, then closed) per second when `lanes` incidents are handled at once, each
    lane in order: what handling different incidents concurrently would give one worker."""
    tag = uuid.uuid4().hex[:4]

    async def lane(n: int) -> None:
        for i in range(n, incidents, lanes):
            value, key = incident_record(rng, f"LANE-{tag}-{i:06d}")
            await dispatch.handle(decode_event(value), utcnow())
            closed: Envelope[Payload] = make_event(
                IncidentClosed(incident_id=key.decode(), note="bench"),
                source="bench",
                correlation_id=key.decode(),
            )
            await dispatch.handle(closed, utcnow())

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(lane(n) for n in range(lanes)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "incidents_per_s": round(incidents / elapsed, 1),
        "events_per_s": round(2 * incidents / elapsed, 1),
        # this process's CPU (all its threads) per incident: what a shared machine's load moves least
        "cpu_ms_per_incident": round(1000 * cpu / incidents, 3),
    }


async def _throughput_batched(
    dispatch: Dispatch, rng: random.Random, batch: int, incidents: int
) -> dict[str, Any]:
    """Incidents per second when the events (each incident reported, then closed, as a backlog on
    the topic holds them) are handled `batch` at a time by `Dispatch.handle_batch`."""
    tag = uuid.uuid4().hex[:4]
    events: list[Envelope[Payload]] = []
    for i in range(incidents):
        value, key = incident_record(rng, f"BATCH-{tag}-{i:06d}")
        events.append(decode_event(value))
        events.append(
            make_event(
                IncidentClosed(incident_id=key.decode(), note="bench"),
                source="bench",
                correlation_id=key.decode(),
            )
        )
    left = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        for index in await dispatch.handle_batch(chunk, utcnow()):
            left += 1
            await dispatch.handle(chunk[index], utcnow())
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "incidents_per_s": round(incidents / elapsed, 1),
        "events_per_s": round(2 * incidents / elapsed, 1),
        "cpu_ms_per_incident": round(1000 * cpu / incidents, 3),
        "handled_one_by_one": left,
    }


async def run(
    roster_size: int,
    incidents: int,
    bootstrap: str,
    redis_url: str,
    *,
    lanes: tuple[int, ...] = (1, 8, 32),
    batches: tuple[int, ...] = (16, 64, 256),
    timed: int | None = None,
) -> dict[str, Any]:
    """`timed`: how many incidents to time event by event first (default `incidents`; 0 to only
    measure throughput, e.g. under a profiler)."""
    prefix = f"bench.hot{uuid.uuid4().hex[:6]}."
    settings = Settings(
        topic_prefix=prefix,
        redis_prefix=prefix.replace(".", ":"),
        kafka_bootstrap=bootstrap,
        redis_url=redis_url,
    )
    own = DispatcherSettings()
    await create_topics(bootstrap, prefix)
    redis = dispatcher_redis(redis_url, own.dispatcher_max_in_flight)
    producer = new_producer(bootstrap, client_id=f"{prefix}hotpath")
    await producer.start()
    try:
        roster = Roster(redis, settings.redis_prefix)
        now = utcnow()
        batch: list[tuple[bytes | None, bytes | None]] = []
        for profile in bench_roster.generate(roster_size):
            registered = make_event(VolunteerRegistered(profile=profile), source="bench")
            batch.append((profile.volunteer_id.encode(), registered.to_json()))
        for start in range(0, len(batch), 2000):
            await apply_records(roster, batch[start : start + 2000], now)
        runcards = load_runcards(own.runcards_file)
        dispatch = Dispatch(
            roster=roster,
            incidents=IncidentStore(redis, settings.redis_prefix),
            sender=AioKafkaSender(producer),
            policy=Policy(
                runcards=runcards,
                max_radius_km=own.max_radius_km,
                rest_after=timedelta(seconds=own.rest_after_s),
                rest_for=timedelta(seconds=own.rest_s),
            ),
            settings=settings,
            own=own,
            coordinators=own.coordinator_recipients(),
        )
        timings = Timings()
        instrument(dispatch, timings)
        rng = random.Random(5)
        totals: dict[str, list[float]] = {"incident.reported": [], "incident.closed": []}
        per_kind: dict[str, Timings] = {}
        for i in range(incidents if timed is None else timed):
            value, key = incident_record(rng, f"HOT-{i:06d}")
            reported = decode_event(value)
            closed: Envelope[Payload] = make_event(
                IncidentClosed(incident_id=key.decode(), note="bench"),
                source="bench",
                correlation_id=key.decode(),
            )
            for kind, event in (("incident.reported", reported), ("incident.closed", closed)):
                before_s, before_n = dict(timings.seconds), dict(timings.calls)
                started = time.perf_counter()
                await dispatch.handle(event, utcnow())
                totals[kind].append(time.perf_counter() - started)
                acc = per_kind.setdefault(kind, Timings())
                for label, seconds in timings.seconds.items():
                    acc.seconds[label] += seconds - before_s.get(label, 0.0)
                    acc.calls[label] += timings.calls[label] - before_n.get(label, 0)
        out: dict[str, Any] = {"roster": roster_size, "incidents": incidents}
        out["lanes"] = {str(k): await _throughput(dispatch, rng, k, incidents) for k in lanes}
        out["batches"] = {str(k): await _throughput_batched(dispatch, rng, k, incidents) for k in batches}
        for kind, samples in totals.items():
            if not samples:
                continue
            acc = per_kind[kind]
            n = len(samples)
            total_ms = 1000 * sum(samples) / n
            parts = {
                label: round(1000 * s / n, 3) for label, s in sorted(acc.seconds.items(), key=lambda x: -x[1])
            }
            out[kind] = {
                **summarise_ms(samples),
                "mean_ms": round(total_ms, 3),
                "parts_ms_per_event": parts,
                "calls_per_event": {label: round(c / n, 2) for label, c in acc.calls.items()},
                "rest_ms_per_event (cpu: decide, projection, serialisation)": round(
                    total_ms - sum(parts.values()), 3
                ),
            }
        return out
    finally:
        await producer.stop()
        async for key in redis.scan_iter(match=settings.redis_prefix + "*", count=5000):
            await redis.unlink(key)
        await redis.aclose()
        await redis.connection_pool.disconnect()  # a pool passed in is not closed with the client
        await delete_topics(bootstrap, prefix)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath")
    parser.add_argument("--roster", type=int, default=1000)
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--lanes", default="1,8,32", help="concurrent incidents to try for throughput")
    parser.add_argument("--batches", default="16,64,256", help="batch sizes (events) to try for throughput")
    parser.add_argument("--timed", type=int, default=None, help="incidents timed one event at a time first")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    tune_collector()  # the collector's thresholds of the services (`SIGAP_GC_THRESHOLDS`)
    loop = install_event_loop()  # and their event loop (`SIGAP_EVENT_LOOP`)
    lanes = tuple(int(x) for x in args.lanes.split(",") if x.strip())
    batches = tuple(int(x) for x in args.batches.split(",") if x.strip())
    result = asyncio.run(
        run(
            args.roster,
            args.incidents,
            args.bootstrap,
            args.redis_url,
            lanes=lanes,
            batches=batches,
            timed=args.timed,
        )
    )
    try:
        import hiredis  # noqa: F401

        result["redis_parser"] = "hiredis"
    except ImportError:
        result["redis_parser"] = "python"
    result["event_loop"] = loop
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
