"""The pure parts of the `sigap` commands: needs and kelurahan on the command line, the incident bodies
posted, topic names, what `tail` prints, which dead letters `replay` sends back, times in WIB."""

from __future__ import annotations

import argparse
import base64
import json
from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord

from schemas.envelope import make_event
from schemas.events import DeadLetter, IncidentCancelled, VolunteerRegistered
from services.cli import build_parser
from services.cli.api import local_key
from services.cli.console import CliError, wib
from services.cli.demo import flood_body
from services.cli.incidents import incident_body, kelurahan_code, parse_need
from services.cli.kafka import partitions_of, topic_names
from services.cli.replay import replayable_letters
from services.cli.tail import record_line, summarise
from services.common.config import Settings
from services.common.topics import TOPICS
from tests.integration.gateway.conftest import MANISRENGGO, profile

AT = datetime(2026, 11, 28, 2, 5, 9, 250000, tzinfo=UTC)


def record(
    value: bytes | None, offset: int = 0, key: bytes | None = None, topic: str = "t.incidents"
) -> ConsumerRecord:
    return ConsumerRecord(
        topic=topic,
        partition=2,
        offset=offset,
        timestamp=int(AT.timestamp() * 1000),
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value or b""),
        headers=(),
    )


def test_needs_on_the_command_line() -> None:
    assert parse_need("tagana:3") == {"unit": "tagana", "skill": None, "count": 3}
    assert parse_need("tagana:water_rescue:2") == {"unit": "tagana", "skill": "water_rescue", "count": 2}
    assert parse_need("trc::1") == {"unit": "trc", "skill": None, "count": 1}
    with pytest.raises(CliError, match="expected unit:count or unit:skill:count"):
        parse_need("tagana")
    with pytest.raises(CliError, match="the count must be a number"):
        parse_need("tagana:dua")


def test_kelurahan_by_name_in_any_case_or_by_code() -> None:
    assert kelurahan_code("Manisrenggo") == MANISRENGGO
    assert kelurahan_code("  manisrenggo ") == MANISRENGGO
    assert kelurahan_code(MANISRENGGO) == MANISRENGGO
    with pytest.raises(CliError, match="unknown kelurahan 'Atlantis'"):
        kelurahan_code("Atlantis")


def post_args(*options: str) -> argparse.Namespace:
    return build_parser().parse_args(["incident", "post", "--type", "fire", "--severity", "minor", *options])


def test_the_incident_body_takes_the_kelurahan_centroid_unless_a_location_is_given() -> None:
    body = incident_body(
        post_args("--title", "Kebakaran", "--kelurahan", "Manisrenggo", "--need", "tagana:1")
    )
    assert body["kelurahan_code"] == MANISRENGGO
    assert body["location"]["lat"] == pytest.approx(-7.8508, abs=1e-3)
    assert body["needs"] == [{"unit": "tagana", "skill": None, "count": 1}]
    assert body["description"] == "" and "affected_people" not in body
    moved = incident_body(
        post_args("--title", "x", "--kelurahan", MANISRENGGO, "--lat", "-7.8", "--affected", "9")
    )
    assert moved["location"]["lat"] == -7.8 and moved["location"]["lon"] == pytest.approx(112.0076, abs=1e-3)
    assert moved["affected_people"] == 9 and "needs" not in moved
    free = incident_body(post_args("--title", "x", "--lat", "-7.8", "--lon", "112.0"))
    assert free["location"] == {"lat": -7.8, "lon": 112.0} and "kelurahan_code" not in free


def test_the_demo_posts_a_severe_flood_in_manisrenggo() -> None:
    body = flood_body(None)
    assert (body["type"], body["severity"], body["affected_people"]) == ("flood", "severe", 120)
    assert body["title"] == "Banjir luapan Sungai Brantas di Manisrenggo" and "needs" not in body
    assert flood_body(["tagana:evacuation:4"])["needs"] == [
        {"unit": "tagana", "skill": "evacuation", "count": 4}
    ]


