"""Channel adapters, one module per provider; `build_channels` makes those `SIGAP_CHANNELS` enables."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx
from redis.asyncio import Redis

from schemas.vocabulary import ChannelType
from services.common.clock import Clock, system_clock
from services.notifier.channels.base import Channel, Outgoing, mask
from services.notifier.channels.email import EmailChannel
from services.notifier.channels.outbox import OutboxChannel
from services.notifier.channels.sms import SmsChannel
from services.notifier.channels.telegram import TelegramChannel
from services.notifier.channels.whatsapp import WhatsAppChannel
from services.notifier.settings import NotifierSettings

__all__ = ["Channel", "Outgoing", "build_channels", "check_channels", "mask"]

_CHECKS: dict[ChannelType, Callable[[NotifierSettings], None]] = {
    ChannelType.WHATSAPP: WhatsAppChannel.check,
    ChannelType.TELEGRAM: TelegramChannel.check,
    ChannelType.SMS: SmsChannel.check,
    ChannelType.EMAIL: EmailChannel.check,
    ChannelType.OUTBOX: OutboxChannel.check,
}


def check_channels(settings: NotifierSettings, enabled: Sequence[ChannelType]) -> None:
    """Misconfigured when an enabled channel lacks its settings: a notifier that cannot send on a
    channel it was told to use must refuse to start, not fail at 2 a.m. on the first offer."""
    for channel in enabled:
        _CHECKS[channel](settings)


def build_channels(
    settings: NotifierSettings,
    enabled: Sequence[ChannelType],
    http: httpx.AsyncClient,
    redis: Redis,
    clock: Clock = system_clock,
) -> dict[ChannelType, Channel]:
    """The adapters of the enabled channels (see `check_channels`)."""
    check_channels(settings, enabled)
    made: dict[ChannelType, Channel] = {}
    for channel in enabled:
        adapter: Channel
        if channel == ChannelType.WHATSAPP:
            adapter = WhatsAppChannel(settings, http)
        elif channel == ChannelType.TELEGRAM:
            adapter = TelegramChannel(settings, http)
        elif channel == ChannelType.SMS:
            adapter = SmsChannel(settings, http)
        elif channel == ChannelType.EMAIL:
            adapter = EmailChannel(settings)
        else:
            adapter = OutboxChannel(settings, redis, clock)
        made[channel] = adapter
    return made
