"""One dispatcher worker's capacity: how fast it drains a backlog of incidents (DESIGN.md §8, issue 7's
"≥ 1,000 incidents/s sustained by one dispatcher worker").

The open-loop stages measure the whole pipeline on a machine whose two cores also carry the broker,
Redis, the gateway, the notifier and the load generator; they cannot tell how much one dispatcher worker
could take. Here the worker gets the machine to itself (apart from the broker and Redis, which it needs):

1. the notifier and the gateway are paused (SIGSTOP) and so is the dispatcher, for the seconds it takes
   to put the backlog on `incidents`: `count` incidents, each an `incident.reported` followed by its
   `incident.closed` on the same key (so each is matched, offered, then released and withdrawn — two
   events, the two that carry the work of an incident; with the notifier paused no delivery report
   comes back);
2. the dispatcher is resumed and its own `sigap_dispatcher_events_total` is read every `poll_s` until it
   has handled all `2 × count` events;
3. the rate is incidents per second over the middle of the drain (from 10 % to 90 % of the events, so
   the first fetches and the last stragglers don't count), and over the whole drain.

Then everything is resumed. The notifier finds the offers and withdrawals waiting, which the phase's
teardown discards: this runs last in a roster phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import time
from collections.abc import Iterator
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from bench import metrics
from bench.load import incident_record
from bench.stack import Stack
from schemas.envelope import make_event
from schemas.events import IncidentClosed

log = logging.getLogger(__name__)

EVENTS = "sigap_dispatcher_events_total"


@contextlib.contextmanager
def paused(stack: Stack, names: tuple[str, ...]) -> Iterator[None]:
    """SIGSTOP the named services for the block; SIGCONT them after, whatever happens."""
    stopped: list[int] = []
    try:
        for name in names:
            pid = stack.services[name].pid
            if pid is not None and stack.services[name].alive():
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
        yield
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def backlog(count: int, seed: int, tag: str) -> list[tuple[bytes, bytes]]:
    """`count` incidents as (key, value) records: each reported, then closed."""
    rng = random.Random(seed)
    records: list[tuple[bytes, bytes]] = []
    for n in range(count):
        value, key = incident_record(rng, f"CAP-{tag}-{n:06d}")
        incident_id = key.decode()
        closed = make_event(
            IncidentClosed(incident_id=incident_id, note="bench capacity"),
            source="bench",
            correlation_id=incident_id,
        )
        records.append((key, value))
        records.append((key, closed.to_json()))
    return records


async def _produce(producer: AIOKafkaProducer, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    started = time.monotonic()
    futures = [await producer.send(topic, value, key=key) for key, value in records]
    await asyncio.gather(*futures)
    return time.monotonic() - started


def _crossing(samples: list[tuple[float, float]], level: float) -> float | None:
    """When the handled-events curve first reached `level` (linear between samples)."""
    previous: tuple[float, float] | None = None
    for at, done in samples:
        if done >= level:
            if previous is None or done == previous[1]:
                return at
            t0, d0 = previous
            return t0 + (at - t0) * (level - d0) / (done - d0)
        previous = (at, done)
    return None


def drain_rates(samples: list[tuple[float, float]], events: int, per_incident: int) -> dict[str, Any]:
    """From (seconds since resume, events handled) samples: incidents/s over the middle 80 % and overall."""
    first = _crossing(samples, 0.1 * events)
    last = _crossing(samples, 0.9 * events)
    end = _crossing(samples, events)
    middle = (
        (0.8 * events / per_incident) / (last - first)
        if first is not None and last and last > first
        else None
    )
    return {
        "incidents_per_s": round(middle, 1) if middle else None,
        "incidents_per_s_whole_drain": round(events / per_incident / end, 1) if end else None,
        "drain_s": round(end, 2) if end else None,
    }


async def measure(
    stack: Stack,
    producer: AIOKafkaProducer,
    topic: str,
    *,
    count: int,
    seed: int,
    tag: str,
    timeout_s: float,
    poll_s: float = 0.25,
    dispatchers: tuple[str, ...] = ("dispatcher",),
    pause_others: bool = True,
) -> dict[str, Any]:
    """The drain by the named dispatcher workers of `stack` (one, for the target; more, to see how
    it scales), their handled events summed. `pause_others=False`: the caller keeps the notifier and
    the gateway paused itself."""
    records = backlog(count, seed, tag)
    events = len(records)
    urls = [stack.dispatcher_metrics_url(name) for name in dispatchers]
    before = (await metrics.scrape_sum(urls)).get(EVENTS, 0.0)
    with paused(stack, ("notifier", "gateway") if pause_others else ()):
        with paused(stack, dispatchers):
            produce_s = await _produce(producer, topic, records)
        resumed = time.monotonic()
        samples: list[tuple[float, float]] = [(0.0, 0.0)]
        metrics_before = await metrics.scrape_sum(urls)
        while time.monotonic() - resumed < timeout_s:
            await asyncio.sleep(poll_s)
            snap = await metrics.scrape_sum(urls)
            samples.append((time.monotonic() - resumed, snap.get(EVENTS, 0.0) - before))
            if samples[-1][1] >= events:
                break
        wall = time.monotonic() - resumed
        metrics_after = await metrics.scrape_sum(urls)
    handled = int(samples[-1][1])
    result: dict[str, Any] = {
        "mode": (
            "backlog drain: incident.reported + incident.closed per incident straight onto incidents;"
            " notifier and gateway paused, no delivery reports"
        ),
        "workers": len(dispatchers),
        "incidents": count,
        "events": events,
        "handled": handled,
        "complete": handled >= events,
        "backlog_produce_s": round(produce_s, 2),
        **drain_rates(samples, events, 2),
        "services": metrics.difference(metrics_before, metrics_after, wall),
    }
    log.info(
        "dispatcher capacity, %d worker(s): %d/%d events, %s incidents/s (middle 80%%), %s overall",
        len(dispatchers),
        handled,
        events,
        result["incidents_per_s"],
        result["incidents_per_s_whole_drain"],
    )
    return result


async def wait_group_stable(bootstrap: str, group: str, members: int, timeout_s: float = 60.0) -> float:
    """Wait until the consumer group has `members` members and is Stable (the rebalance that a new
    worker causes is over); returns the seconds waited. Raises TimeoutError."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout_s:
            for response in await admin.describe_consumer_groups([group]):
                for _error, group_id, state, _proto_type, _protocol, group_members, *_ in response.groups:
                    if group_id == group and state == "Stable" and len(group_members) == members:
                        return round(time.monotonic() - started, 1)
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    raise TimeoutError(f"consumer group {group} did not settle with {members} members in {timeout_s:.0f}s")
