"""The envelope: every event type round-trips; bad records are refused with the failing field."""

from __future__ import annotations

import json

import pytest

from schemas.envelope import EVENT_TYPES, InvalidEvent, decode_event, make_event
from schemas.jsonschema import stale_files
from tests.support.samples import sample_payloads


def test_every_event_type_has_a_sample() -> None:
    assert {p.EVENT_TYPE for p in sample_payloads()} == set(EVENT_TYPES)


@pytest.mark.parametrize("payload", sample_payloads(), ids=lambda p: p.EVENT_TYPE)
def test_every_event_round_trips_through_json(payload) -> None:  # type: ignore[no-untyped-def]
    event = make_event(payload, source="test", correlation_id="INC-1")
    decoded = decode_event(event.to_json())
    assert decoded == event
    assert type(decoded.payload) is type(payload)
    assert json.loads(event.to_json())["occurred_at"].endswith("Z")


def test_unknown_event_type_is_refused() -> None:
    raw = json.loads(make_event(sample_payloads()[0], source="t").to_json())
    raw["event_type"] = "incident.exploded"
    with pytest.raises(InvalidEvent, match="unknown event type"):
        decode_event(json.dumps(raw))


def test_bad_payload_names_the_field() -> None:
    raw = json.loads(make_event(sample_payloads()[0], source="t").to_json())
    raw["payload"]["severity"] = "catastrophic"
    with pytest.raises(InvalidEvent) as info:
        decode_event(json.dumps(raw))
    assert info.value.reason.startswith("payload.severity:")
    assert info.value.event_type == "incident.reported"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"not json", "(root)"),
        (b'{"event_type": "incident.reported"}', "event_id"),
        (b"[]", "(root)"),
    ],
)
def test_broken_envelopes_are_refused(raw: bytes, field: str) -> None:
    with pytest.raises(InvalidEvent, match=r"\(root\)|" + field):
        decode_event(raw)


def test_newer_schema_version_is_refused() -> None:
    raw = json.loads(make_event(sample_payloads()[0], source="t").to_json())
    raw["schema_version"] = 99
    with pytest.raises(InvalidEvent, match="schema_version"):
        decode_event(json.dumps(raw))


def test_json_schema_files_are_fresh() -> None:
    assert stale_files() == [], "run `make schemas` and commit schemas/json/"
