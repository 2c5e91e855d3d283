"""Which channels a notification goes through, until when, and what to do after a failed attempt.

Pure: no I/O, no clock reads (the caller passes `now`).

**Channel order.** The volunteer's own channels in their order of preference, keeping only the channels
enabled by `SIGAP_CHANNELS`. When `outbox` is the only enabled channel (local development, `make up`),
every notification goes to the outbox whatever the volunteer lists, rendered as the volunteer's first
channel would show it, so people see what volunteers would receive. The outbox is never added as a
silent last resort when real channels are enabled: a message no volunteer can read must show up as a
failure, not as "delivered".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.events import ChannelAddress
from schemas.vocabulary import ChannelType
from services.notifier.errors import DeliveryError


@dataclass(frozen=True, slots=True)
class Route:
    """One hop of a notification: the channel it is handed to, the address there, and the channel whose
    message shape it is rendered in (differs from `channel` only for the outbox)."""

    channel: ChannelType
    address: str
    render_as: ChannelType

    @property
    def key(self) -> str:
        """Names this hop in the at-most-once claims: one hand-off per channel and address."""
        return f"{self.channel.value}|{self.address}"


def routes_for(channels: Sequence[ChannelAddress], enabled: Sequence[ChannelType]) -> list[Route]:
    """The hops of a notification in fallback order (see the module docstring); empty when the
    recipient has no enabled channel."""
    if list(enabled) == [ChannelType.OUTBOX]:
        first = channels[0]
        return [Route(ChannelType.OUTBOX, first.address, first.type)]
    allowed = set(enabled)
    routes: list[Route] = []
    for item in channels:
        route = Route(item.type, item.address, item.type)
        if item.type in allowed and route not in routes:
            routes.append(route)
    return routes


def effective_deadline(deadline: datetime | None, requested_at: datetime, default_ttl_s: float) -> datetime:
    """Nothing is handed to a provider after this. Offers carry their expiry; requests without a deadline
    (standby notices, coordinator alerts) get `SIGAP_NOTIFIER_DEFAULT_TTL_S` from when they were made."""
    if deadline is not None:
        return deadline
    return requested_at + timedelta(seconds=default_ttl_s)


@dataclass(frozen=True, slots=True)
class RetryIn:
    """Try the same channel again after `delay_s`."""

    delay_s: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Stop on this channel (the next one, if any, is tried); `reason` goes into the failure report;
    `by_deadline` when the channel might still have worked but time ran out."""

    reason: str
    by_deadline: bool = False


def after_failure(
    error: DeliveryError,
    *,
    attempt: int,
    max_attempts: int,
    delay_s: float,
    idempotent_channel: bool,
    now: datetime,
    deadline: datetime,
) -> RetryIn | GiveUp:
    """What to do after failed attempt number `attempt` on one channel.

    A retry is pointless when it could only start after the deadline: then the next channel is tried at
    once, so a 429 asking for a minute does not eat the whole offer window."""
    if not error.retriable:
        return GiveUp(error.describe())
    if error.maybe_delivered and not idempotent_channel:
        return GiveUp(f"{error.describe()} (may have been delivered: not sent again on this channel)")
    if attempt >= max_attempts:
        return GiveUp(f"{error.describe()} (after {attempt} attempts)")
    if now + timedelta(seconds=delay_s) >= deadline:
        return GiveUp(f"{error.describe()} (a retry in {delay_s:.1f}s would pass the deadline)", True)
    return RetryIn(delay_s)
