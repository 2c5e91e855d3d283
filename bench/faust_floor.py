"""What faust itself costs one worker: a worker whose agent does nothing but acknowledge each record
drains the same backlog as `bench.capacity` (each incident reported, then closed) from a fresh topic.

`python -m bench.faust_floor [--incidents 20000]` prints records/s over the middle 80 % of the drain
and the incidents/s that means (two records each): the most any faust worker configured like the
dispatcher could handle on this machine, before doing any of the dispatcher's work.
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

from bench.capacity import backlog
from services.common.kafka import new_producer
from services.common.topics import delete_topics


async def _prepare(bootstrap: str, topic: str, incidents: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 8, 1)])
    finally:
        await admin.close()
    producer = new_producer(bootstrap, client_id=topic)
    await producer.start()
    try:
        pending = [await producer.send(topic, value, key=key) for key, value in backlog(incidents, 7, topic)]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def measure(bootstrap: str, incidents: int, timeout_s: float = 300.0) -> dict[str, float]:
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
        }
        log = Path(tmp) / "worker.log"
        command = [sys.executable, "-m", "faust", "-A", "bench.faust_floor_app", "--datadir", tmp]
        with log.open("wb") as errors:  # the child has its own copy of the descriptor
            worker = subprocess.Popen(
                [*command, "worker", "-l", "warn"], env=env, stdout=subprocess.DEVNULL, stderr=errors
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
    asyncio.run(delete_topics(bootstrap, topic))  # the topic is its own (unique) prefix
    out["incidents_per_s"] = round(out["records_per_s"] / 2, 1)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faust_floor", description=__doc__)
    parser.add_argument("--incidents", type=int, default=20_000)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.bootstrap, args.incidents)))


if __name__ == "__main__":
    main()
