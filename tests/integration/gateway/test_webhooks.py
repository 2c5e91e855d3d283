"""The providers' webhooks (issue 18) against the real gateway, Kafka and Redis: Meta's and Telegram's
real payload shapes, an SMS gateway's reply. The read models are seeded the way the dispatcher and the
notifier write them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.events import NotificationRequested, NotificationStatus, OfferAccepted, OfferDeclined
from schemas.vocabulary import AssignmentStatus, ChannelType, IncidentStatus, NotificationKind
from services.common.links import short_code, sign_answer
from services.common.senders import Sender, sender_key
from services.common.topics import DELIVERIES, NOTIFICATIONS, RESPONSES
from tests.integration.gateway.conftest import (
    Gw,
    assignment,
    events_of,
    incident_view,
    profile,
    read_topic,
    seed_incident,
    seed_offer,
    seed_volunteer,
)
from tests.support.providers import (
    meta_button_reply,
    meta_notification,
    meta_quick_reply,
    meta_signature,
    meta_status,
    meta_text,
    telegram_callback,
    telegram_text,
)

pytestmark = pytest.mark.integration

APP_SECRET = "meta-app-secret-for-tests"
VERIFY_TOKEN = "sigap-verify-token"
TELEGRAM_SECRET = "telegram-webhook-secret_1"
SMS_SECRET = "sms-webhook-secret-for-tests"
NUMBER = "6281234567890"  # the profile's 0812-3456-7890, as Meta writes it
TELEGRAM_USER = 700100200


@pytest.fixture
def test_env(test_env: dict[str, str]) -> dict[str, str]:
    """The usual test environment, with every webhook's secret set."""
    return {
        **test_env,
        "SIGAP_WHATSAPP_APP_SECRET": APP_SECRET,
        "SIGAP_WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "SIGAP_TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "SIGAP_SMS_WEBHOOK_SECRET": SMS_SECRET,
    }


async def _offer(
    gw: Gw, offer_id: str = "of-1", status: AssignmentStatus = AssignmentStatus.OFFERED, **prof: Any
) -> None:
    await seed_incident(gw, incident_view("INC-1", assignments=[assignment(offer_id, "V-001", status)]))
    await seed_offer(gw, offer_id, "INC-1", "V-001", status)
    active = {"offer_id": offer_id, "incident_id": "INC-1"} if status == AssignmentStatus.OFFERED else {}
    channels = [
        {"type": "whatsapp", "address": "081234567890"},
        {"type": "telegram", "address": str(TELEGRAM_USER)},
        {"type": "sms", "address": "+6281234567890"},
    ]
    await seed_volunteer(gw, profile("V-001", channels=channels, **prof), **active)


async def _remember(gw: Gw, channel: ChannelType, address: str, offer_id: str = "of-1") -> None:
    """What the notifier records when it hands the offer to a channel (services/common/senders.py)."""
    await gw.redis.set(sender_key(gw.keys.prefix, channel, address), Sender("V-001", offer_id).dump())


async def _post_meta(gw: Gw, body: dict[str, Any], secret: str = APP_SECRET) -> Any:
    raw = json.dumps(body).encode()
    return await gw.client.post(
        "/webhooks/whatsapp",
        content=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(raw, secret)},
    )


async def _answers(gw: Gw, expect: int) -> list[Any]:
    return [
        e.payload for e in events_of(await read_topic(gw.settings, RESPONSES, expect=expect, timeout_s=5))
    ]


async def _replies(gw: Gw, expect: int) -> list[NotificationRequested]:
    records = await read_topic(gw.settings, NOTIFICATIONS, expect=expect, timeout_s=5)
    return [e.payload for e in events_of(records) if isinstance(e.payload, NotificationRequested)]


async def test_meta_verification(gw: Gw) -> None:
    ok = await gw.client.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {},
    ):
        refused = await gw.client.get("/webhooks/whatsapp", params=params)
        assert refused.status_code == 403


async def test_whatsapp_button_accepts_once_and_forgeries_change_nothing(gw: Gw) -> None:
    await _offer(gw)
    yes = sign_answer("y", "of-1", "V-001", gw.settings.link_secret)
    assert yes is not None
    press = meta_notification(messages=[meta_button_reply(NUMBER, "wamid.PRESS1", yes, "SIAP")])

    # a forged signature (another secret), and none at all: 401, nothing published
    assert (await _post_meta(gw, press, secret="not-the-app-secret")).status_code == 401
    unsigned = await gw.client.post("/webhooks/whatsapp", json=press)
    assert unsigned.status_code == 401
    assert unsigned.json()["error"]["code"] == "unauthorized"

    # a button reference for another volunteer (its MAC does not verify for V-001's offer)
    stolen = sign_answer("y", "of-1", "V-999", gw.settings.link_secret)
    assert stolen is not None
    forged = await _post_meta(
        gw, meta_notification(messages=[meta_button_reply(NUMBER, "wamid.FORGED", stolen, "SIAP")])
    )
    assert forged.status_code == 200 and forged.json()["messages"] == ["forged"]
    # the right button pressed from another number (a forwarded or replayed press)
    other = await _post_meta(
        gw, meta_notification(messages=[meta_button_reply("6289999999999", "wamid.OTHER", yes, "SIAP")])
    )
    assert other.status_code == 200 and other.json()["messages"] == ["wrong_sender"]

    answered = await _post_meta(gw, press)
    assert answered.status_code == 200 and answered.json()["messages"] == ["accepted"]
    replayed = await _post_meta(gw, press)  # Meta redelivers the same message id
    assert replayed.status_code == 200 and replayed.json()["messages"] == ["duplicate"]

    answers = await _answers(gw, expect=1)
    assert len(answers) == 1
    accepted = answers[0]
    assert isinstance(accepted, OfferAccepted)
    assert (accepted.offer_id, accepted.volunteer_id, accepted.incident_id) == ("of-1", "V-001", "INC-1")
    assert accepted.channel == ChannelType.WHATSAPP and accepted.via == "link"


