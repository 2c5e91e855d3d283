"""The ceiling: a bare aiokafka relay through the same number of topic hops as Sigap's real path.

The real path of a first offer is gateway → [incidents] → dispatcher → [notifications] → notifier: two
topic hops with one relay in the middle. The ceiling replaces each service by the least it could do: the
source produces a real serialized `incident.reported` envelope (acks=all, idempotent, as the gateway's
producer), each relay process consumes a record and produces the next hop's real envelope
(`notification.requested`) under the same key, and the sink consumes the last topic. Nothing is decoded,
validated or stored. Its p99 at the bench's comparison rate and its blast throughput are what Sigap's
figures are divided by.

`python -m bench.ceiling relay --src T --dst T --group G --payload FILE` runs one relay process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.offers import stop_task
from bench.stats import summarise_ms
from schemas.envelope import make_event
from schemas.events import (
    ChannelAddress,
    IncidentReported,
    MessageContext,
    Need,
    NotificationRequested,
    Recipient,
)
from schemas.fields import GeoPoint, utcnow
from schemas.vocabulary import ChannelType, IncidentType, NotificationKind, Severity, Unit
from services.common.kafka import new_producer
from services.common.links import LinkClaims, response_url, sign
from services.common.loop import install_event_loop

log = logging.getLogger(__name__)

PARTITIONS = 8  # as `incidents` and `notifications`
MANISRENGGO = "35.71.02.1015"


def real_payloads() -> list[bytes]:
    """The serialized envelopes of the real path, one per hop: an incident as the gateway produces it and
    the offer notification the dispatcher produces for it."""
    incident_id = "INC-20261128-7QK2M9XA"
    offer_id = "OF-5c1f0e9b2a7d4c3e"
    where = GeoPoint(lat=-7.8163, lon=111.9987)
    incident = make_event(
        IncidentReported(
            incident_id=incident_id,
            type=IncidentType.FLOOD,
            severity=Severity.MINOR,
            title="Banjir genangan di Kelurahan Manisrenggo (bench)",
            location=where,
            kelurahan_code=MANISRENGGO,
            affected_people=40,
            needs=[Need(unit=Unit.TAGANA, count=1)],
            reported_by="operator",
        ),
        source="gateway",
        correlation_id=incident_id,
    )
    expires = utcnow() + timedelta(minutes=10)
    token = sign(
        LinkClaims(
            kind="offer",
            volunteer_id="BV-000123",
            expires_at=expires,
            offer_id=offer_id,
            incident_id=incident_id,
        ),
        "x" * 32,
    )
    notification = make_event(
        NotificationRequested(
            notification_id=f"N-{offer_id}",
            kind=NotificationKind.OFFER,
            recipient=Recipient(
                volunteer_id="BV-000123",
                name="Siti Aminah",
                channels=[ChannelAddress(type=ChannelType.WHATSAPP, address="+6281100000123")],
            ),
            deadline=expires,
            incident_id=incident_id,
            offer_id=offer_id,
            context=MessageContext(
                incident_id=incident_id,
                incident_type=IncidentType.FLOOD,
                severity=Severity.MINOR,
                title="Banjir genangan di Kelurahan Manisrenggo (bench)",
                kelurahan_code=MANISRENGGO,
                location=where,
                unit=Unit.TAGANA,
                response_url=response_url("http://127.0.0.1:8080", token),
                open_slots=1,
            ),
        ),
        source="dispatcher",
        correlation_id=incident_id,
    )
    return [incident.to_json(), notification.to_json()]


# --- the relay process --------------------------------------------------------------------------


async def relay(bootstrap: str, src: str, dst: str, group: str, payload: bytes) -> None:
    """Consume `src`, produce `payload` to `dst` under each record's key, until SIGTERM."""
    consumer = AIOKafkaConsumer(
        src, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest", client_id=group
    )
    producer = new_producer(bootstrap, client_id=group)
    await producer.start()
    await consumer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            futures = [
                await producer.send(dst, payload, key=record.key)
                for records in batches.values()
                for record in records
            ]
            if futures:
                await asyncio.gather(*futures)
    finally:
        await consumer.stop()
        await producer.stop()


