"""Waiting on a condition in a test (never on the wall clock alone)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def eventually(
    check: Callable[[], Any], timeout_s: float = 20.0, what: str = "condition", every_s: float = 0.1
) -> Any:
    """Poll an (a)sync check every `every_s` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")
