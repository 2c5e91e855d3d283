"""Rebuild the outbox from the topics (DESIGN.md §1): it replays what was recorded, it sends nothing.

The outbox (`outbox`, `outbox:vol:{volunteer_id}`, the store-once markers `outbox:stored:{id}`) holds
one message per notification the notifier reported delivered on the outbox channel. Each such
`notification.delivered` on `deliveries` (its `render_as`: the channel shape the text took) and its
request on `notifications` (recipient, kind, context) give the same message again: `templates.render`
is a pure function of the request. The message's `stored_at` becomes the time the delivery was
reported (milliseconds after the original store). Lists are refilled oldest first with the same caps,
so they read newest first as before; one `outbox` notice on `changes` tells the boards.

The sender index (`sender:{channel}:{address}`: whose address it is and the last offer sent there,
what lets a volunteer answer by writing back) comes back the same way: every delivery on WhatsApp,
Telegram or SMS, oldest first, through the rule the notifier applies as it sends
(`senders.next_sender`), the address being the request's first address on that channel; each key
keeps what is left of its week (`SENDER_TTL_S` from the delivery).

Not rebuilt here: claims and outcomes (`notif:*`) and rate-limit state (`notifier:rate:*`): see
DESIGN.md §1.

`rebuild_notifier(settings)` is what `sigap rebuild` calls (as the notifier's Redis user when one is
configured): it reads the two topics once and rebuilds both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from schemas.envelope import Envelope, decode_event
from schemas.events import NotificationDelivered, NotificationRequested, Payload
from schemas.vocabulary import ChannelType
from services.common.config import Settings
from services.common.readmodels import Keys, change_notice
from services.common.redis import redis_for
from services.common.senders import SENDER_TTL_S, Sender, sender_key
from services.common.topics import DELIVERIES, NOTIFICATIONS
from services.dispatcher.volunteers import read_to_end
from services.notifier.channels.base import Outgoing
from services.notifier.channels.outbox import MARKER_TTL_S, OutboxChannel
from services.notifier.plan import routes_for
from services.notifier.senders import next_sender
from services.notifier.templates import render

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True, slots=True)
class OutboxRebuild:
    messages: int
    """messages back in the outbox"""
    missing_requests: int
    """outbox deliveries whose request is no longer on `notifications` (retention): left out"""
    undecodable: int
    """records of either topic that are not events (skipped, as the notifier skips them)"""


async def _events(settings: Settings, topic: str, timeout_s: float) -> tuple[list[Envelope[Payload]], int]:
    found: list[Envelope[Payload]] = []
    bad = 0
    async for batch in read_to_end(settings, settings.topic(topic), timeout_s=timeout_s):
        for record in batch:
            try:
                found.append(decode_event(record.value or b""))
            except ValueError:
                bad += 1
    return found, bad


def outgoing_for(
    request: NotificationRequested, delivered: NotificationDelivered, settings: Settings
) -> Outgoing:
    """The message the outbox stored for `request`: the route it took, replayed from what was
    recorded (`render_as`); for a report written before `render_as` existed, the route the notifier's
    channel rules give with the channels enabled now (`SIGAP_CHANNELS`)."""
    render_as = delivered.render_as
    channels = request.recipient.channels
    if render_as is None:
        routes = routes_for(channels, settings.channels)
        outbox_routes = [r for r in routes if r.channel == ChannelType.OUTBOX]
        render_as = outbox_routes[0].render_as if outbox_routes else ChannelType.OUTBOX
    address = next(
        (c.address for c in channels if c.type == render_as), channels[0].address if channels else ""
    )
    return Outgoing(
        notification_id=request.notification_id,
        kind=request.kind,
        address=address,
        language=request.recipient.language,
        rendered=render(request, sms_max_parts=settings.sms_max_parts),
        render_as=render_as,
        volunteer_id=request.recipient.volunteer_id,
        incident_id=request.incident_id,
        offer_id=request.offer_id,
    )


@dataclass(frozen=True, slots=True)
class SendersRebuild:
    senders: int
    """addresses whose record came back"""
    expired: int
    """addresses last written to more than `SENDER_TTL_S` ago: left out, as they would have expired"""


@dataclass(frozen=True, slots=True)
class Recorded:
    """What `deliveries` and `notifications` record of the messages delivered."""

    delivered: list[tuple[datetime, NotificationDelivered]]
    """every `notification.delivered`, with when it was reported, in the topics' order"""
    requests: dict[str, NotificationRequested]
    """the request of each delivered notification still on `notifications`"""
    undecodable: int


async def read_recorded(settings: Settings, timeout_s: float = 300.0) -> Recorded:
    deliveries, bad_deliveries = await _events(settings, DELIVERIES, timeout_s)
    delivered = [
        (event.occurred_at, event.payload)
        for event in deliveries
        if isinstance(event.payload, NotificationDelivered)
    ]
    wanted = {payload.notification_id for _, payload in delivered}
    requests: dict[str, NotificationRequested] = {}
    notifications, bad_requests = await _events(settings, NOTIFICATIONS, timeout_s)
    for event in notifications:
        payload = event.payload
        if isinstance(payload, NotificationRequested) and payload.notification_id in wanted:
            requests.setdefault(payload.notification_id, payload)
    return Recorded(delivered, requests, bad_deliveries + bad_requests)


