"""A volunteer's answer on a chat channel (issue 18): a button press or a text reply from WhatsApp,
Telegram or SMS, turned into the same `responses` event as an answer through the link.

The webhooks (`routes/webhooks.py`) only check the provider's signature and read its payload into an
`Inbound`; everything else is here, the same for every channel:

- **Once per provider message.** Meta and Telegram redeliver; `{prefix}gw:inbound:{channel}:{id}` (the
  gateway's own key, `SIGAP_INBOUND_DEDUPE_TTL_S`) is claimed with `SET NX` first, so the same message
  id twice changes nothing. When handling fails (Kafka or Redis down) the claim is dropped and the
  webhook answers 503, so the provider's retry is handled.
- **A button** carries `links.sign_answer`'s signed reference: it must verify against the offer's own
  volunteer, and the sender must be that volunteer (their phone, or their address on the channel).
- **A text** "SIAP" / "YA" / "TIDAK" (with or without the offer's 4-digit code) answers the sender's
  open offer: the sender is found through the notifier's record of whom it wrote to
  (`services.common.senders`), their open offer through the roster (a volunteer holds at most one).
- **Late and closed** answers get the link page's rules (an expired offer cannot be answered, a closed
  incident neither) and a short reply saying so; a withdrawn offer of an open incident was filled.
- **Unknown senders** are logged (masked) and ignored; the provider still gets 200, so it does not retry.

Replies go out as `reply` notifications through the notifier (one per inbound message, deterministic
id). The outcome of an accepted or declined answer is the dispatcher's to tell (it alone knows whether a
slot was still open): it sends it as a `reply` notification too, editing the Telegram message pressed.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from schemas.envelope import make_event
from schemas.events import ChannelAddress, MessageContext, NotificationRequested, Recipient, VolunteerProfile
from schemas.vocabulary import AssignmentStatus, ChannelType, Language, NotificationKind
from services.common.links import InvalidToken, parse_answer, short_code
from services.common.notifications import notification_id
from services.common.replies import ReplyCode, parse_answer_text, reply_text
from services.common.senders import PHONE_CHANNELS, Sender, address_key, sender_key
from services.common.topics import NOTIFICATIONS
from services.gateway import commands
from services.gateway.context import Gateway
from services.gateway.errors import ApiError, StoreUnavailable
from services.gateway.reads import OfferRef, RosterEntry, store_errors

log = logging.getLogger(__name__)

SOURCE = "gateway"
REPLY_TTL = timedelta(minutes=10)
"""a reply not handed over within this long is not worth sending any more"""
_GOING = frozenset({AssignmentStatus.ACCEPTED, AssignmentStatus.EN_ROUTE, AssignmentStatus.ON_SCENE})


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from a volunteer's phone, as a provider delivered it."""

    channel: ChannelType
    message_id: str
    sender: str
    """the address it came from (a phone number, a Telegram user id)"""
    reply_address: str
    """where an answer goes (the same number; the Telegram chat)"""
    ref: str | None = None
    """a pressed button's reference"""
    text: str | None = None
    channel_ref: str = ""
    """the message answered (Telegram `chat_id:message_id`), edited to show the outcome"""


Result = Literal[
    "accepted",
    "declined",
    "duplicate",
    "unknown_sender",
    "wrong_sender",
    "forged",
    "help",
    "no_offer",
    "code_mismatch",
    "late",
]


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    reply: ReplyCode | None = None
    """what the sender is told now (None: nothing, or the dispatcher tells the outcome)"""
    language: Language = Language.ID
    offer_id: str | None = None

    @property
    def reply_text(self) -> str | None:
        return reply_text(self.reply, self.language) if self.reply else None


def mask(address: str) -> str:
    return "***" if len(address) <= 6 else f"{address[:4]}***{address[-2:]}"


async def receive(gw: Gateway, message: Inbound) -> Outcome:
    """Handle one inbound message at most once; answer what became of it."""
    key = f"{gw.keys.prefix}gw:inbound:{message.channel.value}:{message.message_id[:200]}"
    with store_errors():
        first = await gw.redis.set(key, "1", nx=True, ex=gw.settings.inbound_dedupe_ttl_s)
    if not first:
        log.info("%s message %s seen before; ignored", message.channel.value, message.message_id[:80])
        return Outcome("duplicate")
    try:
        outcome = await _handle(gw, message)
        if outcome.reply is not None and outcome.result not in ("accepted", "declined"):
            await _send_reply(gw, message, outcome)
    except BaseException:
        with contextlib.suppress(StoreUnavailable, OSError), store_errors():
            await gw.redis.delete(key)  # let the provider's retry be handled
        raise
    gw.metrics.inbound.labels(message.channel.value, outcome.result).inc()
    return outcome


async def _handle(gw: Gateway, message: Inbound) -> Outcome:
    if message.ref is not None:
        return await _button(gw, message)
    return await _text(gw, message)


def owns(profile: VolunteerProfile, channel: ChannelType, address: str) -> bool:
    """Is `address` the volunteer's own on `channel` (their phone counts on WhatsApp and SMS)?"""
    theirs = {address_key(channel, c.address) for c in profile.channels if c.type == channel}
    if channel in PHONE_CHANNELS:
        theirs.add(address_key(channel, profile.phone))
    return address_key(channel, address) in theirs


