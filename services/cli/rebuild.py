"""`sigap rebuild`: all of Redis that can be rebuilt from the topics, after a Redis loss (DESIGN.md §1):
the dispatcher's keys (the workers pause while that runs), then the notifier's outbox and sender index."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from services.cli.console import err, fail
from services.common.config import get_settings
from services.common.redis import redis_for
from services.dispatcher.rebuild import rebuild, wait_for_generation
from services.dispatcher.runcards import RunCardError, load_runcards
from services.dispatcher.settings import get_dispatcher_settings
from services.notifier.rebuild import rebuild_notifier


async def rebuild_all(args: argparse.Namespace) -> int:
    settings = get_settings()
    try:
        runcards = load_runcards(
            Path(args.runcards) if args.runcards else get_dispatcher_settings().runcards_file
        )
    except RunCardError as exc:
        fail(str(exc))
    err(f"rebuilding the dispatcher's Redis ({settings.redis_prefix!r}) from {settings.topic_prefix}*")
    report = await rebuild(settings, runcards)
    if report is None:
        err("another rebuild is under way (a worker found Redis empty); waiting for it")
        redis = redis_for(settings, "dispatcher")  # its generation marker
        try:
            generation = await wait_for_generation(redis, settings.redis_prefix)
        finally:
            await redis.aclose()
        print(f"rebuilt by another process: generation {generation}")
    else:
        print(f"rebuilt: {report.summary()}")
        if report.double_booked:
            err(f"warning: the log shows volunteers with two holds: {', '.join(report.double_booked)}")
    err(
        f"rebuilding the notifier's outbox and sender index from {settings.topic_prefix}deliveries"
        " and notifications"
    )
    outbox, senders = await rebuild_notifier(settings)
    print(
        f"outbox rebuilt: {outbox.messages} messages"
        f" ({outbox.missing_requests} without their request, {outbox.undecodable} undecodable records)"
    )
    print(f"sender index rebuilt: {senders.senders} addresses ({senders.expired} expired, left out)")
    return 0


def add_parsers(sub: Any) -> None:
    parser = sub.add_parser(
        "rebuild",
        help="rebuild the dispatcher's Redis and the notifier's outbox and sender index from the topics "
        "(after a Redis loss); workers pause while it runs",
    )
    parser.add_argument("--runcards", help="run-card file (default: the dispatcher's)")
    parser.set_defaults(coro=rebuild_all)
