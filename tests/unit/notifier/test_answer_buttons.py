"""Offers carry their answer buttons (issue 18): WhatsApp reply buttons or template quick replies,
Telegram callback buttons, an SMS code; a reply edits the Telegram message it answers."""

from __future__ import annotations

import httpx

from schemas.vocabulary import ChannelType
from services.common.config import Settings
from services.common.links import parse_answer, short_code
from services.notifier.channels import Outgoing
from services.notifier.channels.telegram import TelegramChannel
from services.notifier.channels.whatsapp import WhatsAppChannel
from services.notifier.templates import render
from tests.unit.notifier.samples import LINK, request

SETTINGS = Settings()


def offer(
    channel: ChannelType, address: str, *, language: str = "id", kind: str = "offer", **ctx: object
) -> Outgoing:
    req = request([(channel.value, address)], kind=kind, language=language, **ctx)  # type: ignore[arg-type]
    return Outgoing(
        req.notification_id,
        req.kind,
        req.recipient.channels[0].address,
        req.recipient.language,
        render(req),
        channel,
        volunteer_id=req.recipient.volunteer_id,
        incident_id=req.incident_id,
        offer_id=req.offer_id,
    )


def refs_verify(refs: list[str], offer_id: str, volunteer_id: str) -> None:
    answers = [parse_answer(r) for r in refs]
    assert [a.answer for a in answers] == ["y", "n"]
    assert all(a.offer_id == offer_id and a.genuine_for(volunteer_id, SETTINGS.link_secret) for a in answers)
    assert not any(a.genuine_for("someone-else", SETTINGS.link_secret) for a in answers)
    assert not any(a.genuine_for(volunteer_id, "another-secret") for a in answers)


def test_whatsapp_offer_is_an_interactive_message_with_two_signed_reply_buttons() -> None:
    body = WhatsAppChannel(SETTINGS, httpx.AsyncClient()).body(offer(ChannelType.WHATSAPP, "081234567890"))
    assert body["type"] == "interactive"
    assert body["biz_opaque_callback_data"]  # the notification id comes back in Meta's statuses
    interactive = body["interactive"]
    assert interactive["type"] == "button"
    assert LINK in interactive["body"]["text"]  # the link is still in the text
    buttons = interactive["action"]["buttons"]
    assert [b["reply"]["title"] for b in buttons] == ["SIAP", "TIDAK BISA"]
    refs_verify([b["reply"]["id"] for b in buttons], "off-1", "vol-1")


def test_whatsapp_template_carries_quick_reply_payloads_and_english_titles() -> None:
    adapter = WhatsAppChannel(Settings(whatsapp_template="offer:sigap_tawaran"), httpx.AsyncClient())
    body = adapter.body(offer(ChannelType.WHATSAPP, "081234567890"))
    components = body["template"]["components"]
    quick = [c for c in components if c["type"] == "button"]
    assert [(c["sub_type"], c["index"]) for c in quick] == [("quick_reply", "0"), ("quick_reply", "1")]
    refs_verify([c["parameters"][0]["payload"] for c in quick], "off-1", "vol-1")
    english = WhatsAppChannel(SETTINGS, httpx.AsyncClient()).body(
        offer(ChannelType.WHATSAPP, "081234567890", language="en")
    )
    assert [b["reply"]["title"] for b in english["interactive"]["action"]["buttons"]] == ["READY", "CAN'T GO"]


def test_other_messages_have_no_buttons() -> None:
    body = WhatsAppChannel(SETTINGS, httpx.AsyncClient()).body(
        offer(ChannelType.WHATSAPP, "081234567890", kind="withdrawal")
    )
    assert body["type"] == "text"


def test_telegram_offer_has_answer_buttons_within_64_bytes_and_the_link() -> None:
    body = TelegramChannel(SETTINGS, httpx.AsyncClient()).body(offer(ChannelType.TELEGRAM, "700100200"))
    rows = body["reply_markup"]["inline_keyboard"]
    assert [b["text"] for b in rows[0]] == ["SIAP", "TIDAK BISA"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in rows[0])
    refs_verify([b["callback_data"] for b in rows[0]], "off-1", "vol-1")
    assert rows[1] == [{"text": "Terima / Tolak", "url": LINK}]


def test_a_telegram_reply_edits_the_pressed_message() -> None:
    channel = TelegramChannel(SETTINGS, httpx.AsyncClient())
    reply = offer(
        ChannelType.TELEGRAM,
        "700100200",
        kind="reply",
        reason="Terima kasih",
        extra={"reply_to": "700100200:55"},
    )
    assert channel.edit_target(reply) == (700100200, 55)
    assert reply.text == "[SIGAP]\nTerima kasih"
    elsewhere = offer(
        ChannelType.TELEGRAM, "700100201", kind="reply", reason="x", extra={"reply_to": "700100200:55"}
    )
    assert channel.edit_target(elsewhere) is None  # never another chat's message


def test_offer_sms_carries_the_reply_code_before_the_link() -> None:
    req = request([("sms", "081234567890")])
    sms = render(req).sms
    code = short_code("off-1")
    assert f"Balas SIAP {code} atau TIDAK {code}" in sms
    assert sms.rstrip().endswith(LINK)
    assert "SIAP" not in render(request([("sms", "081234567890")], kind="withdrawal")).sms


def test_short_codes_are_four_digits_and_stable() -> None:
    codes = {short_code(f"of-{i:020x}") for i in range(2000)}
    assert all(len(c) == 4 and c.isdigit() for c in codes)
    assert len(codes) > 1500  # spread over the 10,000 codes
    assert short_code("of-1") == short_code("of-1")
