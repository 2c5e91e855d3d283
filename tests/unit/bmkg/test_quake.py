"""Earthquake feeds (JSON and XML) and when a quake concerns Kota Kediri."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from schemas.envelope import decode_event, make_event
from schemas.events import WeatherAlertIssued
from schemas.reference import all_kelurahan
from services.gateway.bmkg.area import city_centre
from services.gateway.bmkg.errors import QuakeError
from services.gateway.bmkg.outcome import Ignored, Produce
from services.gateway.bmkg.quake import (
    Quake,
    QuakeRules,
    assess_quake,
    distance_km,
    parse_quake,
    parse_quake_json,
    parse_quake_xml,
)
from tests.unit.bmkg.documents import AUTOGEMPA, AUTOGEMPA_XML, GEMPATERKINI, quake_json, read

NOW = datetime(2026, 9, 23, 13, 0, tzinfo=UTC)


def test_autogempa_capture() -> None:
    feed = parse_quake_json(read(AUTOGEMPA))

    assert feed.rejected == ()
    (quake,) = feed.quakes
    assert quake.time == datetime(2026, 9, 23, 12, 16, 56, tzinfo=UTC)
    assert quake.alert_id == "gempa-20260923T121656Z"
    assert quake.magnitude == 1.8
    assert (quake.lat, quake.lon) == (-8.51, 123.27)
    assert quake.depth_km == 12.0
    assert quake.felt == "II-III Kab. Lembata"
    assert quake.shakemap == "20260923191656.mmi.jpg"
    assert quake.region == "Pusat gempa berada di darat 24 km barat daya Lembata"


def test_gempaterkini_capture_entries_lack_dirasakan_and_shakemap() -> None:
    feed = parse_quake_json(read(GEMPATERKINI))

    assert [q.magnitude for q in feed.quakes] == [5.2, 5.3]
    assert [q.felt for q in feed.quakes] == ["", ""]
    assert [q.shakemap for q in feed.quakes] == ["", ""]
    assert feed.quakes[0].lat == 4.74  # "LU": north
    assert feed.quakes[1].potential == "Tidak berpotensi tsunami"


def test_xml_form_gives_the_same_quake() -> None:
    from_xml = parse_quake_xml(read(AUTOGEMPA_XML)).quakes
    assert from_xml == parse_quake_json(read(AUTOGEMPA)).quakes
    assert parse_quake(read(AUTOGEMPA_XML)).quakes == from_xml  # sniffed


def test_xml_list_and_lintang_bujur_fallback() -> None:
    doc = (
        "<Infogempa>"
        "<gempa><DateTime>2026-09-21T23:48:13+00:00</DateTime><Lintang>4.74 LU</Lintang>"
        "<Bujur>125.30 BT</Bujur><Magnitude>5.2</Magnitude></gempa>"
        "<gempa><DateTime>2026-09-21T07:31:07+00:00</DateTime><point><coordinates>-0.70,122.45</coordinates>"
        "</point><Magnitude>5.3</Magnitude></gempa>"
        "<gempa><DateTime>2026-09-21T07:31:07+00:00</DateTime></gempa>"
        "</Infogempa>"
    )
    feed = parse_quake_xml(doc)
    assert [(q.lat, q.lon) for q in feed.quakes] == [(4.74, 125.30), (-0.70, 122.45)]
    assert feed.rejected == ("entry 3: Magnitude is missing",)


def _quake(magnitude: float, km_south: float, felt: str = "", hours_ago: float = 0.5) -> Quake:
    lat, lon = city_centre()
    return Quake(
        time=NOW - timedelta(hours=hours_ago),
        magnitude=magnitude,
        lat=lat - km_south / 111.2,
        lon=lon,
        depth_km=10.0,
        region="Pusat gempa berada di laut",
        felt=felt,
    )


@pytest.mark.parametrize(
    ("magnitude", "km", "felt", "relevant"),
    [
        (5.0, 100, "", True),  # at the threshold, near
        (5.5, 149, "", True),
        (5.5, 160, "", False),  # too far for M5.5
        (4.9, 50, "", False),  # too weak
        (6.2, 250, "", True),  # the stronger rule reaches further
        (6.2, 320, "", False),
        (7.5, 400, "", False),
        (3.1, 600, "III Kediri, II Blitar", True),  # felt in Kediri, whatever the numbers
        (3.1, 600, "II-III Kab. Kediri", True),
        (3.1, 600, "II Kediriharjo", False),  # a word boundary, not a substring
        (3.1, 600, "II-III Blitar", False),
    ],
)
def test_relevance_rule(magnitude: float, km: float, felt: str, relevant: bool) -> None:
    quake = _quake(magnitude, km, felt)
    assert abs(distance_km(quake) - km) < 1.0
    outcome = assess_quake(quake, now=NOW)
    assert isinstance(outcome, Produce) is relevant, outcome


def test_relevant_quake_is_city_wide_and_carries_its_numbers() -> None:
    outcome = assess_quake(_quake(5.6, 90, "III Kediri"), now=NOW)

    assert isinstance(outcome, Produce)
    payload = outcome.payload
    assert isinstance(payload, WeatherAlertIssued)
    assert payload.kind == "earthquake"
    assert sorted(payload.affected_kelurahan) == sorted(all_kelurahan())
    assert payload.affected_kecamatan == ["Mojoroto", "Kota", "Pesantren"]
    assert payload.magnitude == 5.6
    assert payload.depth_km == 10.0
    assert payload.distance_km is not None and abs(payload.distance_km - 90) < 1
    assert payload.epicentre is not None
    assert payload.felt == "III Kediri"
    assert payload.severity == "Moderate"
    assert payload.expires == payload.sent + timedelta(hours=6)
    assert "90 km dari Kota Kediri" in payload.headline
    assert decode_event(make_event(payload, source="test").to_json()).payload == payload


def test_old_quakes_are_not_alerted() -> None:
    outcome = assess_quake(_quake(6.5, 50, hours_ago=7), now=NOW)
    assert isinstance(outcome, Ignored)
    assert outcome.code == "expired"


def test_thresholds_are_configurable() -> None:
    strict = QuakeRules(min_magnitude=6.0, max_distance_km=50, strong_magnitude=7.0, strong_distance_km=100)
    assert isinstance(assess_quake(_quake(5.5, 40), now=NOW, rules=strict), Ignored)
    assert isinstance(assess_quake(_quake(6.1, 40), now=NOW, rules=strict), Produce)
    assert isinstance(assess_quake(_quake(6.9, 90), now=NOW, rules=strict), Ignored)


def test_generated_document_round_trips() -> None:
    (quake,) = parse_quake_json(quake_json(NOW, lat=-8.3, lon=112.0, magnitude=5.4, felt="III Kediri")).quakes
    assert quake.time == NOW
    assert quake.felt == "III Kediri"


# --- broken feeds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (read(AUTOGEMPA)[:-20], "not_json"),  # truncated
        (b"", "not_json"),
        (b"\xff\xfe{", "not_json"),
        (b"[" * 5000 + b"]" * 5000, "not_json"),  # deeper than orjson allows
        (b"[]", "invalid"),
        (b'{"Infogempa": []}', "invalid"),
        (b'{"Infogempa": {"gempa": "M5"}}', "invalid"),
        (b'{"Infogempa": {"gempa": 5}}', "invalid"),
        (b'{"Infogempa": {}}', "invalid"),
        (b'{"Infogempa": {"gempa": {"DateTime": "2026-09-23T12:16:56+00:00"}}}', "invalid"),
    ],
)
def test_broken_json_is_rejected(document: bytes, code: str) -> None:
    with pytest.raises(QuakeError) as caught:
        parse_quake_json(document)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"Magnitude": ["5.2"]}, "Magnitude is a list"),
        ({"Magnitude": "besar"}, "Magnitude 'besar' is not a number"),
        ({"Magnitude": "12.5"}, "outside"),
        ({"Magnitude": True}, "Magnitude is a bool"),
        ({"DateTime": None}, "DateTime is missing"),
        ({"DateTime": "kemarin"}, "not an ISO date-time"),
        ({"Coordinates": "4.74"}, "not 'lat,lon'"),
        ({"Coordinates": "94.74,125.30"}, "outside"),
        ({"Coordinates": None, "Lintang": "x", "Bujur": "y"}, "no usable position"),
        ({"Kedalaman": {"km": 10}}, "Kedalaman is a dict"),
    ],
)
def test_wrong_fields_reject_only_their_entry(change: dict[str, object], reason: str) -> None:
    entries = json.loads(read(GEMPATERKINI))["Infogempa"]["gempa"]
    entries[0].update(change)
    feed = parse_quake_json(json.dumps({"Infogempa": {"gempa": entries}}))
    assert len(feed.quakes) == 1
    assert feed.quakes[0].magnitude == 5.3
    assert len(feed.rejected) == 1
    assert feed.rejected[0].startswith("entry 1: ")
    assert reason in feed.rejected[0]


def test_autogempa_with_a_broken_entry_is_an_error() -> None:
    document = json.loads(read(AUTOGEMPA))
    document["Infogempa"]["gempa"]["Magnitude"] = None
    with pytest.raises(QuakeError, match="Magnitude is missing"):
        parse_quake_json(json.dumps(document))


def test_numbers_instead_of_strings_are_accepted() -> None:
    document = json.loads(read(AUTOGEMPA))
    document["Infogempa"]["gempa"]["Magnitude"] = 5.1
    (quake,) = parse_quake_json(json.dumps(document)).quakes
    assert quake.magnitude == 5.1


def test_size_limit_and_hostile_xml() -> None:
    with pytest.raises(QuakeError) as caught:
        parse_quake_json(read(GEMPATERKINI), max_bytes=100)
    assert caught.value.code == "too_large"
    with pytest.raises(QuakeError) as caught:
        parse_quake_xml(b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Infogempa>&e;</Infogempa>')
    assert caught.value.code == "forbidden_xml"
