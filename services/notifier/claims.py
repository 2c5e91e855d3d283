"""At-most-once hand-off per channel (DESIGN.md §4), held in Redis.

Before a hop (channel and address) of a notification is handed to a provider, the worker claims it
atomically (`lua/claim.lua`). A claim moves `claimed` → `sent` (with the provider's message id) or
`failed`; while a worker holds it, a heartbeat extends its lease. So, when the same request is
redelivered (a rebalance, a restart, a duplicate record):

- a `sent` hop is not sent again: its delivered event is re-emitted if the outcome was not reported;
- a `failed` hop is not tried again: the next channel is;
- a hop claimed by a live worker (lease current) is waited for;
- a notification whose outcome is reported is not claimed again (`done`);
- a hop claimed by a worker that died mid-send (lease expired, `stale`) is treated as **maybe sent**:
  it is not handed to that channel again, delivery moves on to the next channel. The exception is an
  idempotent channel (the outbox, whose store is itself deduplicated), where the stale claim is simply
  taken over.

Keys: `{SIGAP_REDIS_PREFIX}notif:{notification_id}` is a hash with one field per hop (`channel|address`,
a JSON claim) and `outcome` once the notification's result event is on `deliveries`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from services.common.redis import load_script
from services.notifier import SCRIPTS

CLAIM_TTL_S = 8 * 24 * 3600  # longer than the topic's retention: a redelivered record finds its claims
OUTCOME = "outcome"


class Verdict(StrEnum):
    MINE = "mine"
    BUSY = "busy"
    STALE = "stale"
    SENT = "sent"
    FAILED = "failed"
    DONE = "done"
    """the notification's outcome is already reported (`Claim.reason` holds it)"""


@dataclass(frozen=True, slots=True)
class Claim:
    verdict: Verdict
    provider_message_id: str = ""
    attempts: int = 0
    reason: str = ""
    lease_until_ms: int = 0
    finished_at_ms: int = 0


def _claim(verdict: str, raw: str) -> Claim:
    if verdict == Verdict.DONE:
        return Claim(Verdict.DONE, reason=raw)
    data: dict[str, Any] = json.loads(raw)
    return Claim(
        verdict=Verdict(verdict),
        provider_message_id=str(data.get("provider_message_id", "")),
        attempts=int(data.get("attempts", 0)),
        reason=str(data.get("reason", "")),
        lease_until_ms=int(data.get("lease_until", 0)),
        finished_at_ms=int(data.get("finished_at", 0)),
    )


@dataclass(frozen=True, slots=True)
class Finish:
    """A held claim, for a channel that finishes it itself (`Channel.finishes_claims`)."""

    key: str
    hop: str
    token: str
    attempts: int
    ttl_s: int


class Claims:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._claim = load_script(redis, SCRIPTS, "claim")
        self._renew = load_script(redis, SCRIPTS, "renew")
        self._finish = load_script(redis, SCRIPTS, "finish")
        self._release = load_script(redis, SCRIPTS, "release")
        self._outcome = load_script(redis, SCRIPTS, "outcome")

    def key(self, notification_id: str) -> str:
        return f"{self._prefix}notif:{notification_id}"

    async def outcome(self, notification_id: str) -> str | None:
        value = await self._redis.hget(self.key(notification_id), OUTCOME)
        return None if value is None else str(value)

    async def record_outcome(self, notification_id: str, outcome: str) -> None:
        await self._outcome(keys=[self.key(notification_id)], args=[outcome, CLAIM_TTL_S])

    async def claim(
        self, notification_id: str, hop: str, token: str, lease_s: float, *, take_over_stale: bool
    ) -> Claim:
        verdict, raw = await self._claim(
            keys=[self.key(notification_id)],
            args=[hop, token, int(lease_s * 1000), CLAIM_TTL_S, "1" if take_over_stale else "0"],
        )
        return _claim(verdict, raw)

    async def renew(self, held: list[tuple[str, str, str, float]]) -> None:
        """Heartbeat: extend every (notification_id, hop, token, lease_s) claim this worker holds."""
        if not held:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for notification_id, hop, token, lease_s in held:
                await self._renew(
                    keys=[self.key(notification_id)], args=[hop, token, int(lease_s * 1000)], client=pipe
                )
            await pipe.execute()

    async def finish_sent(
        self, notification_id: str, hop: str, token: str, provider_message_id: str, attempts: int
    ) -> bool:
        final = {"state": "sent", "provider_message_id": provider_message_id, "attempts": attempts}
        return await self._finish_with(notification_id, hop, token, final)

    async def finish_failed(
        self, notification_id: str, hop: str, token: str, reason: str, attempts: int
    ) -> bool:
        final = {"state": "failed", "reason": reason[:500], "attempts": attempts}
        return await self._finish_with(notification_id, hop, token, final)

    def finishing(self, notification_id: str, hop: str, token: str, attempts: int) -> Finish:
        """What a channel that stores its hand-off in Redis itself (the outbox) needs to mark the hop
        `sent` in the same atomic step (`finish.lua`'s rule: only the claim's holder finishes it)."""
        return Finish(self.key(notification_id), hop, token, attempts, CLAIM_TTL_S)

    async def _finish_with(self, notification_id: str, hop: str, token: str, final: dict[str, Any]) -> bool:
        done = await self._finish(
            keys=[self.key(notification_id)], args=[hop, token, json.dumps(final), CLAIM_TTL_S]
        )
        return bool(done)

    async def release(self, notification_id: str, hop: str, token: str) -> bool:
        return bool(await self._release(keys=[self.key(notification_id)], args=[hop, token]))
