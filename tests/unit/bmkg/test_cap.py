"""CAP 1.2 parsing and the Kota Kediri rule, on the shared captures and hand-written derivatives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.envelope import decode_event, make_event
from schemas.events import WeatherAlertCancelled, WeatherAlertIssued, WeatherAlertUpdated
from schemas.vocabulary import Language
from services.gateway.bmkg.cap import CAP_NAMESPACE, assess_cap, match_cap, parse_cap
from services.gateway.bmkg.errors import CapError
from services.gateway.bmkg.outcome import Ignored, Produce
from tests.unit.bmkg.documents import (
    GORONTALO,
    GORONTALO_ID,
    KEDIRI,
    KEDIRI_CANCEL,
    KEDIRI_CANCEL_ID,
    KEDIRI_EN,
    KEDIRI_ID,
    KEDIRI_UPDATE,
    KEDIRI_UPDATE_ID,
    KOTA,
    MOJOROTO,
    PESANTREN,
    codes_of,
    read,
)

DURING_KEDIRI = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)  # 16:00 WIB, inside 15:20–17:30 WIB
AFTER_KEDIRI = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)  # 17:30 WIB: the expiry itself
DURING_GORONTALO = datetime(2026, 9, 24, 8, 0, tzinfo=UTC)


def _assess(data: bytes, now: datetime, known: tuple[str, ...] = ()) -> Produce | Ignored:
    alert = parse_cap(data)
    return assess_cap(alert, match_cap(alert), now=now, known_alert_ids=known)


def _with(data: bytes, old: str, new: str) -> bytes:
    text = data.decode()
    assert old in text, old
    return text.replace(old, new).encode()


# --- the shared captures ----------------------------------------------------------------------


def test_gorontalo_capture_parses_and_concerns_nothing_in_kota_kediri() -> None:
    alert = parse_cap(read(GORONTALO))

    assert alert.identifier == GORONTALO_ID
    assert alert.msg_type == "Alert"
    assert alert.status == "Actual"
    assert alert.sent == datetime(2026, 9, 24, 7, 7, tzinfo=UTC)  # 15:07 WITA (+08:00)
    info = alert.primary
    assert info is not None
    assert (info.severity, info.urgency, info.certainty) == ("Moderate", "Immediate", "Observed")
    assert info.expires == datetime(2026, 9, 24, 9, 27, tzinfo=UTC)
    assert info.areas[0].description == "Gorontalo"
    assert len(info.areas[0].shapes) == 4
    assert alert.warnings == ()
    assert not match_cap(alert)

    outcome = assess_cap(alert, match_cap(alert), now=DURING_GORONTALO)
    assert outcome == Ignored(GORONTALO_ID, "elsewhere", "no Kota Kediri kelurahan affected")


def test_synthetic_kediri_warning_affects_exactly_the_29_mojoroto_and_pesantren_kelurahan() -> None:
    alert = parse_cap(read(KEDIRI))
    affected = match_cap(alert)

    assert list(affected.kelurahan) == codes_of(MOJOROTO, PESANTREN)
    assert len(affected.kelurahan) == 29
    assert not set(affected.kelurahan) & set(codes_of(KOTA))
    assert affected.kecamatan == ("Mojoroto", "Pesantren")


def test_kediri_warning_becomes_an_issued_event() -> None:
    outcome = _assess(read(KEDIRI), DURING_KEDIRI)

    assert isinstance(outcome, Produce)
    assert outcome.status == "issued"
    assert outcome.dedupe_key == f"{KEDIRI_ID}:Alert"
    payload = outcome.payload
    assert isinstance(payload, WeatherAlertIssued)
    assert payload.alert_id == KEDIRI_ID
    assert payload.kind == "cap"
    assert payload.language == Language.ID
    assert payload.event == "Hujan Lebat dan Petir"
    assert payload.headline == "Hujan Lebat disertai Petir di Jawa Timur"
    assert payload.severity == "Moderate"
    assert payload.urgency == "Immediate"
    assert payload.sent == datetime(2026, 1, 15, 8, 10, tzinfo=UTC)
    assert payload.effective == datetime(2026, 1, 15, 8, 20, tzinfo=UTC)
    assert payload.expires == datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
    assert payload.affected_kelurahan == codes_of(MOJOROTO, PESANTREN)
    assert payload.affected_kecamatan == ["Mojoroto", "Pesantren"]
    assert payload.references == []
    assert payload.web.startswith("https://nowcasting.bmkg.go.id/")

    # and it travels: the envelope round-trips through the strict decoder
    decoded = decode_event(make_event(payload, source="test").to_json())
    assert decoded.event_type == "weather_alert.issued"
    assert decoded.payload == payload


def test_expired_alert_is_ignored_with_its_expiry() -> None:
    outcome = _assess(read(KEDIRI), AFTER_KEDIRI)

    assert isinstance(outcome, Ignored)
    assert outcome.code == "expired"
    assert "2026-01-15T10:30:00+00:00" in outcome.reason


def test_english_document_has_the_same_identifier_and_area() -> None:
    indonesian, english = parse_cap(read(KEDIRI)), parse_cap(read(KEDIRI_EN))
    outcome = _assess(read(KEDIRI_EN), DURING_KEDIRI)

    assert english.identifier == indonesian.identifier
    assert isinstance(outcome, Produce)
    assert outcome.dedupe_key == f"{KEDIRI_ID}:Alert"  # so the second of the pair is a duplicate
    assert outcome.payload.language == Language.EN  # type: ignore[union-attr]
    assert outcome.payload.event == "Heavy Rain and Thunderstorm"  # type: ignore[union-attr]
    assert match_cap(english) == match_cap(indonesian)


@pytest.mark.parametrize(
    ("stamp", "utc"),
    [
        ("2026-01-15T15:10:00+07:00", datetime(2026, 1, 15, 8, 10, tzinfo=UTC)),  # WIB
        ("2026-01-15T16:10:00+08:00", datetime(2026, 1, 15, 8, 10, tzinfo=UTC)),  # WITA
        ("2026-01-15T17:10:00+09:00", datetime(2026, 1, 15, 8, 10, tzinfo=UTC)),  # WIT
        ("2026-01-15T08:10:00-00:00", datetime(2026, 1, 15, 8, 10, tzinfo=UTC)),  # CAP's UTC
        ("2026-01-15T03:10:00+07:00", datetime(2026, 1, 14, 20, 10, tzinfo=UTC)),  # across midnight
    ],
)
def test_local_offsets_become_utc(stamp: str, utc: datetime) -> None:
    alert = parse_cap(_with(read(KEDIRI), "<sent>2026-01-15T15:10:00+07:00</sent>", f"<sent>{stamp}</sent>"))
    assert alert.sent == utc
    assert alert.sent.tzinfo == UTC


@pytest.mark.parametrize(
    "stamp", ["2026-01-15T15:10:00", "2026-01-15", "kemarin sore", "2026-13-45T99:00:00+07:00"]
)
def test_times_without_offset_or_unreadable_are_rejected(stamp: str) -> None:
    with pytest.raises(CapError) as caught:
        parse_cap(_with(read(KEDIRI), "<sent>2026-01-15T15:10:00+07:00</sent>", f"<sent>{stamp}</sent>"))
    assert caught.value.code == "invalid"
    assert "<sent>" in caught.value.reason


# --- Update and Cancel ------------------------------------------------------------------------


def test_update_references_the_original_and_narrows_the_area() -> None:
    alert = parse_cap(read(KEDIRI_UPDATE))
    outcome = assess_cap(alert, match_cap(alert), now=DURING_KEDIRI, known_alert_ids={KEDIRI_ID})

    assert alert.references[0].sender == "cuaca.ekstrem@bmkg.go.id"
    assert alert.references[0].identifier == KEDIRI_ID
    assert alert.references[0].sent == "2026-01-15T15:10:00+07:00"
    assert isinstance(outcome, Produce)
    assert outcome.status == "updated"
    assert outcome.dedupe_key == f"{KEDIRI_UPDATE_ID}:Update"
    payload = outcome.payload
    assert isinstance(payload, WeatherAlertUpdated)
    assert payload.alert_id == KEDIRI_UPDATE_ID
    assert payload.references == [KEDIRI_ID]
    assert payload.severity == "Severe"
    assert payload.affected_kelurahan == codes_of(MOJOROTO)
    assert payload.affected_kecamatan == ["Mojoroto"]
    assert decode_event(make_event(payload, source="test").to_json()).event_type == "weather_alert.updated"


def test_update_that_leaves_the_city_cancels_the_known_alert() -> None:
    away = _with(
        read(KEDIRI_UPDATE),
        "-7.772,112.009 -7.787,112.002 -7.840,112.008 -7.840,111.987 -7.826,111.984 -7.823,111.958 "
        "-7.806,111.955 -7.794,111.981 -7.782,111.983 -7.784,111.993 -7.771,111.999 -7.772,112.009",
        "-7.5,112.5 -7.5,112.6 -7.6,112.6 -7.5,112.5",
    )
    known = _assess(away, DURING_KEDIRI, known=(KEDIRI_ID,))
    unknown = _assess(away, DURING_KEDIRI)

    assert isinstance(known, Produce)
    assert known.status == "cancelled"
    assert isinstance(known.payload, WeatherAlertCancelled)
    assert known.payload.cancelled_alert_ids == [KEDIRI_ID]
    assert "no longer covers" in known.payload.reason
    assert isinstance(unknown, Ignored)
    assert unknown.code == "elsewhere"


def test_cancel_without_info_cancels_the_referenced_alerts_when_they_are_known() -> None:
    alert = parse_cap(read(KEDIRI_CANCEL))
    outcome = assess_cap(alert, match_cap(alert), now=DURING_KEDIRI, known_alert_ids={KEDIRI_ID})

    assert alert.infos == ()
    assert alert.referenced_ids == (KEDIRI_ID, KEDIRI_UPDATE_ID)
    assert isinstance(outcome, Produce)
    assert outcome.status == "cancelled"
    assert outcome.dedupe_key == f"{KEDIRI_CANCEL_ID}:Cancel"
    payload = outcome.payload
    assert isinstance(payload, WeatherAlertCancelled)
    assert payload.alert_id == KEDIRI_CANCEL_ID
    assert payload.cancelled_alert_ids == [KEDIRI_ID, KEDIRI_UPDATE_ID]
    assert payload.reason == "Peringatan dini dicabut: hujan lebat telah berhenti."
    assert decode_event(make_event(payload, source="test").to_json()).event_type == "weather_alert.cancelled"


def test_cancel_of_an_alert_never_seen_here_is_ignored() -> None:
    outcome = _assess(read(KEDIRI_CANCEL), DURING_KEDIRI)
    assert isinstance(outcome, Ignored)
    assert outcome.code == "elsewhere"


def test_cancel_is_applied_even_after_expiry() -> None:
    outcome = _assess(read(KEDIRI_CANCEL), datetime(2026, 1, 16, tzinfo=UTC), known=(KEDIRI_ID,))
    assert isinstance(outcome, Produce)


@pytest.mark.parametrize("msg_type", ["Update", "Cancel"])
def test_update_and_cancel_need_references(msg_type: str) -> None:
    data = _with(read(KEDIRI), "<msgType>Alert</msgType>", f"<msgType>{msg_type}</msgType>")
    with pytest.raises(CapError, match="references"):
        parse_cap(data)


@pytest.mark.parametrize(
    "references", ["just-an-id", "a,b", "a,b,c,d", ",id,2026-01-15T15:10:00+07:00", "x,y,z " * 51]
)
def test_malformed_references_are_rejected(references: str) -> None:
    data = _with(
        read(KEDIRI_CANCEL), read(KEDIRI_CANCEL).decode().split("<references>")[1].split("</")[0], references
    )
    with pytest.raises(CapError) as caught:
        parse_cap(data)
    assert caught.value.code == "invalid"
    assert "<references>" in caught.value.reason


# --- what is not a warning --------------------------------------------------------------------


@pytest.mark.parametrize("status", ["Test", "Exercise", "Draft", "System"])
def test_non_actual_status_is_ignored(status: str) -> None:
    outcome = _assess(
        _with(read(KEDIRI), "<status>Actual</status>", f"<status>{status}</status>"), DURING_KEDIRI
    )
    assert isinstance(outcome, Ignored)
    assert outcome.code == "not_actual"
    assert status in outcome.reason


def test_ack_is_ignored() -> None:
    data = _with(read(KEDIRI_CANCEL), "<msgType>Cancel</msgType>", "<msgType>Ack</msgType>")
    outcome = _assess(data, DURING_KEDIRI, known=(KEDIRI_ID,))
    assert isinstance(outcome, Ignored)
    assert outcome.code == "unsupported"


def test_unknown_severity_words_become_unknown_and_case_is_forgiven() -> None:
    data = _with(read(KEDIRI), "<severity>Moderate</severity>", "<severity>Sedang</severity>")
    data = _with(data, "<urgency>Immediate</urgency>", "<urgency>IMMEDIATE</urgency>")
    data = _with(data, "<certainty>Observed</certainty>", "<certainty>Very Likely</certainty>")
    info = parse_cap(data).primary
    assert info is not None
    assert (info.severity, info.urgency, info.certainty) == ("Unknown", "Immediate", "Likely")


def test_two_infos_prefer_indonesian_and_join_their_areas() -> None:
    english_info = read(KEDIRI_EN).decode().split("<info>")[1].split("</info>")[0]
    # the English info keeps only the Pesantren ring; the Indonesian one only Mojoroto
    pesantren_only = english_info.split("<polygon>")[0] + "<polygon>" + english_info.split("<polygon>")[2]
    indonesian = read(KEDIRI_UPDATE).decode()
    doc = indonesian.replace("</info>", "</info>\n  <info>" + pesantren_only + "</info>", 1).encode()

    alert = parse_cap(doc)
    outcome = assess_cap(alert, match_cap(alert), now=DURING_KEDIRI, known_alert_ids={KEDIRI_ID})

    assert [i.language for i in alert.infos] == ["id", "en"]
    assert isinstance(outcome, Produce)
    assert outcome.payload.language == Language.ID  # type: ignore[union-attr]
    assert list(outcome.affected.kelurahan) == codes_of(MOJOROTO, PESANTREN)


def test_long_texts_are_cut_to_the_event_limits() -> None:
    data = _with(
        read(KEDIRI),
        "<headline>Hujan Lebat disertai Petir di Jawa Timur</headline>",
        f"<headline>{'H' * 900}</headline>",
    )
    data = _with(data, "<event>Hujan Lebat dan Petir</event>", f"<event>{'E' * 900}</event>")
    outcome = _assess(data, DURING_KEDIRI)
    assert isinstance(outcome, Produce)
    assert len(outcome.payload.headline) == 500  # type: ignore[union-attr]
    assert len(outcome.payload.event) == 200  # type: ignore[union-attr]


# --- rejected documents -----------------------------------------------------------------------


def test_wrong_cap_version_is_rejected_naming_the_namespace() -> None:
    data = _with(read(KEDIRI), CAP_NAMESPACE, "urn:oasis:names:tc:emergency:cap:1.1")
    with pytest.raises(CapError) as caught:
        parse_cap(data)
    assert caught.value.code == "wrong_namespace"
    assert "cap:1.1" in caught.value.reason
    assert CAP_NAMESPACE in caught.value.reason


def test_missing_namespace_is_rejected() -> None:
    with pytest.raises(CapError) as caught:
        parse_cap(_with(read(KEDIRI), f' xmlns="{CAP_NAMESPACE}"', ""))
    assert caught.value.code == "wrong_namespace"
    assert "no namespace" in caught.value.reason


def test_rss_is_not_cap() -> None:
    with pytest.raises(CapError) as caught:
        parse_cap(read("nowcast_rss_id_2026-09-24.xml"))
    assert caught.value.code == "invalid"
    assert "<rss>" in caught.value.reason


@pytest.mark.parametrize("field", ["identifier", "sender", "sent", "status", "msgType"])
def test_missing_required_fields_are_named(field: str) -> None:
    text = read(KEDIRI).decode()
    start, end = text.index(f"<{field}>"), text.index(f"</{field}>") + len(field) + 3
    with pytest.raises(CapError) as caught:
        parse_cap((text[:start] + text[end:]).encode())
    assert caught.value.code == "invalid"
    assert f"<{field}>" in caught.value.reason


def test_an_alert_needs_an_info() -> None:
    text = read(KEDIRI).decode()
    doc = text[: text.index("<info>")] + text[text.index("</info>") + len("</info>") :]
    with pytest.raises(CapError, match="at least one <info>"):
        parse_cap(doc.encode())


@pytest.mark.parametrize("ident", ["has space", "has,comma", "x" * 201])
def test_identifiers_that_break_references_are_rejected(ident: str) -> None:
    with pytest.raises(CapError, match="<identifier>"):
        parse_cap(_with(read(KEDIRI), KEDIRI_ID, ident))


def test_malformed_polygons_are_rejected_one_by_one_and_the_rest_still_counts() -> None:
    good = read(KEDIRI).decode().split("<polygon>")[1].split("</polygon>")[0]  # Mojoroto
    bad = [
        "-7.8,112.0 -7.9,112.1",  # two points
        "-7.8,112.0 -7.8,112.0 -7.8,112.0 -7.8,112.0",  # one point, repeated
        "-7.8,112.0 -7.9,112.1 -8.0,112.2 -7.8,112.0",  # collinear: no area
        "-7.8;112.0 -7.9;112.1 -8.0;112.0",  # wrong separator
        "-7.8,112.0 -7.9,abc -8.0,112.0",  # not a number
        "-97.8,112.0 -7.9,112.1 -8.0,112.0",  # latitude out of range
        "nan,112.0 -7.9,112.1 -8.0,112.0",  # not finite
        "",  # empty
    ]
    area = (
        "<area><areaDesc>Jawa Timur</areaDesc>"
        + "".join(f"<polygon>{p}</polygon>" for p in [*bad, good])
        + "</area>"
    )
    text = read(KEDIRI).decode()
    doc = text[: text.index("<area>")] + area + text[text.index("</area>") + len("</area>") :]

    alert = parse_cap(doc.encode())

    assert len(alert.warnings) == len(bad)
    assert all(w.startswith("Jawa Timur: polygon ") for w in alert.warnings)
    assert "distinct points" in alert.warnings[0]
    assert "no area" in alert.warnings[2]
    assert "not a pair of numbers" in alert.warnings[4]
    assert list(match_cap(alert).kelurahan) == codes_of(MOJOROTO)


def test_circles_are_matched_too() -> None:
    text = read(KEDIRI).decode()
    area = "<area><areaDesc>Kota Kediri</areaDesc><circle>-7.8166,112.0119 1.0</circle></area>"  # Kemasan
    doc = text[: text.index("<area>")] + area + text[text.index("</area>") + len("</area>") :]
    affected = match_cap(parse_cap(doc.encode()))
    assert "35.71.02.1010" in affected.kelurahan  # Kemasan
    assert set(affected.kelurahan) < set(codes_of(MOJOROTO, KOTA, PESANTREN))
    assert 0 < len(affected.kelurahan) < 46
