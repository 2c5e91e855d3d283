"""Rebuild the outbox from the topics (DESIGN.md §1): it replays what was recorded, it sends nothing.

The outbox (`outbox`, `outbox:vol:{volunteer_id}`, the store-once markers `outbox:stored:{id}`) holds
one message per notification the notifier reported delivered on the outbox channel. Each such
`notification.delivered` on `deliveries` (its `render_as`: the channel shape the text took) and its
request on `notifications` (recipient, kind, context) give the same message again: `templates.render`
is a pure function of the request. The message's `stored_at` becomes the time the delivery was
reported (milliseconds after the original store). Lists are refilled oldest first with the same caps,
so they read newest first as before; one `outbox` notice on `changes` tells the boards.

Not rebuilt here: claims and outcomes (`notif:*`), rate-limit state (`notifier:rate:*`) and the
sender index (`sender:*`): see DESIGN.md §1.

`rebuild_outbox(settings)` is what `sigap rebuild` calls (as the notifier's Redis user when one is
configured).
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
from services.common.topics import DELIVERIES, NOTIFICATIONS
from services.dispatcher.volunteers import read_to_end
from services.notifier.channels.base import Outgoing
from services.notifier.channels.outbox import MARKER_TTL_S, OutboxChannel
from services.notifier.plan import routes_for
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


async def rebuild_outbox(
    settings: Settings, redis: Redis | None = None, *, now: datetime | None = None, timeout_s: float = 300.0
) -> OutboxRebuild:
    """Replace the outbox with what `deliveries` and `notifications` record."""
    deliveries, bad_deliveries = await _events(settings, DELIVERIES, timeout_s)
    stored: dict[str, tuple[datetime, NotificationDelivered]] = {}
    for event in deliveries:
        payload = event.payload
        if isinstance(payload, NotificationDelivered) and payload.channel == ChannelType.OUTBOX:
            stored.setdefault(payload.notification_id, (event.occurred_at, payload))
    requests: dict[str, NotificationRequested] = {}
    notifications, bad_requests = await _events(settings, NOTIFICATIONS, timeout_s)
    for event in notifications:
        payload = event.payload
        if isinstance(payload, NotificationRequested) and payload.notification_id in stored:
            requests.setdefault(payload.notification_id, payload)

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
        for start in range(0, len(doomed), BATCH):
            await client.delete(*doomed[start : start + BATCH])
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
        undecodable=bad_deliveries + bad_requests,
    )
    log.info("outbox rebuilt: %s", result)
    return result
