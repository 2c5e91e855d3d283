"""Small pure parts of the gateway: the board's incident form, roster views, error details, SSE frames,
log redaction."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from schemas.vocabulary import VolunteerStatus
from services.gateway.__main__ import RedactTokens
from services.gateway.errors import field_errors
from services.gateway.reads import RosterEntry, volunteer_view
from services.gateway.routes.board import incident_from_form
from services.gateway.routes.stream import sse
from tests.integration.gateway.conftest import MANISRENGGO, profile

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def test_board_form_uses_the_kelurahan_centroid_and_needs_rows() -> None:
    body = incident_from_form(
        {"type": "flood", "severity": "minor", "title": "Banjir kecil", "kelurahan_code": MANISRENGGO},
        [("tagana", "evacuation", "3"), ("", "", "1"), ("trc", "", "")],
    )
    assert body.location.lat == pytest.approx(-7.8508, abs=1e-3)
    assert body.needs is not None
    assert [(n.unit.value, n.skill, n.count) for n in body.needs] == [
        ("tagana", "evacuation", 3),
        ("trc", None, 1),
    ]


def test_board_form_without_needs_and_with_a_typed_location() -> None:
    body = incident_from_form(
        {"type": "fire", "severity": "severe", "title": "Kebakaran", "lat": "-7.81", "lon": "112.01"}, []
    )
    assert body.needs is None and body.kelurahan_code is None
    with pytest.raises(ValidationError) as caught:
        incident_from_form({"type": "fire", "severity": "severe", "title": "Kebakaran"}, [])
    assert {d["field"] for d in field_errors(caught.value.errors())} == {"location.lat", "location.lon"}


def test_volunteer_view_reads_the_roster_hash() -> None:
    entry = RosterEntry(
        profile("V-1"),
        {
            "status": "offered",
            "offer_id": "of-1",
            "incident_id": "INC-1",
            "deployments": json.dumps([(NOW - timedelta(days=d)).isoformat() for d in (1, 10, 40)]),
            "last_deployed_at": (NOW - timedelta(days=1)).isoformat(),
        },
    )
    view = volunteer_view(entry, NOW)
    assert view.status == VolunteerStatus.OFFERED
    assert (view.active_incident_id, view.active_offer_id) == ("INC-1", "of-1")
    assert view.deployments_30d == 2
    off = volunteer_view(RosterEntry(profile("V-2", on_duty=False), {}), NOW)
    assert off.status == VolunteerStatus.OFF_DUTY
    assert off.deployments_30d == 0


def test_field_errors_name_fields_without_inputs() -> None:
    details = field_errors(
        [
            {"loc": ("body", "location", "lat"), "msg": "too big", "type": "less_than_equal", "input": 999},
            {"loc": ("query", "status"), "msg": "bad", "type": "enum"},
        ]
    )
    assert details == [
        {"field": "location.lat", "location": "body", "message": "too big", "type": "less_than_equal"},
        {"field": "status", "location": "query", "message": "bad", "type": "enum"},
    ]


def test_sse_frames_are_single_line() -> None:
    frame = sse('{\n "kind": "incident",\n "id": "INC-1"\n}')
    assert frame == 'event: change\ndata: {"kind":"incident","id":"INC-1"}\n\n'
    assert "unknown" in sse("not json")


def test_access_log_never_shows_a_whole_token() -> None:
    token = "eyJrIjoib2ZmZXIiLCJ2IjoiVi0wMDEifQ.abcdefghijklmnop"
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s"',
        ("1.2.3.4", "GET", f"/r/{token}?done=accept"),
        None,
    )
    RedactTokens().filter(record)
    assert isinstance(record.args, tuple)
    assert token not in record.args[2]
    assert record.args[2].startswith("/r/eyJrIj…")


def test_status_labels_the_board_shows_are_their_own() -> None:
    from schemas.vocabulary import AssignmentStatus, IncidentStatus, NotificationKind

    # `offered` and `understaffed` are values of two enums each; each keeps its own label
    assert AssignmentStatus.OFFERED.label == "Menunggu jawaban"
    assert VolunteerStatus.OFFERED.label == "Sedang dipanggil"
    assert IncidentStatus.UNDERSTAFFED.label == "Kurang personel"
    assert NotificationKind.UNDERSTAFFED.label == "Peringatan kurang personel"
