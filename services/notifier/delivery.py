"""One notification through its channels (DESIGN.md §4): claim the hop, wait for a sending slot, hand
it over, retry what is retriable with backoff, never start a hand-off after the deadline, fall back to
the next channel, and report the outcome (`notification.delivered`, or `notification.failed` and a
dead letter when every channel failed for good).

The decisions are the pure functions of `plan.py`; this module is the loop that applies them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from schemas.envelope import Envelope
from schemas.events import NotificationDelivered, NotificationFailed, NotificationRequested
from schemas.vocabulary import ChannelType
from services.common.clock import Clock, system_clock
from services.notifier import metrics
from services.notifier.channels import Channel, Outgoing, mask
from services.notifier.claims import Claims, Verdict
from services.notifier.errors import DeadlinePassed, DeliveryError, Misconfigured, ProviderTimeout
from services.notifier.limits import NotifierConfig
from services.notifier.plan import GiveUp, Route, after_failure, effective_deadline, routes_for
from services.notifier.ratelimit import ChannelGate
from services.notifier.templates import render

log = logging.getLogger(__name__)

BUSY_POLL_S = 0.25
OUTCOME_GRACE_S = 5.0
TIMEOUT_GRACE_S = 0.5
"""the adapter's own timeouts fire first; this outer guard only catches a provider that trickles"""


@dataclass(frozen=True, slots=True)
class Record:
    """Where a request came from, for dead letters and latency."""

    raw: bytes | None
    topic: str
    partition: int | None
    offset: int | None
    key: bytes | None
    timestamp: datetime
    """the record's timestamp: hand-off latency is measured from it"""


class SenderBook(Protocol):
    """Remembers which volunteer an address belongs to (`services.common.senders`)."""

    async def remember(self, outgoing: Outgoing, channel: ChannelType) -> None: ...


