"""The event loop a service runs on.

`SIGAP_EVENT_LOOP=uvloop` (the default) runs the service's asyncio loop — and every loop it makes
later, such as faust's consumer thread — on uvloop (libuv), whose scheduling, transports and timers
are compiled; `asyncio` keeps the standard library's loop (for debugging with asyncio's own tools).

Sigap needs Python 3.12: 3.11's `asyncio.wait_for` loses a cancellation that arrives while the awaited
operation completes (CPython gh-86296, fixed in 3.12 by rewriting it over `asyncio.timeout`), and
redis-py wraps every command it sends in `wait_for` when a socket timeout is set, as ours are: on 3.11
a task cancelled during a Redis call — a stopping loop, an agent at a rebalance or shutdown — went on
running about once in ten tries, which hung a benchmark run's teardown. `tests/unit/test_loop.py`
shows the interpreter's `wait_for` keeps such a cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

CHOICES = ("uvloop", "asyncio")

T = TypeVar("T")


async def run_to_end(aw: Awaitable[T]) -> T:
    """Await a short cleanup to its end even if the caller is cancelled (again) meanwhile — giving a
    claim back while stopping, say: faust cancels an agent's task more than once on its way down, and
    a second cancellation must not cut the cleanup the first one started. A cancellation that arrived
    meanwhile is raised once the cleanup is done."""
    task = asyncio.ensure_future(aw)
    interrupted = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            interrupted = True
    if interrupted:
        raise asyncio.CancelledError
    return task.result()


def install_event_loop(choice: str | None = None) -> str:
    """Set the event loop policy `choice` names (a service passes its settings' `event_loop`; None
    reads `SIGAP_EVENT_LOOP` through the shared settings); call before anything makes a loop.
    Returns the name installed. An unknown name is an error, not a silent fallback."""
    if choice is None:
        from services.common.base_settings import common_settings

        choice = common_settings().event_loop
    choice = choice.strip()
    if choice not in CHOICES:
        raise ValueError(f"SIGAP_EVENT_LOOP must be one of {', '.join(CHOICES)}, not {choice!r}")
    if choice == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return choice
