"""The clock the services read and the one tests move (`services/common/clock.py`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.common.clock import ManualClock, system_clock

T0 = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)


def test_the_system_clock_is_aware_utc_and_moves() -> None:
    first = system_clock()
    assert first.tzinfo is UTC
    assert system_clock() >= first


def test_a_manual_clock_stands_still_until_moved() -> None:
    clock = ManualClock(T0)
    assert clock() == clock() == T0
    assert clock.advance(90) == T0 + timedelta(seconds=90)
    assert clock.advance(timedelta(hours=8)) == T0 + timedelta(hours=8, seconds=90)
    assert clock() == T0 + timedelta(hours=8, seconds=90)
    assert clock.set(T0 + timedelta(days=1)) == T0 + timedelta(days=1)


def test_a_manual_clock_keeps_utc_and_never_goes_back() -> None:
    wib = timezone(timedelta(hours=7))
    clock = ManualClock(datetime(2026, 1, 15, 15, 0, tzinfo=wib))
    assert clock() == T0 and clock().tzinfo is UTC
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="cannot set"):
        clock.set(T0 - timedelta(seconds=1))
    with pytest.raises(ValueError, match="cannot set"):
        clock.set(datetime(2026, 2, 1))  # noqa: DTZ001 - a naive time is refused
    with pytest.raises(ValueError, match="time zone"):
        ManualClock(datetime(2026, 1, 15))  # noqa: DTZ001
    assert clock() == T0
