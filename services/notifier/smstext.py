"""SMS sizing (3GPP TS 23.038): GSM-7 or UCS-2, segments, and fitting a message into a number of parts.

A single SMS holds 160 GSM-7 characters or 70 UCS-2 code units; a concatenated one loses the user
data header to every part: 153 GSM-7 characters or 67 UCS-2 units each. GSM-7 extension characters
(`^{}\\[~]|€` and form feed) cost two septets and are never split from their escape; UCS-2 surrogate
pairs are never split either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

SINGLE = {"gsm7": 160, "ucs2": 70}
PER_PART = {"gsm7": 153, "ucs2": 67}

# Typographic characters people type into titles, mapped to GSM-7 so one dash does not halve the SMS.
_PLAIN = str.maketrans(
    {
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u00a0": " ",
        "\u2022": "-",
        "\t": " ",
    }
)

Encoding = Literal["gsm7", "ucs2"]


def plain(text: str) -> str:
    """The text with common typographic characters replaced by GSM-7 ones."""
    return text.translate(_PLAIN)


def encoding_of(text: str) -> Encoding:
    return "gsm7" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else "ucs2"


def _cost(char: str, encoding: Encoding) -> int:
    if encoding == "gsm7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1  # UTF-16 code units


def length(text: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text needs."""
    encoding = encoding_of(text)
    return sum(_cost(c, encoding) for c in text)


def split(text: str) -> list[str]:
    """The parts a phone network carries this text in (one part when it fits a single SMS)."""
    encoding = encoding_of(text)
    if length(text) <= SINGLE[encoding]:
        return [text] if text else []
    limit = PER_PART[encoding]
    if all(_cost(c, encoding) == 1 for c in text):  # the common case: one unit per character
        return [text[i : i + limit] for i in range(0, len(text), limit)]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        cost = _cost(char, encoding)
        if used + cost > limit:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += cost
    if current:
        parts.append("".join(current))
    return parts


def segments(text: str) -> int:
    encoding = encoding_of(text)
    units = sum(_cost(c, encoding) for c in text)
    if units <= SINGLE[encoding]:
        return 1 if text else 0
    if units == len(text):
        return -(-units // PER_PART[encoding])
    return len(split(text))


@dataclass(frozen=True, slots=True)
class Piece:
    """A line of an SMS; lines with a higher `drop_order` are dropped first to make the text fit, and
    lines with `drop_order` 0 are never dropped (the link, the deadline)."""

    text: str
    drop_order: int = 0


def fit(pieces: Sequence[Piece], max_parts: int, *, separator: str = "\n") -> str:
    """Join the pieces, dropping optional ones (highest `drop_order` first) until the text fits in
    `max_parts` SMS parts. If only the essential lines remain and they still do not fit, the first line
    (the headline) is shortened; the others (a link above all) are never cut."""
    kept = [Piece(plain(p.text), p.drop_order) for p in pieces if p.text]
    text = separator.join(p.text for p in kept)
    for order in sorted({p.drop_order for p in kept if p.drop_order > 0}, reverse=True):
        if segments(text) <= max_parts:
            return text
        kept = [p for p in kept if p.drop_order != order]
        text = separator.join(p.text for p in kept)
    if segments(text) <= max_parts or not kept:
        return text
    head, rest = kept[0].text, separator.join(p.text for p in kept[1:])
    for keep in range(len(head) - 1, 4, -1):
        candidate = separator.join(t for t in (head[:keep].rstrip() + "...", rest) if t)
        if segments(candidate) <= max_parts:
            return candidate
    return rest or text