async def _button(gw: Gateway, message: Inbound) -> Outcome:
    assert message.ref is not None  # noqa: S101 - the caller's branch
    known = await _sender(gw, message)
    language = known.language if known else Language.ID
    try:
        ref = parse_answer(message.ref)
    except InvalidToken:
        log.warning("%s: malformed button reference from %s", message.channel.value, mask(message.sender))
        return Outcome("forged", "forged" if known else None, language)
    offer = await gw.reads.offer(ref.offer_id)
    if offer is None or not ref.genuine_for(offer.volunteer_id, gw.settings.link_secret):
        log.warning("%s: forged button reference from %s", message.channel.value, mask(message.sender))
        return Outcome("forged", "forged" if known else None, language)
    entry = await gw.reads.roster_entry(offer.volunteer_id)
    if entry is None or not owns(entry.profile, message.channel, message.sender):
        log.warning(
            "%s: %s pressed a button of offer %s, which is not theirs; ignored",
            message.channel.value,
            mask(message.sender),
            offer.offer_id,
        )
        return Outcome("wrong_sender", None, language, offer.offer_id)
    return await _answer(gw, message, offer, "accept" if ref.answer == "y" else "decline", entry)


async def _sender(gw: Gateway, message: Inbound) -> Sender | None:
    with store_errors():
        raw = await gw.redis.get(sender_key(gw.keys.prefix, message.channel, message.sender))
    return Sender.load(raw) if raw else None


async def _text(gw: Gateway, message: Inbound) -> Outcome:
    known = await _sender(gw, message)
    entry = await gw.reads.roster_entry(known.volunteer_id) if known else None
    if known is None or entry is None or not owns(entry.profile, message.channel, message.sender):
        log.info("%s message from unknown sender %s ignored", message.channel.value, mask(message.sender))
        return Outcome("unknown_sender")
    language = entry.profile.language
    parsed = parse_answer_text(message.text or "")
    if parsed is None:
        return Outcome("help", "help", language)
    action, code = parsed
    offer = await _open_offer(gw, entry)
    if offer is None and known.offer_id:  # nothing open: maybe a late answer to the last offer sent here
        last = await gw.reads.offer(known.offer_id)
        if last is not None and last.volunteer_id == entry.profile.volunteer_id:
            if code is not None and code != short_code(last.offer_id):
                return Outcome("code_mismatch", "code_mismatch", language, last.offer_id)
            return await _answer(gw, message, last, action, entry)
    if offer is None:
        return Outcome("no_offer", "no_offer", language)
    if code is not None and code != short_code(offer.offer_id):
        return Outcome("code_mismatch", "code_mismatch", language, offer.offer_id)
    return await _answer(gw, message, offer, action, entry)


async def _open_offer(gw: Gateway, entry: RosterEntry) -> OfferRef | None:
    """The volunteer's one open offer (rule 4: they hold at most one offer or assignment)."""
    active = entry.fields.get("offer_id")
    offer = await gw.reads.offer(active) if active else None
    if offer is None or offer.status != AssignmentStatus.OFFERED:
        return None
    return offer if offer.volunteer_id == entry.profile.volunteer_id else None


async def _answer(
    gw: Gateway, message: Inbound, offer: OfferRef, action: Literal["accept", "decline"], entry: RosterEntry
) -> Outcome:
    language = entry.profile.language
    incident = await gw.reads.incident(offer.incident_id)
    if incident is not None and not incident.status.is_open:
        return Outcome("late", "closed", language, offer.offer_id)
    try:
        await commands.act_on_offer(
            gw,
            offer,
            action,
            via="link",
            by=None,
            channel=message.channel,
            channel_ref=message.channel_ref,
        )
    except ApiError as exc:
        if exc.status != 409:
            raise
        return Outcome("late", _late_reply(offer.status, action, exc.code), language, offer.offer_id)
    result: Result = "accepted" if action == "accept" else "declined"
    return Outcome(result, "received", language, offer.offer_id)


def _late_reply(status: AssignmentStatus, action: str, code: str) -> ReplyCode:
    """What an answer that can no longer be taken is told (the link page's cases)."""
    if code == "offer_expired" or status == AssignmentStatus.EXPIRED:
        return "expired"
    if status == AssignmentStatus.WITHDRAWN:
        return "filled"  # withdrawn while the incident is open: the places were filled
    if status in _GOING:
        return "already_accepted" if action == "accept" else "closed"
    if status == AssignmentStatus.DECLINED:
        return "already_declined"
    return "closed"


async def _send_reply(gw: Gateway, message: Inbound, outcome: Outcome) -> None:
    """The reply, as a notification the notifier delivers on the channel the message came from."""
    text = outcome.reply_text
    if text is None:
        return
    # an offer that is over shows why in place of its buttons; a help text never replaces an offer
    edit = bool(message.channel_ref) and outcome.result == "late"
    request = NotificationRequested(
        notification_id=notification_id("reply", message.channel.value, message.message_id),
        kind=NotificationKind.REPLY,
        recipient=Recipient(
            name="Relawan",
            language=outcome.language,
            channels=[ChannelAddress(type=message.channel, address=message.reply_address)],
        ),
        deadline=gw.clock() + REPLY_TTL,
        offer_id=outcome.offer_id,
        context=MessageContext(reason=text, extra={"reply_to": message.channel_ref} if edit else {}),
    )
    await gw.publisher.publish(NOTIFICATIONS, make_event(request, source=SOURCE))
