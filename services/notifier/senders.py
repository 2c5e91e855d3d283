"""The notifier's side of `services.common.senders`: after a volunteer's message is handed to WhatsApp,
Telegram or SMS, remember whose address it was, so the gateway can tell who writes back."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas.vocabulary import ChannelType, NotificationKind
from services.common.senders import ANSWER_CHANNELS, SENDER_TTL_S, Sender, sender_key
from services.notifier.channels.base import Outgoing, mask

log = logging.getLogger(__name__)


class RedisSenderBook:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def remember(self, outgoing: Outgoing, channel: ChannelType) -> None:
        if (
            channel not in ANSWER_CHANNELS
            or not outgoing.volunteer_id
            or outgoing.kind == NotificationKind.REPLY
        ):
            return
        offer_id = outgoing.offer_id if outgoing.kind == NotificationKind.OFFER else None
        key = sender_key(self._prefix, channel, outgoing.address)
        try:
            if offer_id is None:  # a notice keeps the last offer sent there (for a late answer)
                raw = await self._redis.get(key)
                known = Sender.load(raw) if raw else None
                if known is not None and known.volunteer_id == outgoing.volunteer_id:
                    offer_id = known.offer_id
            sender = Sender(outgoing.volunteer_id, offer_id, outgoing.language)
            await self._redis.set(key, sender.dump(), ex=SENDER_TTL_S)
        except (RedisError, OSError) as exc:  # the message is out; a reply then gets the help text
            log.warning("could not record the sender %s: %s", mask(outgoing.address), exc)
