"""The outbox: the rendered message stored in Redis for the board and `GET /api/v1/outbox`
(`services/common/readmodels.py`: `outbox` and `outbox:vol:{volunteer_id}`, newest first, capped), with
a `{"kind": "outbox", "id": notification_id}` notice on the `changes` channel.

`channel` and `address` of the stored `OutboxMessage` are those the text was rendered for: the
volunteer's own channel when the outbox stands in for it (outbox-only mode), `outbox` when the volunteer
listed the outbox. The store is deduplicated by notification id, so this channel is idempotent.
"""

from __future__ import annotations

import json
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from schemas.api import OutboxMessage
from schemas.vocabulary import ChannelType
from services.common.clock import Clock, system_clock
from services.common.readmodels import Keys, change_notice
from services.common.redis import load_script
from services.notifier import SCRIPTS
from services.notifier.channels.base import Outgoing
from services.notifier.errors import ConnectionFailed, ProviderTimeout, ServerError
from services.notifier.settings import NotifierSettings

MARKER_TTL_S = 8 * 24 * 3600


class OutboxChannel:
    type = ChannelType.OUTBOX
    idempotent = True
    finishes_claims = True

    def __init__(self, settings: NotifierSettings, redis: Redis, clock: Clock = system_clock) -> None:
        self._settings = settings
        self._clock = clock
        self._keys = Keys(settings.redis_prefix)
        self._store = load_script(redis, SCRIPTS, "outbox_store")

    def check_configured(self) -> None:
        self.check(self._settings)

    @staticmethod
    def check(s: NotifierSettings) -> None:
        """Needs nothing beyond Redis."""

    @staticmethod
    def document(message: Outgoing, stored_at: datetime) -> OutboxMessage:
        return OutboxMessage(
            notification_id=message.notification_id,
            volunteer_id=message.volunteer_id,
            kind=message.kind,
            channel=message.render_as,
            address=message.address,
            language=message.language,
            subject=message.rendered.subject,
            text=message.text,
            response_url=message.rendered.response_url,
            incident_id=message.incident_id,
            offer_id=message.offer_id,
            stored_at=stored_at,
        )

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        """Store the message and, when `message.finish` names the hop's claim, mark it sent in the same
        script (the provider's message id is the notification id)."""
        doc = self.document(message, self._clock())
        keys = self._keys
        finish = message.finish
        claim_args: list[str | int] = []
        if finish is not None:
            final = {
                "state": "sent",
                "provider_message_id": message.notification_id,
                "attempts": finish.attempts,
            }
            claim_args = [finish.hop, finish.token, json.dumps(final), finish.ttl_s]
        keys_used = [f"{keys.prefix}outbox:stored:{message.notification_id}", keys.outbox]
        if message.volunteer_id:
            keys_used.append(keys.volunteer_outbox(message.volunteer_id))
        if finish is not None:
            keys_used.append(finish.key)
        try:
            await self._store(
                keys=keys_used,
                args=[
                    doc.model_dump_json(),
                    self._settings.outbox_max,
                    self._settings.outbox_volunteer_max,
                    MARKER_TTL_S,
                    keys.changes,
                    change_notice("outbox", message.notification_id),
                    "1" if message.volunteer_id else "0",
                    *claim_args,
                ],
            )
        except RedisConnectionError:
            raise ConnectionFailed("outbox: Redis unreachable") from None
        except RedisTimeoutError:
            raise ProviderTimeout("outbox: Redis did not answer") from None
        except RedisError as exc:
            raise ServerError(f"outbox: {type(exc).__name__}: {exc}"[:300]) from None
        return message.notification_id
