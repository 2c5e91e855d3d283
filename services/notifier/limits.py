"""Per-channel tuning from the settings (parsed and validated there, at start)."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.vocabulary import ChannelType
from services.notifier.backoff import BackoffPolicy
from services.notifier.settings import NotifierSettings


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


def notifier_config(settings: NotifierSettings) -> NotifierConfig:
    timeouts = settings.notifier_timeouts
    concurrency = settings.notifier_concurrency
    rates = settings.notifier_rates
    limits = {
        channel: ChannelLimits(
            timeout_s=timeouts.get(channel, DEFAULTS.timeout_s),
            concurrency=concurrency.get(channel, DEFAULTS.concurrency),
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
