"""`make faults`: the real stack under load while its parts die, and what that cost.

One run starts, on this machine's loopback and the faults' own ports, a three-broker Kafka cluster
(`deploy/local/kafka.sh`, SIGAP_KAFKA_NODES=3, replication 3, min.insync 2), Redis under Sentinel
(`deploy/local/sentinel.sh`: a primary, two replicas, three sentinels), a local WhatsApp Cloud API
server, and the stack on top: two dispatcher workers, two notifier workers, the gateway. It loads a
roster, then for each scenario posts incidents open-loop through the gateway (20/s, 60 s), answers the
offers as volunteers would (half accepted and released a few seconds later, a quarter declined, a
quarter left to expire), and at 15 s injects the fault:

  dispatcher_kill  SIGKILL of dispatcher worker 1, restarted 5 s later
  notifier_kill    SIGKILL of notifier worker 1, restarted 5 s later
  gateway_kill     SIGKILL of the gateway, restarted 3 s later
  broker_kill      SIGKILL of broker 2 of 3, started again 10 s later
  redis_failover   SIGKILL of the Redis primary: the sentinels promote a replica; the old primary
                   comes back 10 s later as a replica
  redis_restart    the Redis primary shut down (its AOF written) and started again

After the last scenario and a drain (offers expire, answers land), it reads the topics and counts
(`faults/accounting.py`), and writes `faults/report.json` and `faults/report.md`. `--smoke` runs the
same scenarios short (20 s at 10/s, fault at 3 s: long enough for a restarted gateway to answer
again) into `faults/smoke/` and exits 1 unless every count that must be zero is zero (timings are
reported, not judged). Every run also leaves its evidence there: `events.jsonl` (the records of
`incidents`, `responses` and `dispatch-log`), `handoffs.jsonl` (what the WhatsApp server was handed)
and `scenarios.json` (each scenario's times and the incidents it posted).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from bench import roster
from bench.load import Sends, post_incidents
from bench.machine import REPO, git_commit, machine_facts
from bench.stack import ADMIN_KEY, OPERATOR_KEY, Service
from faults.accounting import Log, Window, count, handoff_key
from schemas.envelope import decode_event, make_event
from schemas.events import AssignmentStatusChanged, OfferAccepted, OfferDeclined, Payload
from schemas.vocabulary import AssignmentStatus
from services.common.kafka import new_producer
from services.common.readmodels import Keys
from services.common.redis import new_redis
from services.common.topics import DISPATCH_LOG, INCIDENTS, NOTIFICATIONS, RESPONSES, SPECS, create_topics
from tests.support.brokers import OwnKafka, OwnSentinel
from tests.support.providers import ProviderServers

log = logging.getLogger("faults")

# The faults' own ports (17100-17199): brokers, controllers, Redis nodes, sentinels, services.
KAFKA_PORT, CONTROLLER_PORT = 17100, 17110
REDIS_PORT, SENTINEL_PORT = 17120, 17130
GATEWAY_PORT, DISPATCHER_PORTS, NOTIFIER_PORTS = 17160, (17161, 17162), (17163, 17164)
SCENARIOS = (
    "dispatcher_kill",
    "notifier_kill",
    "gateway_kill",
    "broker_kill",
    "redis_failover",
    "redis_restart",
)
ZERO = ("lost", "double_booked", "overfilled", "duplicate_handoffs", "unexpired_offers")


@dataclass(frozen=True)
class Plan:
    rate: float
    duration_s: float
    fault_at_s: float
    offer_ttl_s: int
    roster: int
    drain_s: float
    answer_release_s: float = 3.0


FULL = Plan(rate=20, duration_s=60, fault_at_s=15, offer_ttl_s=20, roster=1500, drain_s=35)
SMOKE = Plan(rate=10, duration_s=20, fault_at_s=3, offer_ttl_s=8, roster=600, drain_s=20, answer_release_s=2)


@dataclass
class Stack:
    env: dict[str, str]
    logs: Path
    services: dict[str, Service] = field(default_factory=dict)

    def specs(self) -> dict[str, tuple[list[str], dict[str, str], str]]:
        """name → (args, extra env, health URL)."""
        worker = ["worker", "-l", "info"]
        out: dict[str, tuple[list[str], dict[str, str], str]] = {}
        for i, port in enumerate(DISPATCHER_PORTS, 1):
            out[f"dispatcher-{i}"] = (
                ["-m", "services.dispatcher", *worker],
                {"SIGAP_DISPATCHER_PORT": str(port), "SIGAP_DATA_DIR": str(self.logs / f"dispatcher-{i}")},
                f"http://127.0.0.1:{port}/healthz",
            )
        for i, port in enumerate(NOTIFIER_PORTS, 1):
            out[f"notifier-{i}"] = (
                ["-m", "services.notifier", *worker],
                {"SIGAP_NOTIFIER_PORT": str(port), "SIGAP_DATA_DIR": str(self.logs / f"notifier-{i}")},
                f"http://127.0.0.1:{port}/healthz",
            )
        out["gateway"] = (["-m", "services.gateway"], {}, f"http://127.0.0.1:{GATEWAY_PORT}/healthz")
        return out

    def start(self, name: str) -> None:
        args, extra, _ = self.specs()[name]
        service = Service(name, args, {**self.env, **extra}, self.logs / f"{name}.log")
        service.start()
        self.services[name] = service

    def kill(self, name: str) -> None:
        proc = self.services[name].proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    async def healthy(self, name: str, timeout_s: float = 120) -> None:
        url = self.specs()[name][2]
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if not self.services[name].alive():
                    raise RuntimeError(f"{name} exited:\n{self.services[name].log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return
                await asyncio.sleep(0.3)
        raise TimeoutError(f"{name} not healthy in {timeout_s}s:\n{self.services[name].log_tail()}")

    def stop(self) -> None:
        for service in self.services.values():
            service.stop(timeout_s=15)


class Answerer:
    """Volunteers answering their offers: by a hash of the offer id, half accept (and are released
    `release_s` later), a quarter decline, a quarter never answer (the offer expires)."""

    def __init__(self, bootstrap: str, prefix: str, producer: AIOKafkaProducer, release_s: float) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.producer = producer
        self.release_s = release_s
        self.seen: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.answered = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self.tasks):
            task.cancel()

    async def _send(self, payload: Payload, incident_id: str) -> None:
        event = make_event(payload, source="faults", correlation_id=incident_id)
        await self.producer.send_and_wait(self.prefix + RESPONSES, event.to_json(), key=incident_id.encode())

    async def _answer(self, offer_id: str, incident_id: str, volunteer_id: str) -> None:
        choice = zlib.crc32(offer_id.encode()) % 4
        ids = {"offer_id": offer_id, "incident_id": incident_id, "volunteer_id": volunteer_id}
        await asyncio.sleep(0.5)
        if choice in (0, 1):
            await self._send(OfferAccepted(**ids), incident_id)
            await asyncio.sleep(self.release_s)
            await self._send(AssignmentStatusChanged(**ids, status=AssignmentStatus.RELEASED), incident_id)
        elif choice == 2:
            await self._send(OfferDeclined(**ids), incident_id)
        self.answered += 1

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            topic = self.prefix + NOTIFICATIONS
            consumer.assign([TopicPartition(topic, p) for p in range(SPECS[NOTIFICATIONS].partitions)])
            await consumer.seek_to_beginning()
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        with contextlib.suppress(Exception):
                            event = decode_event(record.value)
                            p: Any = event.payload
                            if (
                                getattr(p, "kind", None) != "offer"
                                or not p.offer_id
                                or p.offer_id in self.seen
                            ):
                                continue
                            self.seen.add(p.offer_id)
                            task = asyncio.create_task(
                                self._answer(p.offer_id, p.incident_id, p.recipient.volunteer_id)
                            )
                            self.tasks.add(task)
                            task.add_done_callback(self.tasks.discard)
        finally:
            await consumer.stop()


async def read_log(bootstrap: str, prefix: str, into: Log, dump: Path | None = None) -> None:
    """Every event of `dispatch-log` and `responses`, from the beginning to the end offsets now. With
    `dump`, those and the reports on `incidents` also go to that file, one JSON object a line (topic,
    partition, offset, event): the evidence to look into when a count is not zero."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out = dump.open("w") if dump is not None else None
    try:
        for name in (DISPATCH_LOG, RESPONSES, INCIDENTS):
            if name == INCIDENTS and out is None:
                continue
            tps = [TopicPartition(prefix + name, p) for p in range(SPECS[name].partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning()
            ends = await consumer.end_offsets(tps)
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for record in records:
                        try:
                            event = decode_event(record.value)
                        except Exception:  # noqa: S112 - a foreign record is not the faults' business
                            continue
                        if out is not None:
                            row = {"topic": name, "partition": record.partition, "offset": record.offset}
                            out.write(json.dumps(row | orjson.loads(record.value)) + "\n")
                        if name == INCIDENTS:
                            continue
                        payload = event.payload.model_dump(mode="python")
                        expires = payload.get("expires_at")
                        if isinstance(expires, datetime):
                            payload["expires_at"] = expires.timestamp()
                        into.add(
                            event.event_type,
                            event.occurred_at.timestamp(),
                            payload,
                            on_dispatch_log=name == DISPATCH_LOG,
                        )
    finally:
        if out is not None:
            out.close()
        await consumer.stop()


@dataclass
class Scenario:
    name: str
    sends: Sends
    start_at: float
    fault_at: float
    end_at: float = 0.0
    note: str = ""


class Run:
    def __init__(self, plan: Plan, out: Path, names: tuple[str, ...]) -> None:
        self.plan = plan
        self.out = out
        self.names = names
        self.data = out / "data"
        self.kafka = OwnKafka(self.data / "kafka", KAFKA_PORT, CONTROLLER_PORT, nodes=3, heap="384m")
        self.sentinel = OwnSentinel(self.data / "redis", REDIS_PORT, SENTINEL_PORT)
        self.prefix = f"faults.{uuid.uuid4().hex[:8]}."
        self.keys = Keys(self.prefix.replace(".", ":"))
        self.providers = ProviderServers()
        self.scenarios: list[Scenario] = []
        self.stack: Stack | None = None
        self.notes: list[str] = []
        self.answerer_answered = 0

    def env(self) -> dict[str, str]:
        return {
            "SIGAP_ENV": "local",
            "SIGAP_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
            # the database (and credentials); the sentinels name the node
            "SIGAP_REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
            "SIGAP_REDIS_SENTINELS": self.sentinel.sentinels,
            "SIGAP_REDIS_SENTINEL_MASTER": self.sentinel.master,
            "SIGAP_TOPIC_PREFIX": self.prefix,
            "SIGAP_REDIS_PREFIX": self.keys.prefix,
            "SIGAP_HTTP_HOST": "127.0.0.1",
            "SIGAP_HTTP_PORT": str(GATEWAY_PORT),
            "SIGAP_PUBLIC_URL": f"http://127.0.0.1:{GATEWAY_PORT}",
            "SIGAP_API_KEYS": f"operator:{OPERATOR_KEY},admin:{ADMIN_KEY}",
            "SIGAP_CHANNELS": "whatsapp,outbox",
            "SIGAP_NOTIFIER_RATES": "whatsapp:0,telegram:0,sms:0,email:0,outbox:0",
            "SIGAP_OFFER_TTL_S": str(self.plan.offer_ttl_s),
            "SIGAP_LINK_SECRET": "faults-link-secret-0123456789abcdef",
            "PYTHONUNBUFFERED": "1",
            **self.providers.env(),
        }

    async def run(self) -> dict[str, Any]:
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        machine = machine_facts()
        log.info("starting a 3-broker cluster and Redis under Sentinel in %s", self.data)
        redis = new_redis(f"redis://127.0.0.1:{REDIS_PORT}/0", sentinels=self.sentinel.sentinels)
        producer = new_producer(self.kafka.bootstrap, client_id=f"{self.prefix}faults")
        self.providers.start()
        try:
            await asyncio.to_thread(self.kafka.start)
            await asyncio.to_thread(self.sentinel.start)
            await create_topics(self.kafka.bootstrap, self.prefix)
            self.stack = Stack(self.env(), self.out / "logs")
            self.stack.logs.mkdir(parents=True, exist_ok=True)
            for name in self.stack.specs():
                self.stack.start(name)
            for name in self.stack.specs():
                await self.stack.healthy(name)
            await producer.start()
            await roster.produce(producer, self.prefix + "volunteers", self.plan.roster)
            await roster.wait_materialised(redis, self.keys, self.plan.roster, timeout_s=180)
            answerer = Answerer(self.kafka.bootstrap, self.prefix, producer, self.plan.answer_release_s)
            await answerer.start()
            try:
                for name in self.names:
                    await self.scenario(name)
                log.info("draining %.0f s: offers expire, answers land", self.plan.drain_s)
                await asyncio.sleep(self.plan.drain_s)
            finally:
                await answerer.stop()
                self.answerer_answered = answerer.answered
            run_end = time.time()
            facts = Log()
            await read_log(self.kafka.bootstrap, self.prefix, facts, self.out / "events.jsonl")
            facts.handoffs = [
                (r.address, handoff_key(r.body), r.wall) for r in self.providers.requests("whatsapp")
            ]
            with (self.out / "handoffs.jsonl").open("w") as handoffs:
                for r in self.providers.requests("whatsapp"):
                    handoffs.write(json.dumps({"to": r.address, "at": r.wall, "body": r.body}) + "\n")
        finally:
            if self.stack:
                self.stack.stop()
            await producer.stop()
            await redis.aclose()
            self.providers.stop()
            await asyncio.to_thread(self.sentinel.stop)
            await asyncio.to_thread(self.kafka.stop)
        results = self.results(facts, run_end)
        (self.out / "scenarios.json").write_text(
            json.dumps(
                [
                    {
                        "name": sc.name,
                        "start_at": sc.start_at,
                        "fault_at": sc.fault_at,
                        "end_at": sc.end_at,
                        "posted": {k: v.sent_at for k, v in sc.sends.incidents.items()},
                    }
                    for sc in self.scenarios
                ]
            )
        )
        accepted = sum(h.accepted for h in facts.holds.values())
        self.notes.append(
            f"the run as a whole: {len(facts.decisions)} incidents decided, {len(facts.holds)} offers made, "
            f"{accepted} accepted, {len(facts.handoffs)} hand-offs to the WhatsApp server, "
            f"{self.answerer_answered} offers seen through by the simulated volunteers"
        )
        return {
            "commit": git_commit()["commit"],
            "started_at": started_at,
            "machine": describe(machine),
            "scenarios": results,
        }

    def results(self, facts: Log, run_end: float) -> list[dict[str, Any]]:
        partitioner = DefaultPartitioner()
        parts = list(range(SPECS[INCIDENTS].partitions))
        results = []
        for i, sc in enumerate(self.scenarios):
            posted = {k: v.sent_at for k, v in sc.sends.incidents.items()}
            end = self.scenarios[i + 1].start_at if i + 1 < len(self.scenarios) else run_end
            partition_of = {k: partitioner(k.encode(), parts, parts) for k in posted}
            counted = count(facts, Window(posted, sc.start_at, sc.fault_at, end, run_end), partition_of)
            lost = sorted((partition_of[inc], inc) for inc in posted if inc not in facts.decisions)
            if lost:
                sc.note += f"lost (partition, incident): {lost[:20]}"
            results.append({"name": sc.name, **{k: counted[k] for k in ("posted", *ZERO, "resume_s")}})
            self.notes.append(
                f"{sc.name}: answers {dict(sc.sends.statuses)}{'; ' + sc.note if sc.note else ''}"
            )
        return results

    async def scenario(self, name: str) -> None:
        assert self.stack is not None
        plan = self.plan
        inject, recover = self.fault(name)
        start_at = time.time()
        sc = Scenario(name, Sends(), start_at, start_at + plan.fault_at_s)
        log.info(
            "scenario %s: %.0f/s for %.0f s, fault at %.0f s",
            name,
            plan.rate,
            plan.duration_s,
            plan.fault_at_s,
        )

        async def fault() -> None:
            await asyncio.sleep(plan.fault_at_s)
            sc.fault_at = time.time()
            await inject()
            await recover()

        headers = {"Authorization": f"Bearer {OPERATOR_KEY}"}
        clients = [
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{GATEWAY_PORT}", headers=headers, timeout=15.0)
            for _ in range(4)
        ]
        try:
            faulting = asyncio.create_task(fault())
            sc.sends = await post_incidents(
                clients, rate=plan.rate, duration_s=plan.duration_s, seed=zlib.crc32(name.encode())
            )
            await faulting
        finally:
            for client in clients:
                await client.aclose()
        sc.end_at = time.time()
        self.scenarios.append(sc)
        log.info("scenario %s: %s", name, dict(sc.sends.statuses))

    def fault(self, name: str) -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
        stack = self.stack
        assert stack is not None

        def restart(service: str, after_s: float) -> Callable[[], Awaitable[None]]:
            async def go() -> None:
                await asyncio.sleep(after_s)
                stack.start(service)
                await stack.healthy(service)

            return go

        def kill(service: str) -> Callable[[], Awaitable[None]]:
            async def go() -> None:
                stack.kill(service)

            return go

        def thread(fn: Callable[[], Any], after_s: float = 0.0) -> Callable[[], Awaitable[None]]:
            async def go() -> None:
                await asyncio.sleep(after_s)
                await asyncio.to_thread(fn)

            return go

        killed: list[int] = []

        def kill_primary() -> None:
            old = self.sentinel.primary()
            killed.append(self.sentinel.kill_primary())
            deadline = time.monotonic() + 60
            while self.sentinel.primary() == old:  # as an operator would: bring the old one back
                assert time.monotonic() < deadline, "the sentinels elected no new primary in 60 s"
                time.sleep(0.2)  # only once a replica was promoted, so it rejoins as a replica

        def bring_back() -> None:
            self.sentinel.start_node(killed[-1])

        def restart_primary() -> None:
            primary = self.sentinel.primary()
            node = int(primary.rsplit(":", 1)[1]) - REDIS_PORT + 1
            self.sentinel.restart_node(node)

        async def nothing() -> None:
            return None

        short = self.plan is SMOKE
        faults: dict[str, tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]] = {
            "dispatcher_kill": (kill("dispatcher-1"), restart("dispatcher-1", 2 if short else 5)),
            "notifier_kill": (kill("notifier-1"), restart("notifier-1", 2 if short else 5)),
            "gateway_kill": (kill("gateway"), restart("gateway", 1 if short else 3)),
            "broker_kill": (
                thread(lambda: self.kafka.kill_node(2)),
                thread(lambda: self.kafka.start_node(2), 3 if short else 10),
            ),
            "redis_failover": (thread(kill_primary), thread(bring_back, 3 if short else 10)),
            "redis_restart": (thread(restart_primary), nothing),
        }
        return faults[name]


def describe(machine: dict[str, Any]) -> str:
    ram = round((machine["ram_mb"] or 0) / 1024)
    load = machine["load_average_at_start"]
    return f"{machine['cores']} cores ({machine['cpu']}), {ram} GiB RAM, load {load} at start"


def markdown(report: dict[str, Any], notes: list[str], smoke: bool) -> str:
    lines = [
        f"# Faults{' (smoke)' if smoke else ''}: {report['started_at']}",
        "",
        f"Commit `{report['commit'][:12]}` on {report['machine']}.",
        "",
        "| scenario | posted | lost | double-booked | overfilled | duplicate hand-offs | unexpired offers "
        "| resumed after |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in report["scenarios"]:
        resume = "never" if s["resume_s"] is None else f"{s['resume_s']:.1f} s"
        lines.append(
            f"| {s['name']} | {s['posted']} | {s['lost']} | {s['double_booked']} | {s['overfilled']} | "
            f"{s['duplicate_handoffs']} | {s['unexpired_offers']} | {resume} |"
        )
    lines += ["", "Answers to the posts, by scenario (202 is posted; others were refused or failed):", ""]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--smoke", action="store_true", help="short scenarios; exit 1 unless the counts are zero"
    )
    parser.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("aiokafka", "httpx", "aiohttp.access", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    names = tuple(n for n in args.only.split(",") if n) or SCENARIOS
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}")
    out = REPO / "faults" / ("smoke" if args.smoke else "run")
    out.mkdir(parents=True, exist_ok=True)
    run = Run(SMOKE if args.smoke else FULL, out, names)
    report = asyncio.run(run.run())
    target = out if args.smoke else REPO / "faults"
    (target / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (target / "report.md").write_text(markdown(report, run.notes, args.smoke))
    sys.stdout.write(markdown(report, run.notes, args.smoke))
    bad = [(s["name"], k, s[k]) for s in report["scenarios"] for k in ZERO if s[k]]
    if bad:
        sys.stdout.write(f"NOT ZERO: {bad}\n")
    return 1 if (args.smoke and bad) else 0


if __name__ == "__main__":
    sys.exit(main())
