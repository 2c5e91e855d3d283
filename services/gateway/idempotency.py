"""`Idempotency-Key` for incident posts: a retried post answers the same incident id.

`idem:{key}` holds `{id, event_id, fp, state, at}` for a day. The first request claims the key with
`SET NX`, so concurrent retries agree on one id. The owner publishes and marks the record `done`; a
retry of a `done` post answers at once; a retry that finds the post `failed` (or `pending` for longer
than a publish can take: its gateway died) publishes the *same* event again (same incident id and
event id, which the dispatcher deduplicates) instead of inventing a new incident. A retry with a
different body is a conflict: the key names one post.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, replace

from redis.asyncio import Redis

from services.common.readmodels import Keys
from services.gateway.errors import ApiError, conflict
from services.gateway.reads import store_errors

TTL_S = 24 * 3600
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


@dataclass(frozen=True, slots=True)
class IdemRecord:
    id: str
    event_id: str
    fp: str
    state: str  # pending | done | failed
    at: float


@dataclass(frozen=True, slots=True)
class Claim:
    record: IdemRecord
    publish: bool  # False: an earlier request already published it; answer the same id


def fingerprint(canonical_body: str) -> str:
    return hashlib.sha256(canonical_body.encode()).hexdigest()[:32]


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ApiError(
            422,
            "validation_error",
            "invalid request: Idempotency-Key",
            [
                {
                    "field": "Idempotency-Key",
                    "location": "header",
                    "message": "1 to 200 printable ASCII characters without spaces",
                    "type": "value_error",
                }
            ],
        )
    return key


class IdempotencyStore:
    def __init__(self, redis: Redis, keys: Keys, *, stale_after_s: float = 30.0, poll_s: float = 0.1) -> None:
        self.redis = redis
        self.keys = keys
        self.stale_after_s = stale_after_s
        self.poll_s = poll_s

    async def claim(self, key: str, fp: str, new_id: str, new_event_id: str) -> Claim:
        """Claim `key` for a post whose body has fingerprint `fp`."""
        redis_key = self.keys.idempotency(check_key(key))
        mine = IdemRecord(new_id, new_event_id, fp, "pending", time.time())
        deadline = time.monotonic() + self.stale_after_s + 5
        while True:
            with store_errors():
                if await self.redis.set(redis_key, _dump(mine), nx=True, ex=TTL_S):
                    return Claim(mine, publish=True)
                raw = await self.redis.get(redis_key)
            if raw is None:
                continue  # expired between SET and GET: claim again
            theirs = IdemRecord(**json.loads(raw))
            if theirs.fp != fp:
                raise conflict(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different incident post",
                    incident_id=theirs.id,
                )
            if theirs.state == "done":
                return Claim(theirs, publish=False)
            stale = time.time() - theirs.at > self.stale_after_s
            if theirs.state == "failed" or stale or time.monotonic() > deadline:
                taken = replace(theirs, state="pending", at=time.time())
                with store_errors():
                    await self.redis.set(redis_key, _dump(taken), xx=True, keepttl=True)
                return Claim(taken, publish=True)
            await asyncio.sleep(self.poll_s)  # another request is publishing it right now

    async def finish(self, key: str, record: IdemRecord, *, ok: bool) -> None:
        done = replace(record, state="done" if ok else "failed", at=time.time())
        with store_errors():
            await self.redis.set(self.keys.idempotency(key), _dump(done), xx=True, keepttl=True)

    async def once(self, key: str, ttl_s: int) -> bool:
        """True the first time `key` is seen within `ttl_s` (double-click guard of the link pages)."""
        with store_errors():
            return bool(await self.redis.set(self.keys.idempotency(key), "1", nx=True, ex=ttl_s))

    async def forget(self, key: str) -> None:
        with store_errors():
            await self.redis.delete(self.keys.idempotency(key))


def _dump(record: IdemRecord) -> str:
    return json.dumps(asdict(record), separators=(",", ":"))
