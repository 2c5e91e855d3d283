"""What a volunteer's link and the ops room may do with an offer, by its status (DESIGN.md §2, §3.5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.times import parse_time
from schemas.vocabulary import AssignmentStatus as A
from services.gateway.commands import allowed_actions
from services.gateway.reads import OfferRef

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def ref(status: A, expires_in_s: float = 120) -> OfferRef:
    return OfferRef("of-1", "INC-1", "V-001", status, NOW + timedelta(seconds=expires_in_s))


@pytest.mark.parametrize(
    ("status", "link", "ops_room"),
    [
        (A.OFFERED, {"accept", "decline"}, {"accept", "decline"}),
        (A.ACCEPTED, {"en_route", "on_scene", "released"}, set()),
        (A.EN_ROUTE, {"on_scene", "released"}, set()),
        (A.ON_SCENE, {"released"}, set()),
        (A.RELEASED, set(), set()),
        (A.DECLINED, set(), {"accept"}),  # a late yes, recorded by the ops room (rule 5)
        (A.EXPIRED, set(), {"accept"}),
        (A.WITHDRAWN, set(), set()),
    ],
)
def test_allowed_actions(status: A, link: set[str], ops_room: set[str]) -> None:
    assert set(allowed_actions(ref(status), NOW.timestamp())) == link
    assert set(allowed_actions(ref(status), NOW.timestamp(), "ops_room")) == ops_room


def test_a_link_cannot_answer_after_the_deadline_even_before_the_dispatcher_expires_it() -> None:
    late = ref(A.OFFERED, expires_in_s=-1)
    assert allowed_actions(late, NOW.timestamp()) == ()
    assert set(allowed_actions(late, NOW.timestamp(), "ops_room")) == {"accept", "decline"}


def test_parse_time_reads_iso_and_unix() -> None:
    assert parse_time("2026-11-28T02:00:00Z") == NOW
    assert parse_time("2026-11-28T02:00:00.000000Z") == NOW
    assert parse_time(str(NOW.timestamp())) == NOW
    assert parse_time("") is None
    assert parse_time("yesterday") is None
