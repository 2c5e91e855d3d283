"""SMS sizing by the GSM 03.38 / UCS-2 rules operators bill by."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.notifier import smstext
from services.notifier.smstext import Piece


def test_single_part_limits() -> None:
    assert smstext.segments("a" * 160) == 1
    assert smstext.segments("a" * 161) == 2
    assert smstext.segments("é" * 70) == 1  # é is in the GSM-7 basic set
    assert smstext.segments("ĕ" * 70) == 1  # ĕ is not: UCS-2, 70 per single part
    assert smstext.segments("ĕ" * 71) == 2


def test_concatenated_parts_hold_153_gsm7_or_67_ucs2() -> None:
    assert smstext.segments("a" * 306) == 2
    assert smstext.segments("a" * 307) == 3
    assert smstext.segments("ĕ" * 134) == 2
    assert smstext.segments("ĕ" * 135) == 3
    parts = smstext.split("a" * 400)
    assert [len(p) for p in parts] == [153, 153, 94]
    assert "".join(parts) == "a" * 400


def test_extension_characters_cost_two_septets_and_stay_whole() -> None:
    assert smstext.encoding_of("harga €5 [promo]") == "gsm7"
    assert smstext.length("€") == 2
    assert smstext.segments("€" * 80) == 1  # 160 septets
    assert smstext.segments("€" * 81) == 2
    text = "a" * 152 + "€" + "b" * 10  # 164 septets: two parts of at most 153
    parts = smstext.split(text)
    assert parts[0] == "a" * 152  # the € (2 septets) does not fit in the first part's last septet
    assert parts[1].startswith("€")


def test_emoji_take_two_ucs2_units_and_are_not_split() -> None:
    assert smstext.encoding_of("banjir 🌊") == "ucs2"
    assert smstext.length("🌊") == 2
    text = "x" * 66 + "🌊" + "y" * 10
    parts = smstext.split(text)
    assert parts[0] == "x" * 66
    assert parts[1].startswith("🌊")


def test_typographic_characters_become_gsm7() -> None:
    assert smstext.plain("Banjir \u2013 \u2018RT\u2019 \u201c02\u201d\u2026") == "Banjir - 'RT' \"02\"..."
    assert smstext.encoding_of(smstext.plain("a\u2014b\u00a0c")) == "gsm7"


def test_fit_drops_the_most_droppable_lines_first() -> None:
    pieces = [
        Piece("HEADLINE " * 5, 0),
        Piece("nice to have " * 6, 2),
        Piece("first to go " * 6, 3),
        Piece("https://link.example/r/tok", 0),
    ]
    text = smstext.fit(pieces, 1)
    assert smstext.segments(text) == 1
    assert "https://link.example/r/tok" in text
    assert "first to go" not in text
    assert "HEADLINE" in text


def test_fit_keeps_everything_when_it_fits() -> None:
    pieces = [Piece("a", 0), Piece("b", 4), Piece("c", 1)]
    assert smstext.fit(pieces, 1) == "a\nb\nc"


def test_fit_shortens_the_headline_but_never_the_link() -> None:
    link = "https://link.example/r/" + "t" * 120
    text = smstext.fit([Piece("H" * 100, 0), Piece(link, 0)], 1)
    assert text.endswith(link)
    assert text.startswith("HHHH") and "..." in text
    assert smstext.segments(text) == 1


@given(st.text(alphabet=st.sampled_from("ab €[ĕ🌊\n"), max_size=700))
def test_segment_count_matches_the_split(text: str) -> None:
    parts = smstext.split(text)
    assert "".join(parts) == text
    assert smstext.segments(text) == len(parts)
    encoding = smstext.encoding_of(text)
    limit = smstext.SINGLE[encoding] if len(parts) == 1 else smstext.PER_PART[encoding]
    assert all(sum(smstext._cost(c, encoding) for c in p) <= limit for p in parts)