class Reports(Protocol):
    async def delivered(self, payload: NotificationDelivered, correlation_id: str | None) -> None: ...

    async def failed(self, payload: NotificationFailed, correlation_id: str | None) -> None: ...

    async def dead_letter(self, record: Record, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Sent:
    provider_message_id: str
    attempts: int
    accepted_at: datetime
    reemitted: bool = False


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str
    attempts: int
    deadline: bool = False
    """the hop stopped because the deadline passed, not because the channel failed for good"""
    superseded: bool = False
    """the notification is handled already (its outcome reported, or by another worker we waited for)"""


async def _send(channel: Channel, outgoing: Outgoing, timeout_s: float) -> str:
    try:
        async with asyncio.timeout(timeout_s + TIMEOUT_GRACE_S):
            return await channel.send(outgoing, timeout_s)
    except TimeoutError:
        raise ProviderTimeout(f"no answer within {timeout_s:g}s") from None


class Deliverer:
    def __init__(
        self,
        *,
        channels: Mapping[ChannelType, Channel],
        enabled: Sequence[ChannelType],
        claims: Claims,
        gate: ChannelGate,
        config: NotifierConfig,
        reports: Reports,
        sms_max_parts: int,
        clock: Clock = system_clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        senders: SenderBook | None = None,
    ) -> None:
        self._channels = channels
        self._enabled = list(enabled)
        self._claims = claims
        self._gate = gate
        self._config = config
        self._reports = reports
        self._sms_max_parts = sms_max_parts
        self._now = clock
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._held: dict[tuple[str, str, str], float] = {}
        self._senders = senders

    # --- heartbeat -----------------------------------------------------------------------------

    @property
    def heartbeat_interval_s(self) -> float:
        shortest = min(self._config.lease_s(c) for c in ChannelType)
        return max(0.1, shortest / 4)

    async def heartbeat(self) -> None:
        """Renew the leases of the claims this worker holds, forever (run as a task)."""
        while True:
            await asyncio.sleep(self.heartbeat_interval_s)
            held = [(n, h, t, lease) for (n, h, t), lease in self._held.items()]
            try:
                await self._claims.renew(held)
            except Exception:  # a missed beat is survivable: the lease outlasts several
                log.warning("claim heartbeat failed", exc_info=True)

    # --- one notification ----------------------------------------------------------------------

    async def deliver(self, event: Envelope[NotificationRequested], record: Record) -> str:
        """Deliver one request; returns the outcome (`delivered`, `failed`, `expired`, `duplicate`)."""
        request = event.payload
        nid = request.notification_id
        deadline = effective_deadline(request.deadline, event.occurred_at, self._config.default_ttl_s)
        routes = routes_for(request.recipient.channels, self._enabled)
        rendered = render(request, sms_max_parts=self._sms_max_parts)
        correlation = event.correlation_id or request.incident_id
        failures: list[str] = []
        attempts = 0
        last: ChannelType | None = None
        cut_by_deadline = False
        if not routes:
            listed = ", ".join(c.type.value for c in request.recipient.channels)
            failures.append(f"none of the recipient's channels ({listed}) is enabled")
        for route in routes:
            if self._now() >= deadline:
                cut_by_deadline = True
                failures.append(f"{route.channel.value}: not tried, the deadline passed")
                break
            outgoing = Outgoing(
                notification_id=nid,
                kind=request.kind,
                address=route.address,
                language=request.recipient.language,
                rendered=rendered,
                render_as=route.render_as,
                volunteer_id=request.recipient.volunteer_id,
                incident_id=request.incident_id,
                offer_id=request.offer_id,
            )
            result = await self._hop(route, outgoing, deadline)
            if isinstance(result, Sent):
                if self._senders is not None and not result.reemitted:
                    await self._senders.remember(outgoing, route.channel)
                await self._report_delivered(request, route, result, record, correlation)
                return "delivered"
            if result.superseded:
                return "duplicate"
            attempts += result.attempts
            last = route.channel
            failures.append(f"{route.channel.value}: {result.reason}")
            cut_by_deadline = result.deadline
            log.info(
                "notification %s: %s to %s failed (%s)%s",
                nid,
                route.channel.value,
                mask(route.address),
                result.reason,
                "" if route is routes[-1] else "; trying the next channel",
            )
        if attempts == 0 and last is None and await self._claims.outcome(nid):
            log.info("notification %s already handled; redelivery ignored", nid)  # no hop claimed to say so
            return "duplicate"
        reason = "; ".join(failures)[:1000]
        expired = cut_by_deadline or (not routes and self._now() >= deadline)
        await self._reports.failed(
            NotificationFailed(
                notification_id=nid,
                channel=last,
                reason=reason,
                retriable=False,
                attempts=attempts,
                incident_id=request.incident_id,
                offer_id=request.offer_id,
                volunteer_id=request.recipient.volunteer_id,
            ),
            correlation,
        )
        if not expired:
            await self._reports.dead_letter(record, f"notification not delivered on any channel: {reason}")
        await self._claims.record_outcome(nid, "failed")
        outcome = "expired" if expired else "failed"
        log.warning("notification %s %s: %s", nid, outcome, reason)
        return outcome

    async def _report_delivered(
        self,
        request: NotificationRequested,
        route: Route,
        sent: Sent,
        record: Record,
        correlation: str | None,
    ) -> None:
        channel = route.channel
        latency_s = max(0.0, (sent.accepted_at - record.timestamp).total_seconds())
        if not sent.reemitted:
            metrics.HANDOFF_SECONDS.labels(channel.value).observe(latency_s)
        await self._reports.delivered(
            NotificationDelivered(
                notification_id=request.notification_id,
                channel=channel,
                provider_message_id=sent.provider_message_id[:500],
                attempts=max(1, sent.attempts),
                latency_ms=round(latency_s * 1000, 3),
                incident_id=request.incident_id,
                offer_id=request.offer_id,
                volunteer_id=request.recipient.volunteer_id,
                render_as=route.render_as,
            ),
            correlation,
        )
        await self._claims.record_outcome(request.notification_id, f"delivered:{channel.value}")

    # --- one hop -------------------------------------------------------------------------------

    async def _hop(self, route: Route, outgoing: Outgoing, deadline: datetime) -> Sent | Failed:
        """Claim the hop, then send on it (see `claims.py` for what each claim state means)."""
        channel = self._channels[route.channel]
        nid, hop, token = outgoing.notification_id, route.key, uuid.uuid4().hex
        lease_s = self._config.lease_s(route.channel)
        waited = False
        while True:
            claim = await self._claims.claim(nid, hop, token, lease_s, take_over_stale=channel.idempotent)
            if claim.verdict != Verdict.BUSY:
                break
            waited = True  # another worker is sending this very hop: wait for it (bounded by its lease)
            await self._sleep(BUSY_POLL_S)
        if claim.verdict == Verdict.DONE:
            log.info("notification %s already handled (%s); redelivery ignored", nid, claim.reason)
            return Failed("handled already", 0, superseded=True)
        if waited and claim.verdict != Verdict.MINE and await self._reported_soon(nid):
            return Failed("handled by another worker", 0, superseded=True)
        if claim.verdict == Verdict.SENT:
            finished = (
                datetime.fromtimestamp(claim.finished_at_ms / 1000, UTC) if claim.finished_at_ms else None
            )
            log.info("notification %s was already handed to %s; reporting it", nid, route.channel.value)
            return Sent(claim.provider_message_id, claim.attempts, finished or self._now(), reemitted=True)
        if claim.verdict == Verdict.FAILED:
            return Failed(f"failed earlier: {claim.reason}", 0)
        if claim.verdict == Verdict.STALE:
            return Failed(
                "a worker stopped while handing it over: it may have been delivered, so it is not sent "
                "again on this channel",
                0,
            )
        self._held[(nid, hop, token)] = lease_s
        try:
            return await self._attempts(route, channel, outgoing, token, deadline)
        finally:
            self._held.pop((nid, hop, token), None)

    async def _reported_soon(self, notification_id: str) -> bool:
        """After waiting on another worker's claim: does that worker report the outcome? (It does so
        right after the claim resolves, unless it died in between.) Avoids reporting twice."""
        for _ in range(int(OUTCOME_GRACE_S / BUSY_POLL_S)):
            if await self._claims.outcome(notification_id):
                return True
            await self._sleep(BUSY_POLL_S)
        return bool(await self._claims.outcome(notification_id))

    async def _attempts(
        self, route: Route, channel: Channel, outgoing: Outgoing, token: str, deadline: datetime
    ) -> Sent | Failed:
        nid, hop = outgoing.notification_id, route.key
        timeout_s = self._config.limits[route.channel].timeout_s
        attempt = calls = 0
        while True:
            attempt += 1
            calling = False
            started = time.monotonic()
            try:
                remaining = (deadline - self._now()).total_seconds()
                if remaining <= 0:
                    raise DeadlinePassed("the deadline passed before the hand-off")
                async with self._gate.slot(route.channel, remaining):
                    if self._now() >= deadline:
                        raise DeadlinePassed("the deadline passed while waiting for a sending slot")
                    calling = True
                    calls += 1
                    started = time.monotonic()
                    if channel.finishes_claims:
                        finish = self._claims.finishing(nid, hop, token, calls)
                        provider_id = await _send(channel, replace(outgoing, finish=finish), timeout_s)
                    else:
                        provider_id = await _send(channel, outgoing, timeout_s)
            except DeliveryError as error:
                failure = error
            except asyncio.CancelledError:
                if not calling:  # stopping before the provider saw anything: leave the hop to a redelivery
                    await self._claims.release(nid, hop, token)
                raise
            else:
                accepted_at = self._now()
                metrics.ATTEMPTS.labels(route.channel.value, "ok").inc()
                metrics.PROVIDER_SECONDS.labels(route.channel.value).observe(time.monotonic() - started)
                if not channel.finishes_claims:
                    await self._claims.finish_sent(nid, hop, token, provider_id, calls)
                log.info(
                    "notification %s handed to %s for %s (attempt %d, id %s)",
                    nid,
                    route.channel.value,
                    mask(route.address),
                    attempt,
                    provider_id,
                )
                return Sent(provider_id, calls, accepted_at)

            if calling:
                metrics.ATTEMPTS.labels(route.channel.value, failure.code).inc()
                metrics.PROVIDER_SECONDS.labels(route.channel.value).observe(time.monotonic() - started)
            log.log(
                logging.ERROR if isinstance(failure, Misconfigured) else logging.INFO,  # ours to fix
                "notification %s: %s attempt %d failed: %s",
                nid,
                route.channel.value,
                attempt,
                failure.describe(),
            )
            decision = after_failure(
                failure,
                attempt=attempt,
                max_attempts=self._config.backoff.max_attempts,
                delay_s=self._config.backoff.delay_after(failure, attempt, self._rng),
                idempotent_channel=channel.idempotent,
                now=self._now(),
                deadline=deadline,
            )
            if isinstance(decision, GiveUp):
                await self._claims.finish_failed(nid, hop, token, decision.reason, calls)
                by_deadline = decision.by_deadline or isinstance(failure, DeadlinePassed)
                return Failed(decision.reason, calls, deadline=by_deadline)
            try:
                await self._sleep(decision.delay_s)
            except asyncio.CancelledError:  # stopping between attempts: nothing is in the provider's hands
                await self._claims.release(nid, hop, token)
                raise
