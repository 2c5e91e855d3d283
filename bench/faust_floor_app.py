"""The faust app of `bench.faust_floor`, configured as the dispatcher's app is (8 partitions, manual
acknowledgement, the same consumer and producer settings, the services' event loop and collector
thresholds). Run by `bench.faust_floor` as `python -m bench.faust_floor_app worker`; reads its topics,
the number of records, the mode and where to write its result from the environment.

Modes (`SIGAP_FLOOR_MODE`):
- `ack`: the agent only acknowledges each record — what faust's consumption costs;
- `io`: the agent does the dispatcher's input and output without any of its work. Records are taken
  in batches as the dispatcher takes them (whatever arrived, at most `SIGAP_FLOOR_BATCH`); for each
  record it sends, on an output topic, as many records of the same sizes as the dispatcher sends for
  that event (`SIGAP_FLOOR_OUTPUTS`: the sizes for a report, then for a close, in bytes), one faust
  `Producer.send` per record (the dispatcher now sends ready-made batches on its own aiokafka producer,
  `outputs.OwnProducerSender`: this floor is a per-record one until it does the same), and makes the
  dispatcher's two
  coalesced Redis round trips for the batch (`AutoPipelineRedis`) — one for the searches, one for the
  saves — with a command per record whose reply (a search's rows) or value (a save's state and view)
  is of the same size; then it waits for the
  broker's acknowledgements and acknowledges the batch. What is left between this floor and the
  dispatcher's drain is its work;
- `io-per-record`: the same as `io` (the dispatcher's outputs are sent one `send` per record since
  aiokafka's ready-made batches, reachable only through faust's private `_ensure_producer()`, were
  retired).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from services.common.heap import tune_collector
from services.common.loop import install_event_loop

install_event_loop()  # before faust makes its loops, as the services do (`SIGAP_EVENT_LOOP`)
tune_collector()

import faust  # noqa: E402 - after the event loop policy is set
from redis.asyncio import BlockingConnectionPool  # noqa: E402

from services.common.autopipe import AutoPipelineRedis, coalescing  # noqa: E402

TOPIC = os.environ.get("SIGAP_FLOOR_TOPIC", "sigap-floor")
RECORDS = int(os.environ.get("SIGAP_FLOOR_RECORDS", "0"))
RESULT = Path(os.environ.get("SIGAP_FLOOR_RESULT", "floor.json"))
MODE = os.environ.get("SIGAP_FLOOR_MODE", "ack")
BATCH = int(os.environ.get("SIGAP_FLOOR_BATCH", "256"))
REDIS_URL = os.environ.get("SIGAP_FLOOR_REDIS", "redis://127.0.0.1:6379/0")
OUTPUTS: list[list[int]] = json.loads(os.environ.get("SIGAP_FLOOR_OUTPUTS", "[[],[]]"))
"""output record sizes per event, alternating: the incident's report, then its close"""
SEARCH_REPLY_BYTES, SAVE_BYTES = 3000, 3000
"""the sizes of the stand-ins for a search's reply (the rows of ~8 candidates, each with its profile)
and a save's state and view"""

app = faust.App(
    f"{TOPIC}-floor",
    broker=os.environ.get("SIGAP_FLOOR_BROKER", "kafka://127.0.0.1:9092"),
    store="memory://",
    autodiscover=False,
    web_enabled=False,
    topic_partitions=8,
    consumer_auto_offset_reset="earliest",
    broker_commit_interval=1.0,
    broker_max_poll_records=500,
    producer_acks=-1,
    producer_linger=0.0,
    stream_buffer_maxsize=1024,
    logging_config=None,
)
topic = app.topic(TOPIC, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


class _Progress:
    """Records handled, and when the 10 % and 90 % marks were passed."""

    def __init__(self) -> None:
        self.seen = 0
        self.marks: dict[str, float] = {}
        self.first, self.last = RECORDS // 10, RECORDS * 9 // 10

    def count(self, n: int) -> None:
        before, self.seen = self.seen, self.seen + n
        for name, level in (("first", self.first), ("last", self.last)):
            if before < level <= self.seen:
                self.marks[name] = time.monotonic()
        if self.seen >= RECORDS:
            span = self.marks["last"] - self.marks["first"]
            rate = (self.last - self.first) / span
            RESULT.write_text(json.dumps({"records": RECORDS, "records_per_s": round(rate, 1), "mode": MODE}))
            os._exit(0)


@app.agent(topic)
async def floor(stream: Any) -> None:
    manual = stream.noack()
    progress = _Progress()
    if MODE == "ack":
        async for event in manual.events():
            await manual.ack(event)
            progress.count(1)
        return
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=BATCH + 32, decode_responses=True)
    redis = AutoPipelineRedis(connection_pool=pool)  # as the dispatcher's
    out = f"{TOPIC}.out"
    bodies = [[b"x" * size for size in sizes] for sizes in OUTPUTS]
    save = "v" * SAVE_BYTES
    await redis.mset({f"{TOPIC}:s:{n}": "s" * SEARCH_REPLY_BYTES for n in range(64)})
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def handle(events: list[Any]) -> None:
        with coalescing():  # as the dispatcher's batch: one pipeline per round trip
            await asyncio.gather(*(redis.get(f"{TOPIC}:s:{i % 64}") for i in range(len(events))))
        outbound: list[tuple[str, bytes | None, bytes]] = []
        for event in events:
            kind = event.message.offset % 2  # reports sit at even offsets, closes at odd (the backlog)
            outbound.extend((out, event.message.key, body) for body in bodies[kind])
        pending = [await app.producer.send(t, k, v, None, None, None) for t, k, v in outbound]
        await asyncio.gather(*pending)
        with coalescing():
            await asyncio.gather(*(redis.set(f"{TOPIC}:v:{i % 64}", save) for i in range(len(events))))
        for event in events:
            await manual.ack(event)
        progress.count(len(events))

    async def batches() -> None:
        while True:
            events = [await queue.get()]
            while len(events) < BATCH and not queue.empty():
                events.append(queue.get_nowait())
            await handle(events)

    worker = asyncio.create_task(batches())
    try:
        async for event in manual.events():
            await queue.put(event)
    finally:
        worker.cancel()


if __name__ == "__main__":
    app.main()
