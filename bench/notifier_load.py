"""The notifier alone under load: how many notifications per second one worker hands to the outbox, and
how long each waits between its request record and the outbox.

`python -m bench.notifier_load [--count N] [--stages max,100] [--profile FILE]` creates a fresh prefix
(its topics and Redis keys), starts one notifier worker subprocess in outbox mode, warms it up, then per
stage produces N `notification.requested` offer records onto `notifications` — as fast as the producer
goes (`max`) or at a fixed rate per second — and waits until every one is in the outbox and reported on
`deliveries`. It measures from each record's timestamp (set by the producer) to

- the outbox message's `stored_at` (the hand-off; what `bench.run` calls the notifier's hand-off delay),
- the delivery report's record timestamp on `deliveries` (set by the notifier's producer),

and counts the offer reports on `responses`. Throughput is N over the time from the first record to the
last report. `--profile FILE` samples the worker with py-spy (raw format) during the stages only;
summarise with `python -m bench.profile_summary FILE --filter services/`. The machine's load average is
printed with every stage: on a shared 2-core machine it moves the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from redis.asyncio import Redis

from bench.machine import REPO
from bench.stack import Service, free_port, stop_profiler
from bench.stats import summarise_ms
from schemas.envelope import make_event
from schemas.events import ChannelAddress, MessageContext, NotificationRequested, Recipient
from schemas.fields import GeoPoint
from services.common.kafka import new_producer
from services.common.readmodels import Keys
from services.common.topics import DELIVERIES, NOTIFICATIONS, RESPONSES, TOPICS, create_topics, delete_topics

log = logging.getLogger("bench.notifier_load")

KELURAHAN = "35.71.02.1014"  # Ngronggo
LINK = "https://sigap.kedirikota.go.id/r/eyJrIjoib2ZmZXIiLCJ2IjoidjEiLCJlIjoxNzgwMDAwMDAwfQ.c2lnbmF0dXJl"
PARTITIONS = {spec.name: spec.partitions for spec in TOPICS}
CHANNELS = (("whatsapp", "081234567890"), ("telegram", "5550123"), ("sms", "085712345678"))


def offer_request(stage: str, index: int) -> NotificationRequested:
    """An offer as the dispatcher makes it (`services/dispatcher/notices.py`: the notification id is
    derived from the offer id), for one of 500 volunteers."""
    offer_id = f"off-{stage}-{index}"
    kind, address = CHANNELS[index % len(CHANNELS)]
    now = datetime.now(UTC)
    return NotificationRequested(
        notification_id="nt-" + hashlib.blake2b(f"offer/{offer_id}".encode(), digest_size=12).hexdigest(),
        kind="offer",
        recipient=Recipient(
            volunteer_id=f"vol-{index % 500}",
            name="Budi Santoso",
            language="id" if index % 4 else "en",
            channels=[ChannelAddress(type=kind, address=address)],
        ),
        deadline=now + timedelta(minutes=10),
        incident_id=f"INC-{stage}-{index // 2}",
        offer_id=offer_id,
        context=MessageContext(
            incident_id=f"INC-{stage}-{index // 2}",
            incident_type="flood",
            severity="severe",
            title="Luapan Sungai Brantas",
            kelurahan_code=KELURAHAN,
            location=GeoPoint(lat=-7.8431, lon=112.0185),
            unit="tagana",
            skill="water_rescue",
            response_url=LINK,
            extra={"distance_km": 1.2, "expires_at": (now + timedelta(minutes=10)).isoformat()},
        ),
    )


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time a process has used so far (Linux `/proc/PID/stat`)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.bootstrap = os.environ.get("SIGAP_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
        self.redis_url = os.environ.get("SIGAP_REDIS_URL", "redis://127.0.0.1:6379/0")
        self.prefix = f"bench.nl{uuid.uuid4().hex[:8]}."
        self.keys = Keys(self.prefix.replace(".", ":"))
        self.logs = REPO / ".cache" / "bench" / "notifier_load" / self.prefix.strip(".")
        self.port = free_port()
        self.service: Service | None = None
        self.producer: AIOKafkaProducer | None = None
        self.redis: Redis | None = None
        self.report_offsets: dict[str, dict[TopicPartition, int]] = {}

    def service_env(self) -> dict[str, str]:
        return {
            "SIGAP_ENV": "local",
            "SIGAP_KAFKA_BOOTSTRAP": self.bootstrap,
            "SIGAP_REDIS_URL": self.redis_url,
            "SIGAP_TOPIC_PREFIX": self.prefix,
            "SIGAP_REDIS_PREFIX": self.keys.prefix,
            "SIGAP_DATA_DIR": str(self.logs / "data"),
            "SIGAP_NOTIFIER_PORT": str(self.port),
            "SIGAP_CHANNELS": "outbox",
            "SIGAP_OUTBOX_MAX": str(self.args.count * 4 + 1000),
        }

    async def run(self) -> dict[str, Any]:
        self.logs.mkdir(parents=True, exist_ok=True)
        await create_topics(self.bootstrap, self.prefix)
        self.redis = Redis.from_url(self.redis_url, decode_responses=True)
        self.producer = new_producer(self.bootstrap, client_id=f"{self.prefix}bench")
        await self.producer.start()
        profiler: subprocess.Popen[bytes] | None = None
        results: dict[str, Any] = {"prefix": self.prefix, "count": self.args.count, "stages": {}}
        try:
            self.service = Service(
                "notifier",
                ["-m", "services.notifier", "worker", "-l", "info"],
                self.service_env(),
                self.logs / "notifier.log",
            )
            self.service.start()
            await self.wait_ready()
            await self.stage("warmup", 50, 0.0)
            if self.args.profile:
                profiler = start_profiler(self.service, Path(self.args.profile))
            for name in self.args.stages.split(","):
                rate = 0.0 if name == "max" else float(name)
                results["stages"][name] = await self.stage(name, self.args.count, rate)
                print(json.dumps({name: results["stages"][name]}), flush=True)
        finally:
            if profiler is not None:
                stop_profiler(profiler)
            if self.service is not None:
                self.service.stop()
            await self.producer.stop()
            await self.redis.aclose()
            if not self.args.keep:
                await delete_topics(self.bootstrap, self.prefix)
                await self.clean_redis()
        return results

    async def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                assert self.service is not None  # noqa: S101
                if not self.service.alive():
                    raise RuntimeError(f"the notifier exited:\n{self.service.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (
                        await client.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1)
                    ).status_code == 200:
                        return
                await asyncio.sleep(0.3)
        raise TimeoutError("the notifier was not ready in time")

    async def clean_redis(self) -> None:
        redis = Redis.from_url(self.redis_url)
        try:
            batch = [k async for k in redis.scan_iter(match=self.keys.prefix + "*", count=1000)]
            for start in range(0, len(batch), 500):
                await redis.delete(*batch[start : start + 500])
        finally:
            await redis.aclose()

    async def produce(self, stage: str, count: int, rate: float) -> dict[str, float]:
        """Produce the stage's records (at `rate` per second, or as fast as possible when 0); returns
        each notification's record timestamp (s)."""
        assert self.producer is not None  # noqa: S101
        topic = self.prefix + NOTIFICATIONS
        requests = [offer_request(stage, i) for i in range(count)]
        payloads = [
            (r.notification_id, (r.incident_id or "").encode(), make_event(r, source="bench").to_json())
            for r in requests
        ]
        futures: list[tuple[str, Any]] = []
        started = time.monotonic()
        for index, (nid, key, value) in enumerate(payloads):
            if rate > 0:
                due = started + index / rate
                pause = due - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
            futures.append((nid, await self.producer.send(topic, value, key=key)))
        metadata = await asyncio.gather(*(f for _, f in futures))
        return {nid: md.timestamp / 1000 for (nid, _), md in zip(futures, metadata, strict=True)}

    async def stage(self, name: str, count: int, rate: float) -> dict[str, Any]:
        assert self.redis is not None  # noqa: S101
        load_before = load_average()
        before = await self.redis.llen(self.keys.outbox)
        pid = self.service.pid if self.service else None
        cpu_before = cpu_seconds(pid)
        produced = await self.produce(name, count, rate)
        deadline = time.monotonic() + max(120.0, count / 20)
        while await self.redis.llen(self.keys.outbox) < before + count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: only {await self.redis.llen(self.keys.outbox) - before} stored")
            await asyncio.sleep(0.1)
        cpu_s = cpu_seconds(pid) - cpu_before
        stored: dict[str, float] = {}
        for raw in await self.redis.lrange(self.keys.outbox, 0, count - 1):
            doc = orjson.loads(raw)
            if doc["notification_id"] in produced:
                stored[doc["notification_id"]] = datetime.fromisoformat(doc["stored_at"]).timestamp()
        reports = await self.read_reports(DELIVERIES, set(produced))
        offers_on_responses = await self.read_reports(RESPONSES, set(produced), wait=False)
        first = min(produced.values())
        last_report = max(reports.values())
        handoff = [stored[n] - produced[n] for n in stored]
        reported = [reports[n] - produced[n] for n in reports]
        result: dict[str, Any] = {
            "rate": rate or "max",
            "notifications": count,
            "produce_s": round(max(produced.values()) - first, 3),
            "notifications_per_s": round(count / (last_report - first), 1),
            "notifier_cpu_ms_per_notification": round(cpu_s * 1000 / count, 3),
            "handoff": summarise_ms(handoff),
            "report": summarise_ms(reported),
            "offer_reports_on_responses": len(offers_on_responses),
            "load_before": load_before,
            "load_after": load_average(),
        }
        log.info("%s: %s", name, result)
        return result

    async def read_reports(self, topic: str, wanted: set[str], *, wait: bool = True) -> dict[str, float]:
        """The record timestamps (s) of the reports about `wanted` on `topic`, read from where the
        previous stage stopped; waits until all are there unless `wait` is False (then it reads up to
        the end offsets)."""
        partitions = [TopicPartition(self.prefix + topic, p) for p in range(PARTITIONS[topic])]
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        found: dict[str, float] = {}
        try:
            consumer.assign(partitions)
            offsets = self.report_offsets.setdefault(topic, {})
            for tp in partitions:
                consumer.seek(tp, offsets.get(tp, 0))
            ends = await consumer.end_offsets(partitions)
            deadline = time.monotonic() + 60.0
            while time.monotonic() < deadline:
                if wait and len(found) >= len(wanted):
                    break
                if not wait and all(offsets.get(tp, 0) >= ends[tp] for tp in partitions):
                    break
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                for tp, records in batches.items():
                    for record in records:
                        nid = orjson.loads(record.value).get("payload", {}).get("notification_id")
                        if nid in wanted and nid not in found:
                            found[nid] = record.timestamp / 1000
                        offsets[tp] = record.offset + 1
            if wait and len(found) < len(wanted):
                raise TimeoutError(f"only {len(found)} of {len(wanted)} reports on {topic}")
        finally:
            await consumer.stop()
        return found


def start_profiler(service: Service, out: Path) -> subprocess.Popen[bytes]:
    assert service.pid is not None  # noqa: S101
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--pid",
            str(service.pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=out.with_suffix(".log").open("ab"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="notifications per stage")
    parser.add_argument("--stages", default="max,100", help="comma-separated: max or a rate per second")
    parser.add_argument("--profile", help="write a py-spy raw profile of the stages to this file")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the topics and Redis keys")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    results = asyncio.run(Bench(args).run())
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
