"""Where the services read the time: a `Clock` is called for "now" (an aware UTC datetime).

The workers run on `system_clock`; tests give them a `ManualClock` and move it, so a rule that waits
(an offer's deadline, a rest after a long deployment) is crossed by advancing the clock, never by
waiting it out. The pure core never reads a clock: its callers pass `now` in.

Any `() -> datetime` is a `Clock` (the gateway's `clock=` arguments are the same shape).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> datetime:
        """Now, as an aware UTC datetime."""
        ...


def system_clock() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until it is moved: `advance` by a duration, or `set` to an instant
    (never backwards: the services treat time as monotonic). Thread-safe, as a worker's web handler
    may move it while its agents read it."""

    def __init__(self, start: datetime | None = None) -> None:
        at = start or system_clock()
        if at.tzinfo is None:
            raise ValueError("a ManualClock keeps aware UTC time; start has no time zone")
        self._now = at.astimezone(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, by: timedelta | float) -> datetime:
        """Move forward by `by` (a timedelta or seconds); return the new now."""
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        if step < timedelta(0):
            raise ValueError(f"a clock does not go back ({step})")
        with self._lock:
            self._now += step
            return self._now

    def set(self, at: datetime) -> datetime:
        """Move forward to `at`; return the new now."""
        with self._lock:
            if at.tzinfo is None or at < self._now:
                raise ValueError(f"cannot set the clock from {self._now.isoformat()} to {at.isoformat()}")
            self._now = at.astimezone(UTC)
            return self._now
