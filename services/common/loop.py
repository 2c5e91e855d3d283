"""The event loop a service runs on.

`SIGAP_EVENT_LOOP=uvloop` (the default) runs the service's asyncio loop — and every loop it makes
later, such as faust's consumer thread — on uvloop (libuv), whose scheduling, transports and timers
are compiled; `asyncio` keeps the standard library's loop (for debugging with asyncio's own tools)."""

from __future__ import annotations

import asyncio
import logging
import os

log = logging.getLogger(__name__)

CHOICES = ("uvloop", "asyncio")


def install_event_loop(environ: dict[str, str] | None = None) -> str:
    """Set the event loop policy named by `SIGAP_EVENT_LOOP`; call before anything makes a loop.
    Returns the name installed. An unknown name is an error, not a silent fallback."""
    choice = (environ if environ is not None else os.environ).get("SIGAP_EVENT_LOOP", "uvloop").strip()
    if choice not in CHOICES:
        raise ValueError(f"SIGAP_EVENT_LOOP must be one of {', '.join(CHOICES)}, not {choice!r}")
    if choice == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return choice
