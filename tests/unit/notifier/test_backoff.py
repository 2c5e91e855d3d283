"""Retry timing: exponential backoff with jitter, and Retry-After in both of its forms."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from services.notifier.backoff import BackoffPolicy, parse_retry_after
from services.notifier.errors import RateLimited, ServerError

NOW = datetime(2026, 3, 1, 19, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5", 5.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("Sun, 01 Mar 2026 19:00:30 GMT", 30.0),  # IMF-fixdate
        ("Sunday, 01-Mar-26 19:00:45 GMT", 45.0),  # obsolete RFC 850 form
        ("Sun Mar  1 19:01:00 2026", 60.0),  # obsolete asctime form (GMT by definition)
        ("Sun, 01 Mar 2026 18:59:00 GMT", 0.0),  # a date in the past: go now
        ("-3", 0.0),
    ],
)
def test_retry_after_forms(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "inf", "Mon, 99 Foo 2026"])
def test_unreadable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


def test_absurd_retry_after_is_capped() -> None:
    assert parse_retry_after("99999999", NOW) == 24 * 3600.0


def test_backoff_grows_exponentially_with_jitter_within_bounds() -> None:
    policy = BackoffPolicy(base_s=0.5, max_s=8.0, max_attempts=10)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (9, 8.0)]:
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not synchronised


def test_retry_after_wins_over_backoff_and_is_never_shortened() -> None:
    policy = BackoffPolicy(base_s=0.5, max_s=8.0)
    rng = random.Random(1)
    assert policy.delay_after(RateLimited("429", retry_after=42.0), 1, rng) == 42.0
    assert policy.delay_after(RateLimited("429", retry_after=0.0), 3, rng) == 0.0
    assert 0.25 <= policy.delay_after(ServerError("503"), 1, rng) <= 0.5
