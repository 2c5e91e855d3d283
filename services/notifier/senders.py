"""The notifier's side of `services.common.senders`: after a volunteer's message is handed to WhatsApp,
Telegram or SMS, remember whose address it was, so the gateway can tell who writes back.

`next_sender` is the rule, pure: `RedisSenderBook` applies it as messages go out, and
`services.notifier.rebuild.rebuild_senders` replays it over `deliveries` + `notifications` after a
Redis loss."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas.vocabulary import ChannelType, Language, NotificationKind
from services.common.senders import ANSWER_CHANNELS, SENDER_TTL_S, Sender, sender_key
from services.notifier.channels.base import Outgoing, mask

log = logging.getLogger(__name__)


def next_sender(
    known: Sender | None,
    channel: ChannelType,
    *,
    kind: NotificationKind,
    volunteer_id: str | None,
    offer_id: str | None,
    language: Language,
) -> Sender | None:
    """What the address's record becomes once a message of `kind` went out on `channel` (None: it
    stays as it is). An offer names itself; a notice to the same volunteer keeps the last offer sent
    there (for a late answer); replies and channels nobody answers on are not recorded."""
    if channel not in ANSWER_CHANNELS or not volunteer_id or kind == NotificationKind.REPLY:
        return None
    if kind == NotificationKind.OFFER:
        return Sender(volunteer_id, offer_id, language)
    kept = known.offer_id if known is not None and known.volunteer_id == volunteer_id else None
    return Sender(volunteer_id, kept, language)


class RedisSenderBook:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def remember(self, outgoing: Outgoing, channel: ChannelType) -> None:
        if (
            next_sender(
                None,
                channel,
                kind=outgoing.kind,
                volunteer_id=outgoing.volunteer_id,
                offer_id=None,
                language=outgoing.language,
            )
            is None
        ):
            return
        key = sender_key(self._prefix, channel, outgoing.address)
        try:
            known = None
            if outgoing.kind != NotificationKind.OFFER:
                raw = await self._redis.get(key)
                known = Sender.load(raw) if raw else None
            sender = next_sender(
                known,
                channel,
                kind=outgoing.kind,
                volunteer_id=outgoing.volunteer_id,
                offer_id=outgoing.offer_id,
                language=outgoing.language,
            )
            if sender is not None:
                await self._redis.set(key, sender.dump(), ex=SENDER_TTL_S)
        except (RedisError, OSError) as exc:  # the message is out; a reply then gets the help text
            log.warning("could not record the sender %s: %s", mask(outgoing.address), exc)
