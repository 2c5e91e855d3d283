"""Partitions moving between dispatcher workers under load, against the real broker and Redis, the
workers as real subprocesses: one is killed (its partitions move once its session times out), a new
one joins (they move again), another leaves (again). Incidents keep arriving and volunteers keep
answering throughout. Counted from the event log afterwards: no incident lost (every report has a
decision on `dispatch-log`), none overfilled (one hold at a time, at most one acceptance), no volunteer
holding two offers or assignments at once, no offer id given to two volunteers, every offer ended
(accepted, declined, expired or withdrawn) — and Redis agrees with the log about who is held."""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from aiokafka.partitioner import DefaultPartitioner

from faults.accounting import Log, Window, count
from schemas.events import AssignmentStatusChanged, Need, OfferAccepted, OfferDeclined
from schemas.vocabulary import NotificationKind, Unit
from tests.integration.dispatcher.conftest import (
    HERE,
    Bus,
    Roster,
    Workers,
    eventually,
    incident,
    north_of,
    volunteer,
)
from tests.support.procs import ServiceProcess

pytestmark = pytest.mark.integration

PORTS = iter(range(21100, 21200))
"""This suite's worker ports (the helper's own range)."""

TTL_S = 4
FAST = {"SIGAP_KAFKA_SESSION_TIMEOUT_S": "6", "SIGAP_OFFER_TTL_S": str(TTL_S)}
OUTCOMES = {"offer.accepted", "offer.declined", "offer.expired", "offer.withdrawn"}
"""what the dispatcher records on `dispatch-log` when an offer ends (or becomes an assignment)"""


