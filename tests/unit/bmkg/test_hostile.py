"""Hostile and broken input: every parser answers with its own typed error and a reason, never another
exception, never a hang, never an expanded entity."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.gateway.bmkg.area import AreaError, parse_circle, parse_polygon
from services.gateway.bmkg.cap import assess_cap, match_cap, parse_cap
from services.gateway.bmkg.errors import CapError, FeedError, QuakeError, RssError
from services.gateway.bmkg.quake import assess_quake, parse_quake, parse_quake_json, parse_quake_xml
from services.gateway.bmkg.rss import parse_rss
from tests.unit.bmkg.documents import (
    AUTOGEMPA_XML,
    GEMPATERKINI,
    GORONTALO,
    KEDIRI,
    KEDIRI_CANCEL,
    KEDIRI_UPDATE,
    RSS,
    read,
)

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE alert SYSTEM "http://127.0.0.1:1/evil.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier></alert>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY % remote SYSTEM "http://127.0.0.1:1/x"> %remote;]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>"""

XML_PARSERS: list[tuple[Callable[..., Any], type[FeedError]]] = [
    (parse_cap, CapError),
    (parse_rss, RssError),
    (parse_quake_xml, QuakeError),
]


@pytest.mark.parametrize(("parse", "error"), XML_PARSERS)
@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY])
def test_dtds_and_entities_are_refused_before_expansion(
    parse: Callable[..., Any], error: type[FeedError], document: bytes
) -> None:
    with pytest.raises(error) as caught:
        parse(document)
    assert caught.value.code == "forbidden_xml"
    assert "refused" in caught.value.reason


@pytest.mark.parametrize(("parse", "error"), XML_PARSERS)
def test_oversized_documents_are_refused_unread(parse: Callable[..., Any], error: type[FeedError]) -> None:
    huge = b"<a>" + b"x" * (1024 * 1024) + b"</a>"
    with pytest.raises(error) as caught:
        parse(huge)
    assert caught.value.code == "too_large"
    assert "1048576" in caught.value.reason


def test_the_size_limit_is_configurable() -> None:
    parse_cap(read(KEDIRI), max_bytes=len(read(KEDIRI)))
    with pytest.raises(CapError, match="limit is 100"):
        parse_cap(read(KEDIRI), max_bytes=100)


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"   ",
        b"not xml at all",
        b'{"Infogempa": {}}',
        b"\x00\x01\x02",
        b"<alert",
        read(KEDIRI)[:500],  # truncated
        b'<?xml version="1.0" encoding="x-no-such-encoding"?><alert/>',
        b"\xef\xbb\xbf\xef\xbb\xbf<alert/>",
        "<alert>\udcff</alert>",  # a lone surrogate in a str
    ],
)
def test_non_xml_is_rejected_with_a_reason(document: bytes | str) -> None:
    with pytest.raises(CapError) as caught:
        parse_cap(document)
    assert caught.value.code == "not_xml"
    assert caught.value.reason


# --- property-based: random and mutated input ---------------------------------------------------