async def rebuild_notifier(
    settings: Settings, *, now: datetime | None = None, timeout_s: float = 300.0
) -> tuple[OutboxRebuild, SendersRebuild]:
    """The notifier's keys that the topics give back: the outbox and the sender index."""
    recorded = await read_recorded(settings, timeout_s)
    client = redis_for(settings, "notifier")
    try:
        outbox = await rebuild_outbox(settings, client, now=now, recorded=recorded)
        senders = await rebuild_senders(settings, client, now=now, recorded=recorded)
    finally:
        await client.aclose()
    return outbox, senders


def senders_from(recorded: Recorded, now: datetime) -> tuple[dict[str, tuple[Sender, datetime]], int]:
    """Each address's record and when it was last written, replayed oldest delivery first; and how
    many addresses' records had expired by `now`."""
    book: dict[str, tuple[Sender, datetime]] = {}
    for at, delivered in sorted(recorded.delivered, key=lambda item: item[0]):
        request = recorded.requests.get(delivered.notification_id)
        if request is None:
            continue
        address = next((c.address for c in request.recipient.channels if c.type == delivered.channel), None)
        if address is None:
            continue
        key = sender_key("", delivered.channel, address)
        known = book.get(key)
        sender = next_sender(
            known[0] if known else None,
            delivered.channel,
            kind=request.kind,
            volunteer_id=request.recipient.volunteer_id,
            offer_id=request.offer_id,
            language=request.recipient.language,
        )
        if sender is not None:
            book[key] = (sender, at)
    live = {k: v for k, v in book.items() if (now - v[1]).total_seconds() < SENDER_TTL_S}
    return live, len(book) - len(live)


async def _delete(client: Redis, doomed: list[str]) -> None:
    for start in range(0, len(doomed), BATCH):
        await client.delete(*doomed[start : start + BATCH])


async def rebuild_senders(
    settings: Settings,
    redis: Redis | None = None,
    *,
    now: datetime | None = None,
    timeout_s: float = 300.0,
    recorded: Recorded | None = None,
) -> SendersRebuild:
    """Replace the sender index with what `deliveries` and `notifications` record."""
    recorded = recorded or await read_recorded(settings, timeout_s)
    moment = now or datetime.now(UTC)
    book, expired = senders_from(recorded, moment)
    client = redis if redis is not None else redis_for(settings, "notifier")
    prefix = Keys(settings.redis_prefix).prefix
    try:
        await _delete(client, [k async for k in client.scan_iter(match=f"{prefix}sender:*", count=1000)])
        items = list(book.items())
        for start in range(0, len(items), BATCH):
            pipe = client.pipeline(transaction=False)
            for key, (sender, at) in items[start : start + BATCH]:
                left = SENDER_TTL_S - int((moment - at).total_seconds())
                pipe.set(prefix + key, sender.dump(), ex=max(left, 1))
            await pipe.execute()
    finally:
        if redis is None:
            await client.aclose()
    result = SendersRebuild(senders=len(book), expired=expired)
    log.info("sender index rebuilt: %s", result)
    return result


async def rebuild_outbox(
    settings: Settings,
    redis: Redis | None = None,
    *,
    now: datetime | None = None,
    timeout_s: float = 300.0,
    recorded: Recorded | None = None,
) -> OutboxRebuild:
    """Replace the outbox with what `deliveries` and `notifications` record."""
    recorded = recorded or await read_recorded(settings, timeout_s)
    stored: dict[str, tuple[datetime, NotificationDelivered]] = {}
    for at, payload in recorded.delivered:
        if payload.channel == ChannelType.OUTBOX:
            stored.setdefault(payload.notification_id, (at, payload))
    requests = {nid: r for nid, r in recorded.requests.items() if nid in stored}

    client = redis if redis is not None else redis_for(settings, "notifier")
    messages = [
        OutboxChannel.document(outgoing_for(requests[nid], delivered, settings), at)
        for nid, (at, delivered) in sorted(stored.items(), key=lambda item: item[1][0])
        if nid in requests
    ]
    keys = Keys(settings.redis_prefix)
    moment = now or datetime.now(UTC)
    try:
        doomed = [keys.outbox]
        doomed += [k async for k in client.scan_iter(match=f"{keys.prefix}outbox:*", count=1000)]
        await _delete(client, doomed)
        for start in range(0, len(messages), BATCH):
            pipe = client.pipeline(transaction=False)
            for message in messages[start : start + BATCH]:
                doc = message.model_dump_json()
                pipe.lpush(keys.outbox, doc)
                if message.volunteer_id:
                    pipe.lpush(keys.volunteer_outbox(message.volunteer_id), doc)
                    pipe.ltrim(
                        keys.volunteer_outbox(message.volunteer_id), 0, settings.outbox_volunteer_max - 1
                    )
                left = MARKER_TTL_S - int((moment - message.stored_at).total_seconds())
                if left > 0:
                    pipe.set(f"{keys.prefix}outbox:stored:{message.notification_id}", "1", ex=left)
            pipe.ltrim(keys.outbox, 0, settings.outbox_max - 1)
            await pipe.execute()
        await client.publish(keys.changes, change_notice("outbox", "*"))
    finally:
        if redis is None:
            await client.aclose()
    result = OutboxRebuild(
        messages=len(messages),
        missing_requests=len(stored) - len(messages),
        undecodable=recorded.undecodable,
    )
    log.info("outbox rebuilt: %s", result)
    return result
