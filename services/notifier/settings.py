"""The notifier's settings: channels in fallback order, the providers, per-channel limits."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_settings import NoDecode

from schemas.vocabulary import ChannelType, NotificationKind
from services.common.base_settings import CommonSettings, HttpUrlText, from_text, items, pairs, read_settings


def parse_channels(text: str) -> list[ChannelType]:
    """`whatsapp,sms,outbox` → the channels, in that (fallback) order."""
    names = items(text)
    known = {c.value for c in ChannelType}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(f"unknown channels {unknown} (known: {', '.join(sorted(known))})")
    return [ChannelType(n) for n in dict.fromkeys(names)]


def parse_per_channel(text: str, name: str) -> dict[ChannelType, float]:
    """`whatsapp:10,sms:2.5` → {WHATSAPP: 10.0, SMS: 2.5}; ValueError naming the variable otherwise."""
    values: dict[ChannelType, float] = {}
    for item in items(text):
        name_, sep, value = item.partition(":")
        try:
            channel, number = ChannelType(name_.strip()), float(value)
        except ValueError:
            raise ValueError(f"{name}: {item!r} is not 'channel:number'") from None
        if not sep or not number >= 0:  # also refuses NaN
            raise ValueError(f"{name}: {item!r} needs 'channel:number' with a number >= 0")
        values[channel] = number
    return values


def parse_templates(value: str) -> dict[NotificationKind, str]:
    """`name` (every kind) or `kind:name,…` → template name per kind."""
    value = value.strip()
    if not value:
        return {}
    if ":" not in value:
        return dict.fromkeys(NotificationKind, value)
    names: dict[NotificationKind, str] = {}
    for kind, name in pairs(value, "SIGAP_WHATSAPP_TEMPLATE"):
        try:
            names[NotificationKind(kind)] = name
        except ValueError:
            raise ValueError(f"SIGAP_WHATSAPP_TEMPLATE: unknown kind {kind!r}") from None
        if not name:
            raise ValueError(f"SIGAP_WHATSAPP_TEMPLATE: {kind}:{name!r} names no template")
    return names


def per_channel(variable: str) -> Callable[[str], dict[ChannelType, float]]:
    return lambda text: parse_per_channel(text, variable)


def _timeouts(values: dict[ChannelType, float]) -> dict[ChannelType, float]:
    if any(v <= 0 for v in values.values()):
        raise ValueError("SIGAP_NOTIFIER_TIMEOUTS: every timeout must be > 0")
    return values


def _concurrency(values: dict[ChannelType, float]) -> dict[ChannelType, int]:
    if any(v < 1 or v != int(v) for v in values.values()):
        raise ValueError("SIGAP_NOTIFIER_CONCURRENCY: every channel needs a whole number, at least 1")
    return {channel: int(v) for channel, v in values.items()}


Timeouts = Annotated[
    dict[ChannelType, float],
    NoDecode,
    from_text(per_channel("SIGAP_NOTIFIER_TIMEOUTS")),
    AfterValidator(_timeouts),
    Field(json_schema_extra={"env_type": "channel:seconds,…"}),
]
Concurrency = Annotated[
    dict[ChannelType, int],
    NoDecode,
    from_text(per_channel("SIGAP_NOTIFIER_CONCURRENCY")),
    AfterValidator(_concurrency),
    Field(json_schema_extra={"env_type": "channel:count,…"}),
]
Rates = Annotated[
    dict[ChannelType, float],
    NoDecode,
    from_text(per_channel("SIGAP_NOTIFIER_RATES")),
    Field(json_schema_extra={"env_type": "channel:per-second,…"}),
]


class NotifierSettings(CommonSettings):
    """`python -m services.notifier worker`."""

    notifier_host: str = Field(
        default="127.0.0.1", description="the notifier's `/healthz`, `/readyz`, `/metrics`"
    )
    notifier_port: int = Field(default=6067, ge=1, le=65535, description="the port of those")
    channels: Annotated[list[ChannelType], NoDecode, from_text(parse_channels)] = Field(
        default_factory=lambda: [ChannelType.OUTBOX],
        description="enabled channels in fallback order (`whatsapp,telegram,sms,email,outbox`)",
    )

    # channel providers (DESIGN.md §4): every base URL and credential is configuration
    whatsapp_url: HttpUrlText = Field(
        default="https://graph.facebook.com/v21.0", description="WhatsApp Cloud API (Graph API)"
    )
    whatsapp_phone_number_id: str = Field(
        default="", description="WhatsApp Cloud API: the sender's number id"
    )
    whatsapp_token: str = Field(default="", description="WhatsApp Cloud API: the access token")
    whatsapp_template: Annotated[dict[NotificationKind, str], NoDecode, from_text(parse_templates)] = Field(
        default_factory=dict,
        description="approved template (one name, or `kind:name,…`) for volunteers outside the 24-hour "
        "window, with five body parameters: what, where, detail, time, link; empty sends text",
        json_schema_extra={"env_type": "name or kind:name,…"},
    )
    whatsapp_template_language: str = Field(default="id", description="the templates' language code")
    telegram_url: HttpUrlText = Field(default="https://api.telegram.org", description="Telegram Bot API")
    telegram_bot_token: str = Field(default="", description="Telegram Bot API: the bot's token")
    sms_url: HttpUrlText = Field(default="", description="HTTP SMS gateway (empty: no SMS)")
    sms_provider: str = Field(default="zenziva", description="`zenziva` or `generic` (JSON)")
    sms_user: str = Field(default="", description="SMS gateway user")
    sms_password: str = Field(default="", description="SMS gateway password")
    sms_sender: str = Field(default="SIGAP", description="SMS sender name")
    sms_max_parts: int = Field(
        default=3, ge=1, le=10, description="longest SMS, in parts (1 keeps every text within one SMS)"
    )
    smtp_host: str = Field(default="127.0.0.1", description="e-mail: SMTP server")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="e-mail: SMTP port")
    smtp_user: str = Field(default="", description="e-mail: SMTP user (empty: no login)")
    smtp_password: str = Field(default="", description="e-mail: SMTP password")
    smtp_tls: Literal["none", "starttls", "tls"] = Field(
        default="none", description="`none`, `starttls` or `tls`"
    )
    smtp_from: str = Field(default="sigap@localhost", description="e-mail: the sender")

    # delivery (DESIGN.md §4); per-channel values are `channel:value,…` (channels not named: defaults)
    notifier_timeouts: Timeouts = Field(
        default_factory=lambda: parse_per_channel(
            "whatsapp:10,telegram:10,sms:10,email:20,outbox:5", "SIGAP_NOTIFIER_TIMEOUTS"
        ),
        description="per-channel timeout of one hand-off, seconds",
    )
    notifier_concurrency: Concurrency = Field(
        default_factory=lambda: {
            ChannelType.WHATSAPP: 16,
            ChannelType.TELEGRAM: 16,
            ChannelType.SMS: 4,
            ChannelType.EMAIL: 4,
            ChannelType.OUTBOX: 32,
        },
        description="per-channel concurrent hand-offs, per worker",
    )
    notifier_rates: Rates = Field(
        default_factory=lambda: parse_per_channel(
            "whatsapp:20,telegram:25,sms:5,email:5,outbox:0", "SIGAP_NOTIFIER_RATES"
        ),
        description="per-channel hand-offs per second across all workers (0 = no limit)",
    )
    notifier_max_attempts: int = Field(
        default=4, ge=1, le=20, description="attempts on one channel before the next is tried"
    )
    notifier_backoff_base_s: float = Field(
        default=0.5,
        gt=0,
        description="exponential backoff with jitter: the first wait; a 429's `Retry-After` wins",
    )
    notifier_backoff_max_s: float = Field(default=30.0, gt=0, description="the backoff's longest wait")
    notifier_claim_margin_s: float = Field(
        default=15.0,
        gt=0,
        description="a dead worker's claim on a channel is stale after its timeout + this; that channel is "
        'then treated as "maybe sent" and the next one is tried',
    )
    notifier_default_ttl_s: float = Field(
        default=900.0, gt=0, description="deadline of a notification that carries none"
    )
    notifier_max_in_flight: int = Field(
        default=256, ge=1, description="notifications handled at once per worker"
    )
    outbox_max: int = Field(default=1000, ge=1, description="messages kept in the outbox")
    outbox_volunteer_max: int = Field(
        default=100, ge=1, description="messages kept in the outbox per volunteer"
    )

    @property
    def enabled_channels(self) -> list[ChannelType]:
        return list(self.channels)


@cache
def get_notifier_settings() -> NotifierSettings:
    """The notifier's settings, read once; also applies the service area to the schemas' validators."""
    return read_settings(NotifierSettings)
