"""The event loop a service runs on.

`SIGAP_EVENT_LOOP=uvloop` (the default) runs the service's asyncio loop — and every loop it makes
later, such as faust's consumer thread — on uvloop (libuv), whose scheduling, transports and timers
are compiled; `asyncio` keeps the standard library's loop (for debugging with asyncio's own tools).

Either way, on Python 3.11 `asyncio.wait_for` is replaced by Python 3.12's (`mend_wait_for`). 3.11's
loses a cancellation that arrives while the awaited operation completes (CPython gh-86296, fixed in
3.12 by rewriting it over `asyncio.timeout`), and redis-py wraps every command it sends in
`wait_for` when a socket timeout is set, as ours are: a task cancelled during a Redis call — a stopping
loop, an agent at a rebalance or shutdown — went on running about once in ten tries (measured with a
polling loop cancelled at random moments). That is what hung a benchmark run's teardown."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import Any, TypeVar

CHOICES = ("uvloop", "asyncio")

T = TypeVar("T")

STOCK_WAIT_FOR = asyncio.tasks.wait_for
"""the interpreter's own, kept for the tests that show what the mend is for"""


async def wait_for_312(fut: Awaitable[T], timeout: float | None) -> T:  # noqa: ASYNC109 - its signature
    """Python 3.12's `asyncio.wait_for`: the awaitable runs in the calling task under
    `asyncio.timeout`, so a cancellation of the caller is never mistaken for completion (and no
    extra task is made per call)."""
    if timeout is not None and timeout <= 0:
        task = asyncio.ensure_future(fut)
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.wait({task})
        try:
            return task.result()
        except asyncio.CancelledError as exc:
            raise TimeoutError from exc
    async with asyncio.timeout(timeout):
        return await fut


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


def mend_wait_for() -> bool:
    """Replace `asyncio.wait_for` by `wait_for_312` where it is 3.11's; True if it did."""
    if sys.version_info >= (3, 12) or asyncio.wait_for is wait_for_312:
        return False
    patched: Any = wait_for_312
    asyncio.wait_for = patched
    asyncio.tasks.wait_for = patched
    return True


def install_event_loop(choice: str | None = None) -> str:
    """Set the event loop policy `choice` names (a service passes its settings' `event_loop`; None
    reads `SIGAP_EVENT_LOOP` through the shared settings) and mend `asyncio.wait_for`; call before
    anything makes a loop. Returns the name installed. An unknown name is an error, not a silent
    fallback."""
    mend_wait_for()
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
