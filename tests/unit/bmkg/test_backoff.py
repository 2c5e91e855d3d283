"""The pollers' wait between polls: the interval when healthy, exponential backoff with jitter after
failures, never beyond the ceiling, Retry-After honoured."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.gateway.bmkg.poller import Validators, backoff_delay


def test_healthy_feed_waits_the_interval() -> None:
    assert backoff_delay(0, interval_s=60, max_s=600, rand=lambda: 0.99) == 60


@pytest.mark.parametrize(("failures", "ceiling"), [(1, 120), (2, 240), (3, 480), (4, 600), (40, 600)])
def test_failures_double_the_wait_up_to_the_ceiling(failures: int, ceiling: float) -> None:
    low = backoff_delay(failures, interval_s=60, max_s=600, rand=lambda: 0.0)
    high = backoff_delay(failures, interval_s=60, max_s=600, rand=lambda: 1.0)
    assert low == max(60, ceiling / 2)
    assert high == ceiling


def test_jitter_spreads_the_waits() -> None:
    def fixed(value: float) -> Callable[[], float]:
        return lambda: value

    waits = {backoff_delay(3, interval_s=1, max_s=100, rand=fixed(r / 10)) for r in range(10)}
    assert len(waits) == 10
    assert all(4 <= w <= 8 for w in waits)


def test_retry_after_is_honoured_within_the_ceiling() -> None:
    assert backoff_delay(1, interval_s=1, max_s=600, retry_after_s=120, rand=lambda: 0) == 120
    assert backoff_delay(1, interval_s=1, max_s=60, retry_after_s=3600, rand=lambda: 0) == 60


def test_validators_become_conditional_headers() -> None:
    assert Validators().headers() == {}
    assert Validators('"abc"', "Sat, 28 Nov 2026 09:00:00 GMT").headers() == {
        "If-None-Match": '"abc"',
        "If-Modified-Since": "Sat, 28 Nov 2026 09:00:00 GMT",
    }