async def test_template_quick_reply_declines(gw: Gw) -> None:
    await _offer(gw)
    no = sign_answer("n", "of-1", "V-001", gw.settings.link_secret)
    assert no is not None
    answer = await _post_meta(
        gw, meta_notification(messages=[meta_quick_reply(NUMBER, "wamid.QR1", no, "TIDAK BISA")])
    )
    assert answer.json()["messages"] == ["declined"]
    answers = await _answers(gw, expect=1)
    assert len(answers) == 1 and isinstance(answers[0], OfferDeclined)
    assert answers[0].channel == ChannelType.WHATSAPP


async def test_press_on_a_withdrawn_offer_changes_nothing_and_says_filled(gw: Gw) -> None:
    await _offer(gw, status=AssignmentStatus.WITHDRAWN)
    yes = sign_answer("y", "of-1", "V-001", gw.settings.link_secret)
    assert yes is not None
    answer = await _post_meta(
        gw, meta_notification(messages=[meta_button_reply(NUMBER, "wamid.LATE", yes, "SIAP")])
    )
    assert answer.status_code == 200 and answer.json()["messages"] == ["late"]
    replies = await _replies(gw, expect=1)
    assert [r.context.reason for r in replies] == ["Sudah terpenuhi, terima kasih."]
    assert replies[0].kind == NotificationKind.REPLY
    assert replies[0].recipient.channels[0].type == ChannelType.WHATSAPP
    assert replies[0].recipient.channels[0].address == "+" + NUMBER
    assert await _answers(gw, expect=0) == []


async def test_whatsapp_text_answers_the_one_open_offer_and_help_otherwise(gw: Gw) -> None:
    await _offer(gw, language="en")
    await _remember(gw, ChannelType.WHATSAPP, "081234567890")
    stranger = await _post_meta(
        gw, meta_notification(messages=[meta_text("6287700000000", "wamid.S", "SIAP")])
    )
    assert stranger.json()["messages"] == ["unknown_sender"]
    chatter = await _post_meta(
        gw, meta_notification(messages=[meta_text(NUMBER, "wamid.T1", "halo, ada apa?")])
    )
    assert chatter.json()["messages"] == ["help"]
    answered = await _post_meta(gw, meta_notification(messages=[meta_text(NUMBER, "wamid.T2", "  siap!! ")]))
    assert answered.json()["messages"] == ["accepted"]

    answers = await _answers(gw, expect=1)
    assert len(answers) == 1 and isinstance(answers[0], OfferAccepted)
    replies = await _replies(gw, expect=1)
    assert len(replies) == 1  # the help text, in the volunteer's language; nothing for the stranger
    assert replies[0].context.reason.startswith("Reply SIAP to accept")


async def test_whatsapp_statuses_become_delivery_events(gw: Gw) -> None:
    body = meta_notification(
        statuses=[
            meta_status("wamid.A", "delivered", NUMBER, "nt-abc"),
            meta_status("wamid.A", "read", NUMBER, "nt-abc"),
            meta_status("wamid.B", "failed", NUMBER),
        ]
    )
    answer = await _post_meta(gw, body)
    assert answer.json()["statuses"] == 3
    records = await read_topic(gw.settings, DELIVERIES, expect=3, timeout_s=5)
    statuses = [e.payload for e in events_of(records)]
    assert all(isinstance(s, NotificationStatus) for s in statuses)
    assert sorted((s.provider_message_id, s.status, s.notification_id) for s in statuses) == [
        ("wamid.A", "delivered", "nt-abc"),
        ("wamid.A", "read", "nt-abc"),
        ("wamid.B", "failed", None),
    ]
    failed = next(s for s in statuses if s.status == "failed")
    assert "131026" in failed.reason


