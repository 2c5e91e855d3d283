"""The pure parts of the chat answers (issue 18): reading a volunteer's text, button references,
whose address is whose."""

from __future__ import annotations

import pytest

from schemas.events import VolunteerProfile
from schemas.vocabulary import ChannelType
from services.common.links import InvalidToken, parse_answer, sign_answer
from services.common.replies import parse_answer_text
from services.common.senders import address_key, phone_digits
from services.gateway.inbound import owns


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SIAP", ("accept", None)),
        ("siap", ("accept", None)),
        ("  Siap!! ", ("accept", None)),
        ("ya", ("accept", None)),
        ("YA SIAP", ("accept", None)),
        ("SIAP 1234", ("accept", "1234")),
        ("siap,1234.", ("accept", "1234")),
        ("TIDAK", ("decline", None)),
        ("tidak bisa", ("decline", None)),
        ("TIDAK 0042", ("decline", "0042")),
        ("halo", None),
        ("siap tapi telat", None),
        ("SIAP 12345", None),
        ("SIAP 1234 5678", None),
        ("bisa", None),
        ("", None),
        ("siap " * 20, None),
    ],
)
def test_answer_texts(text: str, expected: tuple[str, str | None] | None) -> None:
    assert parse_answer_text(text) == expected


def test_button_references() -> None:
    ref = sign_answer("y", "of-0123456789abcdef0123", "V-001", "s" * 32)
    assert ref is not None and len(ref) <= 64 and "V-001" not in ref
    parsed = parse_answer(ref)
    assert parsed.genuine_for("V-001", "s" * 32)
    assert not parsed.genuine_for("V-002", "s" * 32)
    flipped = parse_answer("n" + ref[1:])  # a YES turned into a NO by hand
    assert not flipped.genuine_for("V-001", "s" * 32)
    assert sign_answer("y", "x" * 60, "V-001", "s") is None  # would not fit 64 bytes: no buttons
    for bad in ("", "y", "y.of-1", "q.of-1." + "A" * 20, "y.of-1.short", "y.ü." + "A" * 20):
        with pytest.raises(InvalidToken):
            parse_answer(bad)


def test_addresses_compare_in_one_form() -> None:
    assert phone_digits("+62 812-3456-7890") == phone_digits("0812 3456 7890") == "6281234567890"
    assert address_key(ChannelType.TELEGRAM, " 700100200 ") == "700100200"
    profile = VolunteerProfile.model_validate(
        {
            "volunteer_id": "V-1",
            "name": "Siti",
            "phone": "0812-3456-7890",
            "unit": "tagana",
            "home_kelurahan_code": "35.71.02.1015",
            "channels": [
                {"type": "telegram", "address": "700100200"},
                {"type": "sms", "address": "0813-1111-2222"},
            ],
        }
    )
    assert owns(profile, ChannelType.WHATSAPP, "6281234567890")  # the phone counts on WhatsApp
    assert owns(profile, ChannelType.SMS, "+6281311112222")
    assert owns(profile, ChannelType.TELEGRAM, "700100200")
    assert not owns(profile, ChannelType.TELEGRAM, "6281234567890")
    assert not owns(profile, ChannelType.WHATSAPP, "6289999999999")
