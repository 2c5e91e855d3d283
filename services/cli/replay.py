"""`sigap replay dead-letters | topic NAME`: re-produce records, dead letters onto the topic they came
from (the original bytes, so consumers dedupe by event id), or a range of a topic onto it or another."""

from __future__ import annotations

import argparse
import asyncio
import base64
from typing import Any

from schemas.envelope import InvalidEvent, decode_event
from schemas.events import DeadLetter
from services.cli.console import err
from services.cli.kafka import producer, read_range, topic_names
from services.cli.tail import summarise
from services.common.config import get_settings
from services.common.topics import DEAD_LETTERS


def replayable_letters(
    records: list[Any], *, event_type: str | None, everything: bool, limit: int | None
) -> list[tuple[int, DeadLetter, bytes]]:
    """`(offset, letter, original bytes)` of the dead letters to send back: those of `event_type` (all
    when None) whose original now passes validation (all with `everything`), at most `limit`."""
    replayable = []
    for record in records:
        try:
            event = decode_event(record.value)
        except InvalidEvent:
            continue
        if not isinstance(event.payload, DeadLetter):
            continue
        letter = event.payload
        original = base64.b64decode(letter.original_base64)
        if event_type and letter.original_event_type != event_type:
            continue
        try:
            decode_event(original)
            valid = True
        except InvalidEvent as exc:
            valid = False
            reason = exc.reason
        if not valid and not everything:
            err(f"  skip offset {record.offset}: still invalid ({reason[:120]})")
            continue
        replayable.append((record.offset, letter, original))
        if limit and len(replayable) >= limit:
            break
    return replayable


async def dead_letters(args: argparse.Namespace) -> int:
    settings = get_settings()
    records = await read_range(settings, settings.topic(DEAD_LETTERS), None, args.from_offset, None)
    replayable = replayable_letters(
        records, event_type=args.event_type, everything=args.all, limit=args.limit
    )
    err(f"{len(records)} dead letter(s) read, {len(replayable)} to replay")
    if args.dry_run:
        for offset, letter, _ in replayable:
            print(
                f"  would replay dead letter {offset} → {letter.topic}"
                f" (key {letter.key}, {letter.original_event_type})"
            )
        return 0
    async with producer(settings) as client:
        for offset, letter, original in replayable:
            await client.send_and_wait(
                letter.topic, original, key=letter.key.encode() if letter.key else None
            )
            print(f"replayed dead letter {offset} → {letter.topic}")
    if replayable:
        err(f"next time, start after offset {replayable[-1][0]}: --from-offset {replayable[-1][0] + 1}")
    return 0


async def topic(args: argparse.Namespace) -> int:
    settings = get_settings()
    source = topic_names(settings, [args.topic])[0]
    target = topic_names(settings, [args.to])[0] if args.to else source
    records = await read_range(settings, source, args.partition, args.start_offset, args.end_offset)
    err(f"{len(records)} record(s) from {source} → {target}")
    if args.dry_run:
        for r in records:
            print(f"  would replay {r.partition}:{r.offset} {summarise(r.value)[0]}")
        return 0
    async with producer(settings) as client:
        futures = [await client.send(target, r.value, key=r.key) for r in records]
        await asyncio.gather(*futures)
    print(f"replayed {len(records)} record(s) onto {target}")
    return 0


def add_parsers(sub: Any) -> None:
    replay = sub.add_parser("replay", help="re-produce dead letters or a range of a topic")
    actions = replay.add_subparsers(dest="action", required=True, metavar="ACTION")
    dead = actions.add_parser("dead-letters", help="send dead letters back to the topic they came from")
    dead.add_argument("--all", action="store_true", help="also those that still fail validation")
    dead.add_argument("--event-type", help="only dead letters of this event type")
    dead.add_argument("--from-offset", type=int, help="start at this dead-letters offset")
    dead.add_argument("--limit", type=int)
    dead.add_argument("--dry-run", action="store_true")
    dead.set_defaults(coro=dead_letters)
    ranged = actions.add_parser("topic", help="re-produce a range of a topic (onto it or another)")
    ranged.add_argument("topic")
    ranged.add_argument("--to", help="target topic (default: the same)")
    ranged.add_argument("--partition", type=int)
    ranged.add_argument("--start-offset", type=int)
    ranged.add_argument("--end-offset", type=int, help="exclusive")
    ranged.add_argument("--dry-run", action="store_true")
    ranged.set_defaults(coro=topic)