def test_topic_names_short_or_prefixed() -> None:
    settings = Settings(topic_prefix="t9.")
    assert topic_names(settings, ["incidents", "t9.responses"]) == ["t9.incidents", "t9.responses"]
    assert topic_names(settings, None) == [f"t9.{t.name}" for t in TOPICS]
    with pytest.raises(CliError, match="unknown topic 'orders'"):
        topic_names(settings, ["orders"])


def test_partitions_from_the_admin_clients_description() -> None:
    described = [
        {
            "error_code": 0,
            "topic": "t.incidents",
            "partitions": [{"partition": 2}, {"partition": 0}, {"partition": 1}],
        },
        {"error_code": 3, "topic": "t.gone", "partitions": []},
    ]
    assert partitions_of(described, "t.incidents") == [0, 1, 2]
    assert partitions_of(described, "t.gone") == []
    assert partitions_of(described, "t.responses") == []


def test_tail_lines() -> None:
    cancelled = make_event(IncidentCancelled(incident_id="INC-1", reason="salah lapor"), source="t").to_json()
    assert summarise(cancelled) == ("incident.cancelled", "incident_id=INC-1 reason=salah lapor")
    assert summarise(None) == ("(tombstone)", "")
    assert summarise(b"{oops")[0] == "(invalid)"
    registered = make_event(VolunteerRegistered(profile=profile("V-7")), source="t").to_json()
    event_type, summary = summarise(registered)
    assert event_type == "volunteer.registered" and summary.startswith("volunteer_id=V-7 name=Siti Rahayu")
    line = record_line(record(cancelled, offset=4, key=b"INC-1"), "t.", as_json=False)
    assert (
        line == "02:05:09.250 incidents      incident.cancelled         incident_id=INC-1 reason=salah lapor"
    )
    whole = json.loads(record_line(record(cancelled, offset=4, key=b"INC-1"), "t.", as_json=True))
    assert {k: whole[k] for k in ("topic", "partition", "offset", "key")} == {
        "topic": "incidents",
        "partition": 2,
        "offset": 4,
        "key": "INC-1",
    }
    assert whole["value"]["payload"]["incident_id"] == "INC-1"
    assert json.loads(record_line(record(None), "t.", as_json=True))["value"] is None


def letter(original: bytes, event_type: str | None = "incident.cancelled") -> bytes:
    dead = DeadLetter(
        topic="t.incidents",
        key="INC-1",
        reason="the consumer crashed",
        original_base64=base64.b64encode(original).decode(),
        original_event_type=event_type,
    )
    return make_event(dead, source="t").to_json()


def test_which_dead_letters_are_sent_back(capsys: pytest.CaptureFixture[str]) -> None:
    good = make_event(IncidentCancelled(incident_id="INC-1"), source="t").to_json()
    records = [
        record(letter(good), 0),
        record(letter(b"{oops", None), 1),
        record(good, 2),  # not a dead letter: skipped
        record(letter(good, "incident.reported"), 3),
        record(letter(good), 4),
    ]
    chosen = replayable_letters(records, event_type=None, everything=False, limit=None)
    assert [(offset, original) for offset, _, original in chosen] == [(0, good), (3, good), (4, good)]
    assert "skip offset 1: still invalid" in capsys.readouterr().err
    assert [o for o, _, _ in replayable_letters(records, event_type=None, everything=True, limit=None)] == [
        0,
        1,
        3,
        4,
    ]
    only = replayable_letters(records, event_type="incident.cancelled", everything=False, limit=None)
    assert [o for o, _, _ in only] == [0, 4]
    assert [o for o, _, _ in replayable_letters(records, event_type=None, everything=True, limit=2)] == [0, 1]


def test_times_in_wib() -> None:
    assert wib("2026-11-28T02:05:09Z") == "28 Nov 09:05 WIB"
    assert wib("2026-11-28T20:05:09+00:00", seconds=True) == "03:05:09"
    assert wib(None) == "-" and wib("") == "-"


def test_the_local_stack_lends_its_keys_and_nothing_else_does() -> None:
    keys = "operator:op-key-1234,admin:ad-key-1234"
    assert local_key(Settings(env="local", api_keys=keys), "admin") == "ad-key-1234"
    assert local_key(Settings(env="local", api_keys=keys), "coordinator") is None
    assert local_key(Settings(env="test", api_keys=keys), "operator") is None