SEEDS = [read(n) for n in (KEDIRI, KEDIRI_UPDATE, KEDIRI_CANCEL, GORONTALO, RSS, AUTOGEMPA_XML)]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes] = SEEDS) -> bytes:
    """A fixture with a few random edits: deletions, insertions, overwrites, truncation."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "truncate"]))
        chunk = draw(
            st.one_of(
                st.binary(max_size=12),
                st.sampled_from(
                    [b"<", b">", b"&", b"&amp;", b"<!DOCTYPE x>", b"]]>", b",", b" ", b"-", b"9e999"]
                ),
            )
        )
        if action == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif action == "insert":
            data[at:at] = chunk
        elif action == "replace":
            data[at : at + len(chunk)] = chunk
        else:
            del data[at:]
    return bytes(data)


def _cap_pipeline(data: bytes | str) -> None:
    """Parse, match and decide: the whole path a poller runs, which must only raise CapError."""
    alert = parse_cap(data)
    assess_cap(alert, match_cap(alert), now=NOW, known_alert_ids={"2.49.0.1.360.0.2026.01.15.08.35.001"})


@FAST
@given(mutated())
def test_mutated_documents_only_raise_cap_error(data: bytes) -> None:
    try:
        _cap_pipeline(data)
    except CapError as exc:
        assert exc.reason


@FAST
@given(mutated())
def test_mutated_documents_only_raise_rss_error(data: bytes) -> None:
    try:
        parse_rss(data)
    except RssError as exc:
        assert exc.reason


@FAST
@given(mutated())
def test_mutated_documents_only_raise_quake_error(data: bytes) -> None:
    try:
        for quake in parse_quake(data).quakes:
            assess_quake(quake, now=NOW)
    except QuakeError as exc:
        assert exc.reason


@FAST
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_random_bytes_only_raise_typed_errors(data: bytes) -> None:
    parsers: list[tuple[Callable[..., Any], type[FeedError]]] = [
        *XML_PARSERS,
        (parse_quake_json, QuakeError),
        (parse_quake, QuakeError),
    ]
    for parse, error in parsers:
        try:
            parse(data)
        except error as exc:
            assert exc.reason


@FAST
@given(st.text(max_size=400))
def test_random_text_only_raises_typed_errors(text: str) -> None:
    parsers: list[tuple[Callable[..., Any], type[FeedError]]] = [*XML_PARSERS, (parse_quake_json, QuakeError)]
    for parse, error in parsers:
        try:
            parse(text)
        except error as exc:
            assert exc.reason


# structured input: valid shape, random values ------------------------------------------------

_TEXTS = st.one_of(
    st.text(max_size=60),
    st.integers(150, 700).map(lambda n: "Hujan " * (n // 6)),  # over the event's field limits
    st.sampled_from(["", " ", "Actual", "Alert", "Update", "Cancel", "Extreme", "2026-01-15T15:10:00+07:00"]),
)


def _xml_text(value: str) -> str:
    cleaned = "".join(
        c for c in value if c in "\t\n\r" or (" " <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd")
    )
    return cleaned.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_CAP_FIELDS = [
    "identifier",
    "sent",
    "status",
    "msgType",
    "urgency",
    "severity",
    "certainty",
    "effective",
    "expires",
    "headline",
    "event",
]


@FAST
@given(st.dictionaries(st.sampled_from(_CAP_FIELDS), _TEXTS, max_size=5), st.lists(_TEXTS, max_size=4))
def test_random_field_values_only_raise_cap_error(values: dict[str, str], polygons: list[str]) -> None:
    text = read(KEDIRI).decode()
    for field, value in values.items():
        start = text.index(f"<{field}>") + len(field) + 2
        end = text.index(f"</{field}>")
        text = text[:start] + _xml_text(value) + text[end:]
    extra = "".join(f"<polygon>{_xml_text(p)}</polygon>" for p in polygons)
    text = text.replace("</area>", extra + "</area>")
    try:
        _cap_pipeline(text)
    except CapError as exc:
        assert exc.reason


@FAST
@given(
    st.lists(
        st.tuples(
            st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True)
        ),
        max_size=12,
    ),
    st.sampled_from([" ", "  ", "\n", ", "]),
)
def test_random_polygons_parse_or_raise_area_error(points: list[tuple[float, float]], separator: str) -> None:
    text = separator.join(f"{lat},{lon}" for lat, lon in points)
    try:
        polygon = parse_polygon(text)
    except AreaError as exc:
        assert exc.reason
    else:
        for lat, lon in polygon.ring:
            polygon.contains(lat, lon)  # vertices may go either way, but never raise
    with contextlib.suppress(AreaError):
        parse_circle(text)


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
_GEMPA_VALUES = st.one_of(
    _JSON,
    st.sampled_from(
        ["5.2", "-8.51,123.27", "10 km", "2026-09-23T12:16:56+00:00", "8.51 LS", "123.27 BT", ""]
    ),
)
_GEMPA_FIELDS = [
    "DateTime",
    "Coordinates",
    "Magnitude",
    "Kedalaman",
    "Lintang",
    "Bujur",
    "Dirasakan",
    "Shakemap",
]


@FAST
@given(_JSON)
def test_random_json_shapes_only_raise_quake_error(gempa: Any) -> None:
    try:
        parse_quake_json(json.dumps({"Infogempa": {"gempa": gempa}}))
    except QuakeError as exc:
        assert exc.reason


@FAST
@given(st.lists(st.dictionaries(st.sampled_from(_GEMPA_FIELDS), _GEMPA_VALUES), max_size=4))
def test_random_entries_only_raise_quake_error(changes: list[dict[str, Any]]) -> None:
    entries = json.loads(read(GEMPATERKINI))["Infogempa"]["gempa"]
    for entry, change in zip(entries * 2, changes, strict=False):
        entry.update(change)
    try:
        feed = parse_quake_json(json.dumps({"Infogempa": {"gempa": entries}}))
    except QuakeError as exc:
        assert exc.reason
        return
    for quake in feed.quakes:
        assess_quake(quake, now=NOW)
