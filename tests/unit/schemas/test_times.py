"""`schemas.times`: one WIB, one reader of the times the services write into Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.times import WIB, parse_time
from services.dispatcher.roster import iso

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def test_wib_is_utc_plus_seven_and_named() -> None:
    assert NOW.astimezone(WIB).hour == 9
    assert NOW.astimezone(WIB).tzname() == "WIB"


@pytest.mark.parametrize(
    "text",
    [
        iso(NOW),  # what the dispatcher writes
        "2026-11-28T02:00:00Z",
        "2026-11-28T09:00:00+07:00",
        "2026-11-28T02:00:00",  # no offset: UTC
        str(NOW.timestamp()),
        "1795831200",
    ],
)
def test_every_written_form_reads_as_the_same_utc_moment(text: str) -> None:
    moment = parse_time(text)
    assert moment == NOW
    assert moment is not None and moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", [None, "", "yesterday", "2026-13-01T00:00:00Z", "1e400", "nan"])
def test_absent_or_unreadable_is_none(text: str | None) -> None:
    assert parse_time(text) is None


def test_a_round_trip_through_iso_keeps_microseconds() -> None:
    moment = NOW.replace(microsecond=123456)
    assert parse_time(iso(moment)) == moment
