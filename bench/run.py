"""`python -m bench.run [--smoke]`: one benchmark run on the local broker and Redis (DESIGN.md §8).

Order: the ceiling (a bare relay), then for each roster size a fresh prefix with its own topics and Redis
keys, the three services started as subprocesses, the roster loaded through `volunteers`, the fixed-rate
stages through the gateway, the sustained-rate search straight onto `incidents`, the services' peak memory,
and the matching step alone. Everything the run created is deleted at the end; the report is written to
`bench/report.json` and `bench/report.md` (or `--out`), which git ignores; the reference run is
`bench/baseline/`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import subprocess
import sys
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from bench import capacity, ceiling, faust_floor, matching, metrics, report, roster
from bench.evaluate import stage_result, sustained_step, wait_drain
from bench.load import post_incidents, produce_incidents
from bench.machine import REPO, cpu_gauge_s, load_average, machine_facts
from bench.offers import NotificationWatcher, OfferWatcher
from bench.plan import FULL, SMOKE, Plan
from bench.stack import OPERATOR_KEY, Stack, stop_profiler
from services.common.kafka import new_producer
from services.common.loop import install_event_loop
from services.common.readmodels import Keys
from services.common.topics import INCIDENTS, NOTIFICATIONS, VOLUNTEERS, create_topics, delete_topics

log = logging.getLogger("bench")

HOPS = 2  # gateway → [incidents] → dispatcher → [notifications] → notifier
BUSY_LOAD = 1.5


@dataclass
class Phase:
    """One roster size: its prefix, services, clients and watchers."""

    count: int
    label: str
    prefix: str
    keys: Keys
    logs: Path
    stack: Stack
    redis: Redis
    producer: Any
    watcher: OfferWatcher
    requests: NotificationWatcher
    sent: set[str] = dataclasses.field(default_factory=set)

    async def settle(self, cap_s: float, quiet_s: float = 2.0) -> dict[str, Any]:
        """Between stages: wait until the services are idle — the dispatcher and the notifier have handled
        no event for `quiet_s` (closes and delivery reports trail the offers) — or `cap_s` has passed. A
        stage must not inherit the previous stage's backlog."""
        started = time.monotonic()
        last: Any = None
        quiet_since = started
        while time.monotonic() - started < cap_s:
            snap = await metrics.scrape(self.stack.metrics_urls)
            counts = (
                snap.get("sigap_dispatcher_events_total"),
                snap.get("sigap_notifier_notifications_total"),
            )
            now = time.monotonic()
            if counts != last:
                last, quiet_since = counts, now
            elif now - quiet_since >= quiet_s:
                break
            await asyncio.sleep(0.25)
        outstanding = sum(1 for i in self.sent if i not in self.watcher.first_offers)
        return {
            "settle_s": round(time.monotonic() - started, 1),
            "idle": time.monotonic() - started < cap_s,
            "left_without_offer": outstanding,
        }


