"""Kota Kediri's time zone and the one reader of the times Sigap writes into Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

WIB_OFFSET_S = 7 * 3600
WIB = timezone(timedelta(seconds=WIB_OFFSET_S), "WIB")
"""Waktu Indonesia Barat (UTC+7): what people in Kota Kediri read, and the local date of a rule (a
certification's `expires_on`, a report's day)."""


def parse_time(value: str | None) -> datetime | None:
    """A time as the services write it into Redis hashes and JSON lists — ISO 8601 (the dispatcher's
    `roster.iso`) or unix seconds — in UTC; a time without an offset is UTC. None when absent or
    unreadable: these are read models, and one bad field must not fail the whole read."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)  # the roster's hot path: ISO first, nothing else
    except ValueError:
        try:  # unix seconds: ten digits, which no Python reads as an ISO date
            return datetime.fromtimestamp(float(value), UTC)
        except (ValueError, OverflowError, OSError):
            return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
