"""The sender index's rule (`senders.next_sender`) and its replay over recorded deliveries
(`rebuild.senders_from`): pure, no servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.events import NotificationDelivered
from schemas.vocabulary import ChannelType, Language, NotificationKind
from services.common.senders import SENDER_TTL_S, Sender
from services.notifier.rebuild import Recorded, senders_from
from services.notifier.senders import next_sender
from tests.unit.notifier.samples import request

WA = ChannelType.WHATSAPP


def rule(known: Sender | None, channel: ChannelType, *message: str | None) -> Sender | None:
    """`next_sender` for a message (kind, volunteer, offer, language) — kind and language by name."""
    kind, vid, offer, lang = message
    return next_sender(
        known,
        channel,
        kind=NotificationKind[str(kind)],
        volunteer_id=vid,
        offer_id=offer,
        language=Language[str(lang)],
    )


T0 = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


def test_an_offer_names_itself_and_a_notice_keeps_the_last_offer_of_the_same_volunteer() -> None:
    offer = rule(None, WA, "OFFER", "V-1", "of-1", "ID")
    assert offer == Sender("V-1", "of-1", Language.ID)
    assert rule(offer, WA, "WITHDRAWAL", "V-1", None, "ID") == Sender("V-1", "of-1")
    # the number changed hands: a notice to someone else does not inherit the other's offer
    assert rule(offer, WA, "WITHDRAWAL", "V-2", None, "EN") == Sender("V-2", None, Language.EN)


def test_replies_channels_nobody_answers_on_and_anonymous_messages_are_not_recorded() -> None:
    assert rule(None, WA, "REPLY", "V-1", None, "ID") is None
    assert rule(None, ChannelType.EMAIL, "OFFER", "V-1", "of-1", "ID") is None
    assert rule(None, ChannelType.OUTBOX, "OFFER", "V-1", "of-1", "ID") is None
    assert rule(None, WA, "OFFER", None, "of-1", "ID") is None


def _delivered(req_channel: ChannelType, nid: str) -> NotificationDelivered:
    return NotificationDelivered(notification_id=nid, channel=req_channel, attempts=1, latency_ms=5.0)


def test_the_replay_follows_delivery_order_forms_of_a_number_and_the_week_a_record_lives() -> None:
    first = request([("whatsapp", "081234567890")], notification_id="n1", volunteer_id="V-1")
    notice = request(
        [("whatsapp", "+6281234567890")], kind="withdrawal", notification_id="n2", volunteer_id="V-1"
    )
    old = request([("sms", "085700000001")], notification_id="n3", volunteer_id="V-3")
    mail = request([("email", "a@example.id")], notification_id="n4", volunteer_id="V-4")
    lost = _delivered(WA, "n5")  # its request is no longer on `notifications`
    recorded = Recorded(
        delivered=[
            (T0 + timedelta(seconds=2), _delivered(WA, "n2")),  # reported later, listed first
            (T0, _delivered(WA, "n1")),
            (T0 - timedelta(seconds=SENDER_TTL_S + 60), _delivered(ChannelType.SMS, "n3")),
            (T0, _delivered(ChannelType.EMAIL, "n4")),
            (T0, lost),
        ],
        requests={r.notification_id: r for r in (first, notice, old, mail)},
        undecodable=0,
    )
    book, expired = senders_from(recorded, T0 + timedelta(minutes=1))
    assert expired == 1
    assert {key: sender for key, (sender, _) in book.items()} == {
        "sender:whatsapp:6281234567890": Sender("V-1", "off-1", Language.ID)
    }
    assert book["sender:whatsapp:6281234567890"][1] == T0 + timedelta(seconds=2)