class Bench:
    def __init__(self, plan: Plan, out_dir: Path, logs_dir: Path, *, profile: bool, keep: bool) -> None:
        self.plan = plan
        self.out_dir = out_dir
        self.logs_dir = logs_dir
        self.profile = profile
        self.keep = keep
        self.bootstrap = os.environ.get("SIGAP_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
        self.redis_url = os.environ.get("SIGAP_REDIS_URL", "redis://127.0.0.1:6379/0")
        self.run_id = time.strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:4]
        self.report: dict[str, Any] = {
            "plan": plan.name,
            "run_id": self.run_id,
            "machine": machine_facts(),
            "latency_definition": (
                "from the gateway's 202 to POST /api/v1/incidents to the stored_at of the first offer the "
                "notifier handed to the outbox channel; from_post starts when the request left the load "
                "generator"
            ),
            "runs": [],
            "sustained": {},
            "max_sustained_per_s": None,
            "capacity": {},
            "dispatcher_capacity_per_s": None,
            "matching": {},
            "roster_load": {},
            "peak_rss_mb": {},
            "peak_rss_mb_by_roster": {},
            "ceiling": None,
            "floor": None,
            "notes": [],
        }

    def note(self, text: str) -> None:
        log.warning("%s", text)
        self.report["notes"].append(text)

    async def run(self) -> dict[str, Any]:
        load = self.report["machine"]["load_average_at_start"]
        if self.plan.name == "full" and load and load[0] > BUSY_LOAD:
            self.note(f"the machine was busy at start (load average {load[0]}): figures are pessimistic")
        await self._ceiling()
        await self._floor()
        for count in self.plan.rosters:
            await self._roster_phase(count)
        self._summarise()
        return self.report

    async def _ceiling(self) -> None:
        log.info("ceiling: bare relay through %d hops", HOPS)
        try:
            self.report["ceiling"] = await ceiling.measure(
                self.bootstrap,
                f"bench.{self.run_id}.",
                hops=HOPS,
                rate=self.plan.compare_rate,
                duration_s=self.plan.ceiling_s,
                blast_count=self.plan.ceiling_blast,
                logs_dir=self.logs_dir,
            )
        except Exception as exc:
            log.exception("ceiling failed")
            self.note(f"the ceiling could not be measured: {exc}")

    async def _floor(self) -> None:
        """What one faust worker drains of the capacity backlog doing only the dispatcher's I/O
        (`bench.faust_floor`), and only acknowledging: what is left for the dispatcher's work."""
        if not self.plan.floor_incidents:
            return
        log.info("floor: a faust worker doing the dispatcher's I/O and none of its work")
        floor: dict[str, Any] = {"incidents": self.plan.floor_incidents}
        try:
            for mode in ("ack", "io"):
                floor[mode] = await asyncio.to_thread(
                    faust_floor.measure,
                    self.bootstrap,
                    self.plan.floor_incidents,
                    mode=mode,
                    redis_url=self.redis_url,
                )
        except Exception as exc:  # beside the targets: note it, keep the run
            log.exception("floor failed")
            self.note(f"the I/O floor could not be measured: {exc}")
        self.report["floor"] = floor

    async def _roster_phase(self, count: int) -> None:
        label = report.roster_label(count)
        prefix = f"bench.{self.run_id}.{label.replace('_', '-')}."
        keys = Keys(prefix.replace(".", ":"))
        log.info("%s: prefix %s", label, prefix)
        await create_topics(self.bootstrap, prefix)
        env = {
            "SIGAP_ENV": "local",
            "SIGAP_KAFKA_BOOTSTRAP": self.bootstrap,
            "SIGAP_REDIS_URL": self.redis_url,
            "SIGAP_TOPIC_PREFIX": prefix,
            "SIGAP_REDIS_PREFIX": keys.prefix,
            "SIGAP_DATA_DIR": str(self.logs_dir / "data"),  # faust's worker directories
        }
        phase_logs = self.logs_dir / label
        phase_logs.mkdir(parents=True, exist_ok=True)
        redis = Redis.from_url(self.redis_url, decode_responses=True)
        producer = new_producer(self.bootstrap, client_id=f"{prefix}bench")
        await producer.start()
        phase = Phase(
            count=count,
            label=label,
            prefix=prefix,
            keys=keys,
            logs=phase_logs,
            stack=Stack(env, phase_logs),
            redis=redis,
            producer=producer,
            watcher=OfferWatcher(redis, keys, closer=producer, incidents_topic=prefix + INCIDENTS),
            requests=NotificationWatcher(
                self.bootstrap, prefix + NOTIFICATIONS, group=f"{prefix}bench-watch"
            ),
        )
        try:
            phase.stack.start()
            phase.stack.wait_gateway()
            await self._load_roster(phase)
            await phase.requests.start()
            await phase.watcher.start()
            await self._measure(phase)
            self.report["peak_rss_mb_by_roster"][label] = phase.stack.peak_rss_mb()
            self.report.setdefault("outbox_watch", {})[label] = {"maybe_missed": phase.watcher.maybe_missed}
        except Exception as exc:
            log.exception("%s failed", label)
            self.note(f"{label}: the run stopped early: {type(exc).__name__}: {exc}")
        except BaseException:
            phase.stack.stop()  # interrupted (Ctrl-C): stop the services and clean up, then go
            await self._clean(redis, keys, prefix)
            raise
        finally:
            await phase.watcher.stop()
            await phase.requests.stop()
            phase.stack.stop()
            await producer.stop()
        try:
            self.report["matching"][label] = await matching.measure(
                redis, keys, iterations=self.plan.matching_iterations
            )
        except Exception as exc:
            log.exception("matching failed")
            self.note(f"{label}: the matching step could not be measured: {exc}")
        finally:
            await self._clean(redis, keys, prefix)
            await redis.aclose()

    async def _clean(self, redis: Redis, keys: Keys, prefix: str) -> None:
        if not self.keep:
            await _clean_redis(redis, keys.prefix)
            await delete_topics(self.bootstrap, prefix)

    async def _measure(self, phase: Phase) -> None:
        profilers = _start_profilers(phase.stack, phase.logs) if self.profile else []
        try:
            # the highest fixed rate goes last: if the services cannot keep up with it, its backlog
            # would otherwise spill into the sustained-rate search
            rates = sorted(self.plan.rates)
            await self._fixed_rates(phase, rates[:-1], warm_up=True)
            await self._sustained(phase)
            await self._fixed_rates(phase, rates[-1:])
            await self._capacity(phase)
        finally:
            for proc in profilers:
                stop_profiler(proc)

    async def _capacity(self, phase: Phase) -> None:
        """Last in a phase (it pauses the notifier and leaves it a backlog): one dispatcher worker
        draining a backlog of incidents on its own."""
        if not self.plan.capacity_incidents:
            return
        log.info("%s: dispatcher capacity, %d incidents", phase.label, self.plan.capacity_incidents)
        idle = await phase.settle(self.plan.settle_cap_s * 3)
        if not idle["idle"]:
            self.note(f"{phase.label}: the dispatcher was still busy before the capacity drain")
        # the notifier and gateway stay paused until after the drain by several workers
        with capacity.paused(phase.stack, ("notifier", "gateway")):
            self.report["capacity"][phase.label] = await self._drain(phase, ("dispatcher",))
            phase.stack.check_alive()
            if self.plan.capacity_scaling_workers > 1:
                await self._capacity_scaling(phase)

    async def _drain(self, phase: Phase, dispatchers: tuple[str, ...]) -> dict[str, Any]:
        """A backlog drain by the named workers, with incidents of its own (seed and ids per worker
        count); the caller keeps the notifier and gateway paused."""
        workers = len(dispatchers)
        return await capacity.measure(
            phase.stack,
            phase.producer,
            phase.prefix + INCIDENTS,
            count=self.plan.capacity_incidents,
            seed=phase.count + workers - 1,
            tag=phase.label if workers == 1 else f"{phase.label}-w{workers}",
            timeout_s=self.plan.capacity_timeout_s,
            dispatchers=dispatchers,
            pause_others=False,
        )

    async def _capacity_scaling(self, phase: Phase) -> None:
        """The same drain (new incidents) by several workers of one group on this machine: how far more
        workers take it, for the planners' choice between a faster worker and more of them. Not a target
        (that is one worker's); the notifier and gateway stay paused."""
        workers = self.plan.capacity_scaling_workers
        try:
            names = ("dispatcher", *(phase.stack.add_dispatcher() for _ in range(workers - 1)))
            waited = await capacity.wait_group_stable(self.bootstrap, f"{phase.prefix}dispatcher", workers)
            await asyncio.sleep(2.0)  # the workers' first fetches after the rebalance
            result = await self._drain(phase, names)
            result["rebalance_wait_s"] = waited
            self.report.setdefault("capacity_scaling", {})[phase.label] = result
            phase.stack.check_alive()
        except Exception as exc:  # a measurement beside the targets: note it, keep the run
            log.exception("capacity scaling failed")
            self.note(f"{phase.label}: the drain by {workers} workers could not be measured: {exc}")

    async def _load_roster(self, phase: Phase) -> None:
        label, count = phase.label, phase.count
        log.info("%s: producing %d volunteers", label, count)
        produce_s = await roster.produce(phase.producer, phase.prefix + VOLUNTEERS, count)
        wait_s = await roster.wait_materialised(phase.redis, phase.keys, count, self.plan.roster_timeout_s)
        total = produce_s + wait_s
        self.report["roster_load"][label] = {
            "volunteers": count,
            "produce_s": round(produce_s, 2),
            "materialised_s": round(total, 2),
            "per_s": round(count / total, 1),
        }
        log.info("%s: roster materialised in %.1fs", label, total)

    async def _fixed_rates(
        self, phase: Phase, rates: list[float], *, warm_up: bool = False, settle: bool = True
    ) -> None:
        stack, watcher, requests, count = phase.stack, phase.watcher, phase.requests, phase.count
        clients = [
            httpx.AsyncClient(
                base_url=stack.base_url,
                headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
                timeout=30.0,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
            )
            for _ in range(self.plan.http_clients)
        ]
        try:
            if warm_up:
                await self._warm_up(clients, watcher)
            for rate in rates:
                i = self.plan.rates.index(rate)
                stage_s = self.plan.stage_for(rate)
                log.info("roster %d: %g incidents/s for %gs", count, rate, stage_s)
                before, clock = await metrics.scrape(stack.metrics_urls), time.monotonic()
                sends = await post_incidents(clients, rate=rate, duration_s=stage_s, seed=1000 * count + i)
                phase.sent.update(sends.incidents)
                await wait_drain(sends, watcher.first_offers, self.plan.drain_s)
                inside = metrics.difference(
                    before, await metrics.scrape(stack.metrics_urls), time.monotonic() - clock
                )
                result: dict[str, Any] = {
                    "rate_per_s": rate,
                    "roster": count,
                    "duration_s": stage_s,
                }
                result |= stage_result(sends, watcher.first_offers)
                dispatcher = stage_result(sends, requests.first_requests)
                result["to_notification_request"] = {
                    k: dispatcher[k] for k in ("completed", "p50_ms", "p99_ms")
                }
                result["services"] = inside
                result["load_average_after"] = load_average()
                if settle:
                    result["after"] = await phase.settle(self.plan.settle_cap_s)
                self.report["runs"].append(result)
                log.info(
                    "roster %d at %g/s: sent %d, completed %d, p50 %s ms, p99 %s ms",
                    count,
                    rate,
                    result["sent"],
                    result["completed"],
                    result["p50_ms"],
                    result["p99_ms"],
                )
                stack.check_alive()
        finally:
            for client in clients:
                await client.aclose()

    async def _warm_up(self, clients: list[httpx.AsyncClient], watcher: OfferWatcher) -> None:
        """Post a few incidents until one is offered end to end (consumers joined, caches warm)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            sends = await post_incidents(clients, rate=5, duration_s=1, seed=0)
            await wait_drain(sends, watcher.first_offers, 5)
            if sends.incidents and all(i in watcher.first_offers for i in sends.incidents):
                return
        raise TimeoutError("no incident was offered within 120 s of warm-up")

    async def _sustained(self, phase: Phase) -> None:
        """Step the rate up until the system stops keeping up; confirm the best for a longer run."""
        plan = self.plan
        stack, watcher, requests, producer = phase.stack, phase.watcher, phase.requests, phase.producer
        prefix, count, label = phase.prefix, phase.count, phase.label
        result: dict[str, Any] = {
            "roster": count,
            "mode": "incident.reported straight onto incidents",
            "steps": [],
        }
        self.report["sustained"][label] = result

        async def step(rate: float, duration_s: float, tag: str) -> dict[str, Any]:
            before, clock = await metrics.scrape(stack.metrics_urls), time.monotonic()
            sends = await produce_incidents(
                producer,
                prefix + INCIDENTS,
                rate=rate,
                duration_s=duration_s,
                tag=tag,
                seed=zlib.crc32(tag.encode()),
            )
            phase.sent.update(sends.incidents)
            await wait_drain(sends, watcher.first_offers, min(plan.drain_s, 10))
            after = await metrics.scrape(stack.metrics_urls)
            outcome = sustained_step(sends, watcher.first_offers, rate)
            outcome["services"] = metrics.difference(before, after, time.monotonic() - clock)
            outcome["load_average_after"] = load_average()
            outcome["dispatcher_alone"] = sustained_step(sends, requests.first_requests, rate)
            log.info(
                "%s sustained %g/s: sent %d, completed %d in stage %d, p99 %s → %s ms, ok=%s (dispatcher %s)",
                label,
                rate,
                outcome["sent"],
                outcome["completed"],
                outcome["completed_within_stage"],
                outcome["p99_first_quarter_ms"],
                outcome["p99_last_quarter_ms"],
                outcome["ok"],
                outcome["dispatcher_alone"]["ok"],
            )
            stack.check_alive()
            outcome["after"] = await phase.settle(plan.settle_cap_s)
            return outcome

        best = best_dispatcher = None
        for i, rate in enumerate(plan.sustained_steps):
            outcome = await step(rate, plan.sustained_step_s, f"s{i}")
            result["steps"].append(outcome)
            if not outcome["ok"] and not outcome["dispatcher_alone"]["ok"]:
                # one hiccup (another process, a GC pause) must not end the search: a step fails twice
                outcome = await step(rate, plan.sustained_step_s, f"s{i}r")
                outcome["retry"] = True
                result["steps"].append(outcome)
            if outcome["ok"]:
                best = rate
            if outcome["dispatcher_alone"]["ok"]:
                best_dispatcher = rate
            if not outcome["ok"] and not outcome["dispatcher_alone"]["ok"]:
                break
        result["best_step_per_s"] = best
        result["dispatcher_max_per_s"] = best_dispatcher
        result["max_per_s"] = best
        if plan.sustained_confirm_s and best is not None:
            candidates = [r for r in plan.sustained_steps if r <= best][::-1][:2]
            result["max_per_s"] = None
            for n, rate in enumerate(candidates):
                outcome = await step(rate, plan.sustained_confirm_s, f"c{n}")
                result.setdefault("confirmations", []).append(outcome)
                if outcome["ok"]:
                    result["max_per_s"] = rate
                    break

    def _summarise(self) -> None:
        self.report["runs"].sort(key=lambda r: (r["roster"], r["rate_per_s"]))
        self.report["machine"]["load_average_at_end"] = load_average()
        self.report["machine"]["cpu_gauge_s_at_end"] = cpu_gauge_s()
        peak = max((r.get("load_average_after", [0])[0] for r in self.report["runs"]), default=0)
        if peak:
            self.note(
                f"1-minute load average up to {peak} after a stage, the benchmark's own services, broker,"
                " Redis and load generator included (load_average_after in report.json; 2 cores)"
            )
        self.report["plan_detail"] = dataclasses.asdict(self.plan)
        by_roster = self.report["peak_rss_mb_by_roster"]
        peaks: dict[str, float | None] = {}
        for name in ("dispatcher", "notifier", "gateway"):
            values = [v[name] for v in by_roster.values() if v.get(name) is not None]
            peaks[name] = max(values) if values else None
        self.report["peak_rss_mb"] = peaks
        maxima = []
        for label, search in self.report["sustained"].items():
            best = search.get("max_per_s")
            if best is None and search.get("steps"):
                best = 0.0  # the search ran and nothing it tried held
                if search.get("best_step_per_s") is not None:
                    self.note(
                        f"{label}: steps held up to {search['best_step_per_s']:g}/s for "
                        f"{self.plan.sustained_step_s:g} s, but no rate held for the whole "
                        f"{self.plan.sustained_confirm_s:g} s confirmation (reported as 0)"
                    )
                else:
                    self.note(
                        f"{label}: not even the lowest rate of the search was sustained (reported as 0)"
                    )
            maxima.append(best)
        drains = [c.get("incidents_per_s") for c in self.report["capacity"].values()]
        self.report["dispatcher_capacity_per_s"] = (
            min(drains) if drains and all(d is not None for d in drains) else None
        )
        # the figure is the worst roster's: a claim must hold for both sizes
        self.report["max_sustained_per_s"] = (
            min(m for m in maxima if m is not None) if maxima and all(m is not None for m in maxima) else None
        )
        self.report["ceiling_hops_path"] = "gateway → incidents → dispatcher → notifications → notifier"
        report.derive(self.report, self.plan.compare_rate)
        self.report["duration_s"] = round(time.monotonic() - _STARTED, 1)


_STARTED = time.monotonic()


def _start_profilers(stack: Stack, logs: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for name in ("dispatcher", "notifier"):
        pid = stack.services[name].pid
        if pid is None:
            continue
        out = logs / f"{name}.pyspy.txt"
        procs.append(
            subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    "100",
                    "--format",
                    "raw",
                    "-o",
                    str(out),
                ],
                stdout=subprocess.DEVNULL,
                stderr=(logs / f"{name}.pyspy.log").open("ab"),
            )
        )
    return procs


async def _clean_redis(redis: Redis, prefix: str) -> None:
    batch: list[str] = []
    async for key in redis.scan_iter(match=prefix + "*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            await redis.unlink(*batch)
            batch.clear()
    if batch:
        await redis.unlink(*batch)


def _numbers(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(",") if x.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a tiny roster, seconds per stage (CI)")
    parser.add_argument("--out", type=Path, default=REPO / "bench", help="where report.{json,md} go")
    parser.add_argument("--logs", type=Path, default=None, help="service logs (default .cache/bench/<run>)")
    parser.add_argument("--profile", action="store_true", help="py-spy the dispatcher and notifier")
    parser.add_argument("--keep", action="store_true", help="keep the run's topics and Redis keys")
    dev = parser.add_argument_group("overrides of the plan (development; the report says so)")
    dev.add_argument("--rosters", type=_numbers, help="e.g. 1000,100000")
    dev.add_argument("--rates", type=_numbers, help="fixed rates, e.g. 10,50,200")
    dev.add_argument("--stage-s", type=float, help="seconds per fixed-rate stage")
    dev.add_argument("--steps", type=_numbers, help="sustained search rates ('' for none)")
    dev.add_argument("--step-s", type=float, help="seconds per sustained step")
    dev.add_argument("--confirm-s", type=float, help="seconds of the sustained confirmation (0: none)")
    dev.add_argument("--capacity", type=int, help="incidents in the capacity drain's backlog (0: none)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("aiokafka", "kafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    plan = SMOKE if args.smoke else FULL
    overrides: dict[str, Any] = {
        name: value
        for name, value in (
            ("rosters", args.rosters and tuple(int(x) for x in args.rosters)),
            ("rates", args.rates),
            ("stage_s", args.stage_s),
            ("sustained_steps", args.steps),
            ("sustained_step_s", args.step_s),
            ("sustained_confirm_s", args.confirm_s),
            ("capacity_incidents", args.capacity),
        )
        if value is not None
    }
    if overrides:
        plan = dataclasses.replace(plan, name=f"{plan.name} (modified)", **overrides)
    bench = Bench(plan, args.out, Path(), profile=args.profile, keep=args.keep)
    bench.logs_dir = args.logs or REPO / ".cache" / "bench" / bench.run_id
    bench.logs_dir.mkdir(parents=True, exist_ok=True)
    log.info(
        "bench %s run %s; load average %s; logs in %s",
        plan.name,
        bench.run_id,
        load_average(),
        bench.logs_dir,
    )
    install_event_loop()  # the load generator on the services' loop: less of the shared CPU
    result = asyncio.run(bench.run())
    json_path, md_path = report.write(result, args.out)
    print(md_path.read_text("utf-8"))
    print(f"wrote {json_path} and {md_path}")
    with contextlib.suppress(Exception):
        completed = sum(r["completed"] for r in result["runs"])
        return 0 if completed > 0 else 1
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
