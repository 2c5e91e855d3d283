"""From a BMKG document to a `weather-alerts` event: parse, match, decide, dedupe, publish.

The pollers and `POST /api/v1/weather/cap` share this path, so a warning that arrives both ways is
published once. Parsing and polygon matching run in a worker thread: a 1 MiB document of polygons must
not stall the gateway's event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from schemas.envelope import Envelope, make_event
from schemas.events import Payload
from schemas.fields import utcnow
from services.gateway.bmkg.area import NOWHERE, Affected
from services.gateway.bmkg.cap import CapAlert, assess_cap, match_cap, parse_cap
from services.gateway.bmkg.errors import FeedError
from services.gateway.bmkg.metrics import DOCUMENTS
from services.gateway.bmkg.outcome import IgnoreCode, Ignored, Outcome, Produce
from services.gateway.bmkg.quake import DEFAULT_RULES, Quake, QuakeRules, assess_quake
from services.gateway.bmkg.store import AlertStore
from services.gateway.bmkg.xmlsafe import DEFAULT_MAX_BYTES

log = logging.getLogger(__name__)

SOURCE = "gateway.bmkg"
ResultStatus = Literal["issued", "updated", "cancelled", "ignored", "duplicate"]
Send = Callable[[Envelope[Payload]], Awaitable[None]]
"""Put one event on `weather-alerts` and return once the broker has acknowledged it."""


@dataclass(frozen=True, slots=True)
class Result:
    alert_id: str
    status: ResultStatus
    affected: Affected = NOWHERE
    reason: str = ""
    code: IgnoreCode | None = None  # why it was ignored


def event_id_for(dedupe_key: str) -> str:
    """The same document always gets the same event id, so a retried publish is a duplicate the
    dispatcher's idempotency catches (DESIGN.md §3.9), even across gateway replicas."""
    return hashlib.sha256(f"bmkg|{dedupe_key}".encode()).hexdigest()[:32]


def _parse_and_match(data: bytes, max_bytes: int) -> tuple[CapAlert, Affected]:
    alert = parse_cap(data, max_bytes=max_bytes)
    return alert, match_cap(alert)


class Ingestor:
    def __init__(
        self,
        *,
        send: Send,
        store: AlertStore,
        max_bytes: int = DEFAULT_MAX_BYTES,
        rules: QuakeRules = DEFAULT_RULES,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.send = send
        self.store = store
        self.max_bytes = max_bytes
        self.rules = rules
        self.clock = clock

    async def cap_document(self, data: bytes, *, origin: str) -> Result:
        """A CAP 1.2 document from a feed or an operator. Raises CapError when it is unusable."""
        try:
            alert, affected = await asyncio.to_thread(_parse_and_match, data, self.max_bytes)
        except FeedError as exc:
            DOCUMENTS.labels(origin, "rejected").inc()
            log.warning("%s: CAP document rejected (%s): %s", origin, exc.code, exc.reason)
            raise
        for warning in alert.warnings:
            log.warning("%s: CAP %s: %s", origin, alert.identifier, warning)
        known = await self.store.known_among(alert.referenced_ids)
        outcome = assess_cap(alert, affected, now=self.clock(), known_alert_ids=known)
        return await self._apply(outcome, origin)

    async def quake(self, quake: Quake, *, origin: str) -> Result:
        return await self._apply(assess_quake(quake, now=self.clock(), rules=self.rules), origin)

    async def _apply(self, outcome: Outcome, origin: str) -> Result:
        if isinstance(outcome, Ignored):
            DOCUMENTS.labels(origin, "ignored").inc()
            log.info("%s: %s ignored: %s", origin, outcome.alert_id, outcome.reason)
            return Result(outcome.alert_id, "ignored", reason=outcome.reason, code=outcome.code)
        if not await self.store.claim(outcome.dedupe_key):
            DOCUMENTS.labels(origin, "duplicate").inc()
            log.debug("%s: %s already published", origin, outcome.dedupe_key)
            return Result(outcome.alert_id, "duplicate", outcome.affected, "already received")
        await self._publish(outcome)
        DOCUMENTS.labels(origin, outcome.status).inc()
        log.info(
            "%s: %s %s, %d kelurahan affected",
            origin,
            outcome.alert_id,
            outcome.status,
            len(outcome.affected.kelurahan),
        )
        return Result(outcome.alert_id, outcome.status, outcome.affected)

    async def _publish(self, outcome: Produce) -> None:
        now = self.clock()
        payload: Payload = outcome.payload
        event = make_event(payload, source=SOURCE, event_id=event_id_for(outcome.dedupe_key), occurred_at=now)
        try:
            await self.send(event)
        except BaseException:
            # not acknowledged: forget the claim so the next poll (or the operator's retry) sends it
            await asyncio.shield(self.store.release(outcome.dedupe_key))
            raise
        sent = getattr(outcome.payload, "sent", None) or now
        await self.store.remember(outcome.alert_id, sent.timestamp())
