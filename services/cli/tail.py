"""`sigap tail`: one line per event on Sigap's topics (or whole records as JSON lines)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer

from schemas.envelope import InvalidEvent, decode_event
from services.cli.console import err
from services.cli.kafka import topic_names
from services.common.config import Settings, get_settings
from services.common.kafka import security_options


def summarise(raw: bytes | None) -> tuple[str, str]:
    """`(event_type, one-line summary)` of a record value."""
    if raw is None:
        return "(tombstone)", ""
    try:
        event = decode_event(raw)
    except InvalidEvent as exc:
        return "(invalid)", exc.reason[:200]
    payload = event.payload.model_dump(mode="json")
    if "profile" in payload:
        profile = payload.pop("profile")
        payload = {"volunteer_id": profile["volunteer_id"], "name": profile["name"], **payload}
    parts = []
    for key, value in payload.items():
        if isinstance(value, str | int | float | bool) and value not in ("", None) and len(str(value)) <= 60:
            parts.append(f"{key}={value}")
        if len(parts) == 6:
            break
    return event.event_type, " ".join(parts)


def tail_consumer(settings: Settings, topics: list[str], earliest: bool) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if earliest else "latest",
        client_id="sigap-cli-tail",
        **security_options(settings),
    )


def record_line(record: Any, prefix: str, as_json: bool) -> str:
    """What `sigap tail` prints for one record."""
    short = record.topic.removeprefix(prefix)
    if as_json:
        return json.dumps(
            {
                "topic": short,
                "partition": record.partition,
                "offset": record.offset,
                "key": record.key.decode() if record.key else None,
                "value": json.loads(record.value) if record.value else None,
            }
        )
    event_type, summary = summarise(record.value)
    at = datetime.fromtimestamp(record.timestamp / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
    return f"{at} {short:<14} {event_type:<26} {summary}"


async def tail(args: argparse.Namespace) -> int:
    settings = get_settings()
    topics = topic_names(settings, args.topic)
    consumer = tail_consumer(settings, topics, args.from_beginning)
    await consumer.start()
    seen = 0
    try:
        err(
            f"tailing {', '.join(topics)} {'from the beginning' if args.from_beginning else 'from now'}"
            " (Ctrl-C stops)"
        )
        async for record in consumer:
            print(record_line(record, settings.topic_prefix, args.json), flush=True)
            seen += 1
            if args.count and seen >= args.count:
                break
    finally:
        await consumer.stop()
    return 0


def add_parsers(sub: Any) -> None:
    parser = sub.add_parser("tail", help="print one line per event on Sigap's topics")
    parser.add_argument("--from-beginning", action="store_true")
    parser.add_argument("--topic", action="append", help="only this topic (repeatable)")
    parser.add_argument("--count", type=int, help="stop after this many events")
    parser.add_argument("--json", action="store_true", help="whole records as JSON lines")
    parser.set_defaults(coro=tail)
