"""What one worker's input and output cost, before any of the dispatcher's work: a faust worker
configured like the dispatcher drains the same backlog as `bench.capacity` (each incident reported, then
closed) from a fresh topic.

`python -m bench.faust_floor [--incidents 20000] [--mode ack|io|io-per-record]` prints records/s over
the middle 80 % of the drain and the incidents/s that means (two records each):
- `ack` (the default): the agent only acknowledges — what faust's consumption allows;
- `io`: the agent also does the dispatcher's I/O for each record — the same number and sizes of output
  records (`OUTPUT_BYTES`, measured from `bench.hotpath`'s batches), sent as the dispatcher sends them
  (one `send` each) and awaited per batch, and the two coalesced Redis round trips of a batch —
  but none of its work (`faust_floor_app`); `io-per-record` is the same as `io` now. The most
  any worker doing the dispatcher's I/O in Python could drain on this machine; 1,000 incidents/s from
  the dispatcher needs its work to fit in what this floor leaves of a millisecond per incident.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from redis.asyncio import Redis

from bench.capacity import backlog
from services.common.kafka import new_producer
from services.common.topics import delete_topics

OUTPUT_BYTES = ([330, 330, 410, 1010], [330, 330, 1010])
"""the sizes of the records the dispatcher sends for an incident's report (two status changes, the
offer, the offer's notification request) and for its close (the status change, the withdrawal, its
notification request), in bytes: the means measured in `bench.hotpath`'s batches (1,000 volunteers)"""


async def _prepare(bootstrap: str, topic: str, incidents: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 8, 1), NewTopic(f"{topic}.out", 8, 1)])
    finally:
        await admin.close()
    producer = new_producer(bootstrap, client_id=topic)
    await producer.start()
    try:
        pending = [await producer.send(topic, value, key=key) for key, value in backlog(incidents, 7, topic)]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def _forget_keys(redis_url: str, topic: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        await redis.delete(*(f"{topic}:{kind}:{n}" for kind in "sv" for n in range(64)))
    finally:
        await redis.aclose()


def measure(
    bootstrap: str,
    incidents: int,
    timeout_s: float = 300.0,
    *,
    mode: str = "ack",
    redis_url: str = "redis://127.0.0.1:6379/0",
) -> dict[str, float]:
    topic = f"bench.floor{uuid.uuid4().hex[:8]}"
    asyncio.run(_prepare(bootstrap, topic, incidents))
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "floor.json"
        env = {
            **os.environ,
            "SIGAP_FLOOR_TOPIC": topic,
            "SIGAP_FLOOR_RECORDS": str(2 * incidents),
            "SIGAP_FLOOR_RESULT": str(result),
            "SIGAP_FLOOR_BROKER": ";".join(f"kafka://{h}" for h in bootstrap.split(",")),
            "SIGAP_FLOOR_MODE": mode,
            "SIGAP_FLOOR_REDIS": redis_url,
            "SIGAP_FLOOR_OUTPUTS": json.dumps(OUTPUT_BYTES),
        }
        log = Path(tmp) / "worker.log"
        command = [sys.executable, "-m", "bench.faust_floor_app", "--datadir", tmp]
        # without faust's web server: it would bind 0.0.0.0:6066 (faust's worker command turns it on
        # whatever the app says), which another worker on the machine may hold; this one then hung
        worker_args = ["worker", "--without-web", "-l", "info"]
        with log.open("wb") as errors:  # the child has its own copy of the descriptor
            worker = subprocess.Popen(
                [*command, *worker_args], env=env, stdout=subprocess.DEVNULL, stderr=errors
            )
        try:
            deadline = time.monotonic() + timeout_s
            while not result.exists() and time.monotonic() < deadline and worker.poll() is None:
                time.sleep(0.2)
            if not result.exists():
                tail = log.read_text("utf-8", "replace")[-3000:]
                raise RuntimeError(f"the faust worker did not drain the backlog; its log ends:\n{tail}")
            time.sleep(0.2)  # written in one call; let it land
            out: dict[str, float] = json.loads(result.read_text())
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.wait()
    asyncio.run(delete_topics(bootstrap, topic))  # the topics have their own (unique) prefix
    if mode != "ack":
        asyncio.run(_forget_keys(redis_url, topic))
    out["incidents_per_s"] = round(out["records_per_s"] / 2, 1)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faust_floor", description=__doc__)
    parser.add_argument("--incidents", type=int, default=20_000)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--mode", choices=("ack", "io", "io-per-record"), default="ack")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.bootstrap, args.incidents, mode=args.mode, redis_url=args.redis_url)))


if __name__ == "__main__":
    main()
