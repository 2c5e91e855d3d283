"""Per-channel tuning read from the settings (`channel:value,…` strings), validated at start."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.vocabulary import ChannelType
from services.common.config import Settings
from services.notifier.backoff import BackoffPolicy


def parse_per_channel(text: str, name: str) -> dict[ChannelType, float]:
    """`whatsapp:10,sms:2.5` → {WHATSAPP: 10.0, SMS: 2.5}; ValueError naming the variable otherwise."""
    values: dict[ChannelType, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name_, sep, value = item.strip().partition(":")
        try:
            channel, number = ChannelType(name_.strip()), float(value)
        except ValueError:
            raise ValueError(f"{name}: {item.strip()!r} is not 'channel:number'") from None
        if not sep or not number >= 0:  # also refuses NaN
            raise ValueError(f"{name}: {item.strip()!r} needs 'channel:number' with a number >= 0")
        values[channel] = number
    return values


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    timeout_s: float
    concurrency: int
    rate_per_s: float
    """0 means no rate limit"""


@dataclass(frozen=True, slots=True)
class NotifierConfig:
    limits: dict[ChannelType, ChannelLimits]
    backoff: BackoffPolicy
    claim_margin_s: float
    default_ttl_s: float
    max_in_flight: int

    def lease_s(self, channel: ChannelType) -> float:
        """How long a claim on `channel` stays valid without a heartbeat: a worker that died mid-send
        leaves a claim that turns stale after this."""
        return self.limits[channel].timeout_s + self.claim_margin_s


DEFAULTS = ChannelLimits(timeout_s=10.0, concurrency=8, rate_per_s=0.0)


def notifier_config(settings: Settings) -> NotifierConfig:
    timeouts = parse_per_channel(settings.notifier_timeouts, "SIGAP_NOTIFIER_TIMEOUTS")
    concurrency = parse_per_channel(settings.notifier_concurrency, "SIGAP_NOTIFIER_CONCURRENCY")
    rates = parse_per_channel(settings.notifier_rates, "SIGAP_NOTIFIER_RATES")
    if any(v <= 0 for v in timeouts.values()):
        raise ValueError("SIGAP_NOTIFIER_TIMEOUTS: every timeout must be > 0")
    if any(v < 1 for v in concurrency.values()):
        raise ValueError("SIGAP_NOTIFIER_CONCURRENCY: every channel needs at least 1")
    limits = {
        channel: ChannelLimits(
            timeout_s=timeouts.get(channel, DEFAULTS.timeout_s),
            concurrency=int(concurrency.get(channel, DEFAULTS.concurrency)),
            rate_per_s=rates.get(channel, DEFAULTS.rate_per_s),
        )
        for channel in ChannelType
    }
    return NotifierConfig(
        limits=limits,
        backoff=BackoffPolicy(
            base_s=settings.notifier_backoff_base_s,
            max_s=settings.notifier_backoff_max_s,
            max_attempts=settings.notifier_max_attempts,
        ),
        claim_margin_s=settings.notifier_claim_margin_s,
        default_ttl_s=settings.notifier_default_ttl_s,
        max_in_flight=settings.notifier_max_in_flight,
    )