async def test_telegram_button_secret_replay_and_closed_incident(gw: Gw) -> None:
    await _offer(gw)
    yes = sign_answer("y", "of-1", "V-001", gw.settings.link_secret)
    assert yes is not None and len(yes.encode()) <= 64
    update = telegram_callback(9001, TELEGRAM_USER, 55, yes)

    missing = await gw.client.post("/webhooks/telegram", json=update)
    wrong = await gw.client.post(
        "/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
    )
    assert missing.status_code == wrong.status_code == 401
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    pressed = await gw.client.post("/webhooks/telegram", json=update, headers=headers)
    assert pressed.status_code == 200
    body = pressed.json()
    assert body["method"] == "answerCallbackQuery"
    assert body["callback_query_id"] == update["callback_query"]["id"]
    assert body["sigap_result"] == "accepted"
    again = await gw.client.post("/webhooks/telegram", json=update, headers=headers)
    assert again.json()["sigap_result"] == "duplicate"
    stranger = telegram_callback(9002, 1234, 56, yes)  # another Telegram user pressing V-001's button
    assert (await gw.client.post("/webhooks/telegram", json=stranger, headers=headers)).json()[
        "sigap_result"
    ] == "wrong_sender"

    answers = await _answers(gw, expect=1)
    assert len(answers) == 1 and isinstance(answers[0], OfferAccepted)
    assert answers[0].channel == ChannelType.TELEGRAM
    assert answers[0].channel_ref == f"{TELEGRAM_USER}:55"

    # the incident is closed: a text "TIDAK" is answered so, and changes nothing
    await seed_incident(gw, incident_view("INC-1", status=IncidentStatus.CLOSED))
    await _remember(gw, ChannelType.TELEGRAM, str(TELEGRAM_USER))
    closed = await gw.client.post(
        "/webhooks/telegram", json=telegram_text(9003, TELEGRAM_USER, 57, "tidak bisa"), headers=headers
    )
    assert closed.json()["sigap_result"] == "late"
    replies = await _replies(gw, expect=1)
    assert [r.context.reason for r in replies] == [
        "Kejadian ini sudah ditutup; panggilan tidak bisa dijawab lagi."
    ]
    assert len(await _answers(gw, expect=1)) == 1


async def test_sms_reply_with_the_offers_code(gw: Gw) -> None:
    await _offer(gw, offer_id="of-7")
    await _remember(gw, ChannelType.SMS, "+6281234567890", "of-7")
    code = short_code("of-7")
    wrong_code = f"{(int(code) + 1) % 10000:04d}"
    headers = {"X-Sigap-Webhook-Secret": SMS_SECRET}

    refused = await gw.client.post("/webhooks/sms", json={"from": "+6281234567890", "text": f"SIAP {code}"})
    assert refused.status_code == 401
    mismatch = await gw.client.post(
        "/webhooks/sms",
        json={"from": "+6281234567890", "text": f"SIAP {wrong_code}", "id": "s1"},
        headers=headers,
    )
    assert mismatch.json()["result"] == "code_mismatch"
    stranger = await gw.client.post(
        "/webhooks/sms", json={"from": "+6285700000000", "text": f"SIAP {code}", "id": "s2"}, headers=headers
    )
    assert stranger.json()["result"] == "unknown_sender"
    # the provider's form shape, from the number written the local way
    answered = await gw.client.post(
        "/webhooks/sms",
        data={"msisdn": "081234567890", "message": f"tidak {code}", "messageId": "s3"},
        headers=headers,
    )
    assert answered.json()["result"] == "declined"
    replayed = await gw.client.post(
        "/webhooks/sms",
        data={"msisdn": "081234567890", "message": f"tidak {code}", "messageId": "s3"},
        headers=headers,
    )
    assert replayed.json()["result"] == "duplicate"

    answers = await _answers(gw, expect=1)
    assert len(answers) == 1 and isinstance(answers[0], OfferDeclined)
    assert answers[0].channel == ChannelType.SMS and answers[0].offer_id == "of-7"
    replies = await _replies(gw, expect=1)
    assert [r.context.reason for r in replies] == [
        "Kode itu tidak cocok dengan panggilan Anda. Periksa kode di SMS panggilan."
    ]


async def test_telegram_press_on_a_filled_offer_edits_it_and_a_forged_one_does_not(gw: Gw) -> None:
    await _offer(gw, status=AssignmentStatus.WITHDRAWN)
    await _remember(gw, ChannelType.TELEGRAM, str(TELEGRAM_USER))
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    yes = sign_answer("y", "of-1", "V-001", gw.settings.link_secret)
    assert yes is not None
    late = await gw.client.post(
        "/webhooks/telegram", json=telegram_callback(1, TELEGRAM_USER, 40, yes), headers=headers
    )
    assert late.json() | {"callback_query_id": ""} == {
        "method": "answerCallbackQuery",
        "callback_query_id": "",
        "text": "Sudah terpenuhi, terima kasih.",
        "sigap_result": "late",
    }
    forged = await gw.client.post(
        "/webhooks/telegram", json=telegram_callback(2, TELEGRAM_USER, 41, "n" + yes[1:]), headers=headers
    )
    assert forged.json()["sigap_result"] == "forged"
    replies = sorted(await _replies(gw, expect=2), key=lambda r: r.context.reason)
    assert [(r.context.reason, r.context.extra) for r in replies] == [
        ("Sudah terpenuhi, terima kasih.", {"reply_to": f"{TELEGRAM_USER}:40"}),  # the offer shows it
        ("Tombol ini tidak sah. Gunakan tautan di pesan panggilan.", {}),  # a new message; offer untouched
    ]
    assert await _answers(gw, expect=0) == []