# --- the measurement ------------------------------------------------------------------------------


@dataclass
class _Sink:
    received: dict[bytes, float] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


async def _sink(consumer: AIOKafkaConsumer, sink: _Sink) -> None:
    while True:
        batches = await consumer.getmany(timeout_ms=200, max_records=1000)
        now = time.perf_counter()
        for records in batches.values():
            for record in records:
                if record.key is not None:
                    sink.received.setdefault(record.key, now)
        if batches:
            sink.arrived.set()


async def _wait_for(sink: _Sink, keys: list[bytes], timeout_s: float) -> bool:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if all(k in sink.received for k in keys):
            return True
        sink.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sink.arrived.wait(), 0.5)
    return all(k in sink.received for k in keys)


async def _open_loop(
    producer: AIOKafkaProducer,
    topic: str,
    payload: bytes,
    tag: str,
    *,
    rate: float,
    duration_s: float,
    acked: dict[bytes, float] | None = None,
) -> dict[bytes, float]:
    """Send at a fixed rate, each send awaiting its ack in its own task (as a gateway request does);
    the time of each send, and in `acked` of each acknowledgement (where the gateway answers 202)."""
    sent: dict[bytes, float] = {}
    tasks: set[asyncio.Task[Any]] = set()
    count = int(rate * duration_s)
    start = time.perf_counter() + 0.05
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        key = f"{tag}{i:08d}".encode()
        sent[key] = time.perf_counter()
        task = asyncio.create_task(producer.send_and_wait(topic, payload, key=key))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        if acked is not None:
            task.add_done_callback(lambda t, k=key: acked.__setitem__(k, time.perf_counter()))
    if tasks:
        await asyncio.gather(*tasks)
    return sent


async def _start_relays(
    bootstrap: str, prefix: str, topics: list[str], payloads: list[bytes], logs_dir: Path
) -> list[asyncio.subprocess.Process]:
    tmp = Path(tempfile.mkdtemp(prefix="sigap-ceiling-"))
    relays = []
    for k in range(len(topics) - 1):
        payload_file = tmp / f"hop{k + 1}.json"
        payload_file.write_bytes(payloads[k + 1])
        with (logs_dir / f"ceiling-relay-{k}.log").open("ab") as log_file:
            relays.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bench.ceiling",
                    "relay",
                    "--bootstrap",
                    bootstrap,
                    "--src",
                    topics[k],
                    "--dst",
                    topics[k + 1],
                    "--group",
                    f"{prefix}ceiling-relay-{k}",
                    "--payload",
                    str(payload_file),
                    stdout=log_file,
                    stderr=asyncio.subprocess.STDOUT,
                )
            )
    return relays


async def _blast(
    producer: AIOKafkaProducer, sink: _Sink, topic: str, payload: bytes, count: int
) -> dict[str, Any]:
    """`count` records as fast as the source can produce them; msgs/s from first send to last arrival."""
    keys = [f"blast{i:08d}".encode() for i in range(count)]
    started = time.perf_counter()
    futures = [await producer.send(topic, payload, key=k) for k in keys]
    await asyncio.gather(*futures)
    complete = await _wait_for(sink, keys, 120)
    arrivals = [sink.received[k] for k in keys if k in sink.received]
    finished = max(arrivals, default=started)
    rate = len(arrivals) / (finished - started) if finished > started else None
    return {
        "blast_sent": count,
        "blast_received": len(arrivals),
        "blast_complete": complete,
        "msgs_per_s": round(rate, 1) if rate else None,
    }


