"""`sigap roster import|export|rebuild` and `sigap demo-roster load`: the roster as CSV, produced to
the `volunteers` topic (the system of record) or read from the dispatcher's view of it in Redis."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from services.cli.console import EXIT_FAILED, err, fail, progress
from services.cli.kafka import producer
from services.common.config import Settings, get_settings
from services.common.readmodels import Keys
from services.common.redis import redis_for
from services.common.topics import VOLUNTEERS
from services.dispatcher.volunteers import rebuild_roster
from services.gateway import demo_roster, roster_io
from services.gateway.reads import ReadModels

KnownIds = Callable[[list[str]], Awaitable[list[int | None]]]


def _now() -> datetime:
    return datetime.now(UTC)


@contextlib.asynccontextmanager
async def known_ids(settings: Settings) -> AsyncIterator[KnownIds]:
    """`known(ids)`: for each id None when not in the roster, else the volunteer's link generation
    (carried over, so an import never brings revoked self-service links back)."""
    redis = redis_for(settings, "gateway")  # reads the roster's read model, as the board does
    try:
        try:
            await redis.ping()
        except (RedisError, OSError) as exc:
            # without the roster, a known volunteer's link generation cannot be carried over: a revoked
            # self-service link would become valid again
            fail(f"Redis unreachable at {settings.redis_url} ({exc}); nothing sent")
        reads = ReadModels(redis, Keys(settings.redis_prefix), _now)

        async def known(ids: list[str]) -> list[int | None]:
            entries = {e.profile.volunteer_id: e for e in await reads.roster(ids)}
            return [entries[i].link_generation if i in entries else None for i in ids]

        yield known
    finally:
        await redis.aclose()


async def import_csv(args: argparse.Namespace) -> int:
    settings = get_settings()
    path = Path(args.file)
    try:
        text = sys.stdin.read() if args.file == "-" else await asyncio.to_thread(path.read_text, "utf-8-sig")
    except OSError as exc:
        fail(f"cannot read {args.file}: {exc}")
    parsed = roster_io.parse_csv(text.splitlines())
    total = len(parsed.profiles) + len(parsed.rejected)
    err(f"{args.file}: {total} row(s), {len(parsed.profiles)} valid, {len(parsed.rejected)} rejected")
    for row in parsed.rejected:
        err(f"  line {row.line}{' (' + row.volunteer_id + ')' if row.volunteer_id else ''}:")
        for message in row.errors:
            err(f"      {message}")
    if args.dry_run or not parsed.profiles:
        err("dry run: nothing sent" if args.dry_run else "nothing to send")
        return EXIT_FAILED if parsed.rejected else 0
    profiles = [p for _, p in parsed.profiles]
    async with known_ids(settings) as known, producer(settings) as client:
        registered, updated = await roster_io.produce_profiles(
            client,
            settings.topic(VOLUNTEERS),
            profiles,
            known=known,
            batch_size=args.batch_size,
            progress=progress if len(profiles) > args.batch_size else None,
        )
    print(
        f"imported {len(profiles)}: {registered} registered, {updated} updated; "
        f"{len(parsed.rejected)} rejected"
    )
    return EXIT_FAILED if parsed.rejected else 0


async def export_csv(args: argparse.Namespace) -> int:
    settings = get_settings()
    redis = redis_for(settings, "gateway")  # reads the roster's read model, as the board does
    try:
        entries = await ReadModels(redis, Keys(settings.redis_prefix), _now).roster()
    except Exception as exc:
        fail(f"cannot read the roster from Redis at {settings.redis_url}: {exc}")
    finally:
        await redis.aclose()
    text = "".join(roster_io.write_csv(e.profile for e in entries))
    if args.file == "-":
        sys.stdout.write(text)
    else:
        await asyncio.to_thread(Path(args.file).write_text, text, "utf-8")
    err(f"exported {len(entries)} volunteer(s) to {args.file}")
    return 0


async def rebuild(args: argparse.Namespace) -> int:
    settings = get_settings()
    err(f"rebuilding the roster in Redis from {settings.topic(VOLUNTEERS)}…")
    applied = await rebuild_roster(settings)
    print(f"roster rebuilt: {applied}")
    return 0


async def load_demo(args: argparse.Namespace) -> int:
    settings = get_settings()
    profiles = demo_roster.profiles(date.today())  # noqa: DTZ011 - the local day sets certificate dates
    async with known_ids(settings) as known:
        if not args.force:
            flags = await known([p.volunteer_id for p in profiles])
            fresh = [p for p, generation in zip(profiles, flags, strict=True) if generation is None]
            if not fresh:
                print(f"demo roster already loaded ({len(profiles)} volunteers); --force reloads it")
                return 0
            profiles = fresh
        async with producer(settings) as client:
            registered, updated = await roster_io.produce_profiles(
                client, settings.topic(VOLUNTEERS), profiles, known=known
            )
    by_unit = Counter(u.label.split(" (")[0] for p in profiles for u in p.units)
    elements = ", ".join(f"{n} {name}" for name, n in by_unit.most_common())
    print(
        f"demo roster: {len(profiles)} volunteers sent ({registered} new, {updated} updated; "
        f"{elements}; {sum(len(p.units) > 1 for p in profiles)} of them in two units)"
    )
    return 0


def add_parsers(sub: Any) -> None:
    roster = sub.add_parser("roster", help="import or export the roster (CSV), rebuild it in Redis")
    actions = roster.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = actions.add_parser("import", help="validate a CSV and produce its volunteers to Kafka")
    imp.add_argument("file", help="CSV file ('-' for stdin); columns: " + ",".join(roster_io.COLUMNS))
    imp.add_argument("--dry-run", action="store_true", help="validate only")
    imp.add_argument("--batch-size", type=int, default=500)
    imp.set_defaults(coro=import_csv)
    exp = actions.add_parser("export", help="write the roster held in Redis as CSV")
    exp.add_argument("file", help="CSV file ('-' for stdout)")
    exp.set_defaults(coro=export_csv)
    rebuilding = actions.add_parser("rebuild", help="rebuild the roster in Redis from the volunteers topic")
    rebuilding.set_defaults(coro=rebuild)
    demo = sub.add_parser("demo-roster", help="the demo volunteers of Kota Kediri")
    demo_actions = demo.add_subparsers(dest="action", required=True, metavar="ACTION")
    load = demo_actions.add_parser("load", help="produce the demo roster (skips volunteers already loaded)")
    load.add_argument("--force", action="store_true", help="send every volunteer again")
    load.set_defaults(coro=load_demo)
