"""Retry timing: exponential backoff with jitter, and `Retry-After` (seconds or an HTTP date)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from services.notifier.errors import DeliveryError

MAX_RETRY_AFTER_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    base_s: float = 0.5
    max_s: float = 30.0
    max_attempts: int = 4

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The pause after failed attempt number `attempt` (1-based): "equal jitter", so the pause grows
        with every attempt yet workers that failed together do not retry together."""
        ceiling = min(self.max_s, self.base_s * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    def delay_after(self, error: DeliveryError, attempt: int, rng: random.Random) -> float:
        """A provider's own `Retry-After` wins over our backoff; it is honoured exactly, never shortened."""
        if error.retry_after is not None:
            return error.retry_after
        return self.delay(attempt, rng)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from an HTTP `Retry-After` value: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
    None when absent or unreadable; a date in the past means 0."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # the asctime form carries no zone: HTTP dates are always GMT
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)