async def measure(
    bootstrap: str,
    prefix: str,
    *,
    hops: int,
    rate: float,
    duration_s: float,
    blast_count: int,
    logs_dir: Path,
) -> dict[str, Any]:
    """Run the relay through `hops` topics: p99 at `rate`/s for `duration_s`, then `blast_count` records
    as fast as they go (msgs/s end to end)."""
    payloads = real_payloads()
    while len(payloads) < hops:
        payloads.append(payloads[-1])
    topics = [f"{prefix}ceiling-{k}" for k in range(hops)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    relays: list[asyncio.subprocess.Process] = []
    consumer: AIOKafkaConsumer | None = None
    sink_task: asyncio.Task[None] | None = None
    producer = new_producer(bootstrap, client_id=f"{prefix}ceiling-source")
    try:
        await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in topics])
        relays.extend(await _start_relays(bootstrap, prefix, topics, payloads, logs_dir))
        consumer = AIOKafkaConsumer(
            topics[-1],
            bootstrap_servers=bootstrap,
            group_id=f"{prefix}ceiling-sink",
            auto_offset_reset="earliest",
        )
        await producer.start()
        await consumer.start()
        sink = _Sink()
        sink_task = asyncio.create_task(_sink(consumer, sink))

        warm = await _open_loop(producer, topics[0], payloads[0], "warm", rate=20, duration_s=1.0)
        if not await _wait_for(sink, list(warm), 90):
            raise RuntimeError("the ceiling relay did not pass warm-up records within 90 s")

        acked: dict[bytes, float] = {}
        sent = await _open_loop(
            producer, topics[0], payloads[0], "lat", rate=rate, duration_s=duration_s, acked=acked
        )
        await _wait_for(sink, list(sent), 30)
        latencies = [sink.received[k] - t for k, t in sent.items() if k in sink.received]
        latency = summarise_ms(latencies)
        from_ack = summarise_ms([sink.received[k] - t for k, t in acked.items() if k in sink.received])

        blast = await _blast(producer, sink, topics[0], payloads[0], blast_count)
        return {
            "hops": hops,
            "rate_per_s": rate,
            "duration_s": duration_s,
            "sent": len(sent),
            "received": len(latencies),
            **{k: latency[k] for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")},
            # from the first record's acknowledgement: what Sigap's latency from the gateway's 202 is
            # compared with (both start once the broker has the first record)
            "from_ack": {k: from_ack[k] for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")},
            **blast,
            "payload_bytes": [len(p) for p in payloads[:hops]],
        }
    finally:
        if sink_task is not None:
            await stop_task(sink_task, "the ceiling's sink")
        if consumer is not None:
            await consumer.stop()
        await producer.stop()
        for proc in relays:
            if proc.returncode is None:
                proc.terminate()
        for proc in relays:
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
        with contextlib.suppress(Exception):
            await admin.delete_topics(topics)
        await admin.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("relay", help="one relay process")
    r.add_argument("--bootstrap", default="127.0.0.1:9092")
    r.add_argument("--src", required=True)
    r.add_argument("--dst", required=True)
    r.add_argument("--group", required=True)
    r.add_argument("--payload", required=True, type=Path)
    m = sub.add_parser("measure", help="measure the ceiling alone")
    m.add_argument("--bootstrap", default="127.0.0.1:9092")
    m.add_argument("--hops", type=int, default=2)
    m.add_argument("--rate", type=float, default=50)
    m.add_argument("--duration", type=float, default=10)
    m.add_argument("--blast", type=int, default=20000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_event_loop()  # the relays run on the services' event loop, so the ratio compares like with like
    if args.command == "relay":
        asyncio.run(relay(args.bootstrap, args.src, args.dst, args.group, args.payload.read_bytes()))
    else:
        import json
        import uuid

        result = asyncio.run(
            measure(
                args.bootstrap,
                f"bench.{uuid.uuid4().hex[:8]}.",
                hops=args.hops,
                rate=args.rate,
                duration_s=args.duration,
                blast_count=args.blast,
                logs_dir=Path(tempfile.gettempdir()),
            )
        )
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