@dataclass
class Answerer:
    """Volunteers answering every offer notification as it reaches them: by a hash of the offer id,
    half accept (and are released once the dispatcher has recorded the acceptance), a quarter
    decline, a quarter let it expire."""

    bus: Bus
    seen: set[str] = field(default_factory=set)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    outcomes: dict[str, str] = field(default_factory=dict)
    """each offer's first outcome on `dispatch-log`, from the bus's records up to `read`"""
    read: int = 0

    def poll(self) -> None:
        for n in self.bus.notifications(NotificationKind.OFFER):
            if not n.offer_id or n.offer_id in self.seen:
                continue
            self.seen.add(n.offer_id)
            task = asyncio.create_task(
                self._answer(n.offer_id, n.incident_id or "", n.recipient.volunteer_id or "")
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _answer(self, offer_id: str, incident_id: str, volunteer_id: str) -> None:
        ids = {"offer_id": offer_id, "incident_id": incident_id, "volunteer_id": volunteer_id}
        choice = zlib.crc32(offer_id.encode()) % 4
        if choice in (0, 1):
            await self.bus.send("responses", OfferAccepted(**ids))
            if await self._accepted(offer_id):  # not when it expired first: nothing to release
                await self.bus.send("responses", AssignmentStatusChanged(**ids, status="released"))
        elif choice == 2:
            await self.bus.send("responses", OfferDeclined(**ids))

    async def _accepted(self, offer_id: str) -> bool:
        """Wait until the dispatcher has recorded the offer's outcome on `dispatch-log` (partitions
        may be moving meanwhile); whether it was accepted."""
        found = await eventually(lambda: self._outcome(offer_id), 60, f"the outcome of {offer_id}")
        return bool(found == OfferAccepted.EVENT_TYPE)

    def _outcome(self, offer_id: str) -> str | None:
        records, log_topic = self.bus.records, self.bus.settings.topic("dispatch-log")
        for r in records[self.read :]:
            if r.topic == log_topic and r.event is not None and r.event.event_type in OUTCOMES:
                self.outcomes.setdefault(getattr(r.event.payload, "offer_id", ""), r.event.event_type)
        self.read = len(records)
        return self.outcomes.get(offer_id)


def facts(bus: Bus) -> Log:
    log = Log()
    for topic in ("dispatch-log", "responses"):
        for e in bus.events(topic):
            payload = e.payload.model_dump(mode="python")
            expires = payload.get("expires_at")
            if isinstance(expires, datetime):
                payload["expires_at"] = expires.timestamp()
            log.add(e.event_type, e.occurred_at.timestamp(), payload, on_dispatch_log=topic == "dispatch-log")
    return log


def check(bus: Bus, posted: dict[str, float], answerer: Answerer, workers: Workers) -> Log:
    """What the event log says (and Redis): the evidence goes next to the workers' logs."""
    log = facts(bus)
    with (workers.log_dir / "events.jsonl").open("w") as evidence:  # next to the workers' logs
        for r in bus.records:
            row = {"topic": r.topic, "at_ms": r.timestamp_ms, "key": (r.key or b"").decode()}
            evidence.write(
                json.dumps(row | {"event": json.loads(r.value) if r.event and r.value else None}) + "\n"
            )
    partitioner = DefaultPartitioner()
    parts = list(range(8))
    partition = {i: partitioner(i.encode(), parts, parts) for i in posted}
    undecided = sorted((partition[i], i) for i in posted if i not in log.decisions)
    unended = sorted((partition[h.incident_id], h.offer_id) for h in log.holds.values() if not h.answered)
    assert not undecided and not unended, (undecided, unended, answerer.tasks)
    window = Window(dict.fromkeys(posted, 0.0), float("-inf"), 0.0, float("inf"), float("inf"))
    counted = count(log, window, partition)
    assert (counted["lost"], counted["overfilled"], counted["double_booked"]) == (0, 0, 0), counted
    assert counted["unexpired_offers"] == 0
    assert not offers_given_twice(bus)
    assert len(log.holds) > 200, "the run should exercise many offers"
    return log


def offers_given_twice(bus: Bus) -> dict[str, set[str]]:
    """Offer ids that `offer.made` records name with more than one volunteer."""
    to: dict[str, set[str]] = defaultdict(set)
    for e in bus.events("dispatch-log", "offer.made"):
        to[e.payload.offer_id].add(e.payload.volunteer_id)  # type: ignore[attr-defined]
    return {o: v for o, v in to.items() if len(v) > 1}


async def test_partitions_moving_under_load_lose_and_double_nothing(
    bus: Bus, workers: Workers, roster: Roster
) -> None:
    people = [volunteer(f"v{i:03d}", 0.2 + (i % 40) * 0.2, where=north_of(HERE, i // 40)) for i in range(160)]
    await bus.register(*people)

    def start(name: str) -> ServiceProcess:
        port = next(PORTS)
        env = {**workers.env, **FAST, "SIGAP_DISPATCHER_PORT": str(port)}
        args = ["-m", "services.dispatcher", "worker", "-l", "info"]
        proc = ServiceProcess(args, env, workers.log_dir / f"dispatcher-{name}.log").start()
        workers.started.append(proc)  # stopped with the others at the end
        proc.wait_http(f"http://127.0.0.1:{port}/healthz", timeout_s=60)
        return proc

    w1, w2 = await asyncio.gather(asyncio.to_thread(start, "w1"), asyncio.to_thread(start, "w2"))
    await roster.ready(len(people))
    answerer = Answerer(bus)
    loop = asyncio.get_running_loop()
    began = loop.time()
    posted: dict[str, float] = {}
    moves: list[asyncio.Future[object]] = []

    async def post(n: int) -> None:
        incident_id = f"INC-MV-{n:04d}"
        posted[incident_id] = loop.time()
        await bus.send("incidents", incident(incident_id, [Need(unit=Unit.TAGANA, count=1)]))

    schedule = {
        40: w1.kill,  # SIGKILL: its partitions wait for its session to time out, then move
        60: lambda: moves.append(asyncio.ensure_future(asyncio.to_thread(start, "w3"))),  # they move again
        150: lambda: moves.append(asyncio.ensure_future(asyncio.to_thread(w2.stop, 10))),  # and again
    }
    for n in range(240):  # 240 incidents at 10/s
        if n in schedule:
            schedule[n]()
        await post(n)
        answerer.poll()
        await asyncio.sleep(max(0.0, began + (n + 1) * 0.1 - loop.time()))
    await asyncio.gather(*moves)

    def settled() -> bool:
        answerer.poll()
        log = facts(bus)
        if any(i not in log.decisions for i in posted):
            return False
        return all(h.answered for h in log.holds.values()) and not answerer.tasks

    with contextlib.suppress(AssertionError):  # what is missing is reported below
        await eventually(settled, 60, "every incident decided and every offer ended")
    log = check(bus, posted, answerer, workers)
    # Redis agrees with the log: nobody is held by an offer the log has ended
    ended = {h.offer_id for h in log.holds.values() if h.end_at is not None}
    for person in people:
        fields = await roster.fields(person.volunteer_id)
        assert not fields.get("offer_id") or fields["offer_id"] not in ended, (person.volunteer_id, fields)
