"""The faust app of `bench.faust_floor`: one agent that only acknowledges, configured as the dispatcher's
app is (8 partitions, manual acknowledgement, the same consumer settings). Run by `bench.faust_floor`
as `python -m faust -A bench.faust_floor_app worker`; reads its topic, the number of records and where
to write its result from the environment."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import faust

TOPIC = os.environ.get("SIGAP_FLOOR_TOPIC", "sigap-floor")
RECORDS = int(os.environ.get("SIGAP_FLOOR_RECORDS", "0"))
RESULT = Path(os.environ.get("SIGAP_FLOOR_RESULT", "floor.json"))

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
    stream_buffer_maxsize=1024,
    logging_config=None,
)
topic = app.topic(TOPIC, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


@app.agent(topic)
async def acknowledge(stream: Any) -> None:
    manual = stream.noack()
    seen, marks = 0, {}
    first, last = RECORDS // 10, RECORDS * 9 // 10
    async for event in manual.events():
        seen += 1
        if seen in (first, last):
            marks[seen] = time.monotonic()
        await manual.ack(event)
        if seen == RECORDS:
            rate = (last - first) / (marks[last] - marks[first])
            RESULT.write_text(json.dumps({"records": RECORDS, "records_per_s": round(rate, 1)}))
            os._exit(0)
