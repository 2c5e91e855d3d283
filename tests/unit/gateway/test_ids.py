"""Incident ids: readable, dated in WIB, sortable by time, unique within a millisecond."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from services.gateway.ids import new_incident_id, new_volunteer_id

PATTERN = re.compile(r"^INC-(\d{8})-([0-9A-HJKMNP-TV-Z]{8})$")


def test_format_and_wib_date() -> None:
    # 18:30 UTC on the 27th is 01:30 WIB on the 28th: the ops room's date
    ident = new_incident_id(datetime(2026, 11, 27, 18, 30, tzinfo=UTC))
    match = PATTERN.match(ident)
    assert match
    assert match.group(1) == "20261128"


def test_ids_sort_by_time_within_a_day() -> None:
    start = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    ids = [new_incident_id(start + timedelta(milliseconds=137 * i), random_bits=8191 - i) for i in range(200)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_same_millisecond_differs_by_the_random_part() -> None:
    now = datetime(2026, 11, 28, 3, 4, 5, 6000, tzinfo=UTC)
    assert new_incident_id(now, random_bits=1) != new_incident_id(now, random_bits=2)
    assert len({new_incident_id(now) for _ in range(200)}) > 190


def test_volunteer_ids() -> None:
    ident = new_volunteer_id()
    assert re.fullmatch(r"V-[0-9A-Z]{8}", ident)
