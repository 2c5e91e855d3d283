"""What every channel adapter receives and promises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from schemas.vocabulary import ChannelType, Language, NotificationKind
from services.notifier.claims import Finish
from services.notifier.templates import Rendered


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One notification on its way to one address."""

    notification_id: str
    kind: NotificationKind
    address: str
    language: Language
    rendered: Rendered
    render_as: ChannelType
    """the channel shape the text takes (the outbox shows what another channel would carry)"""
    volunteer_id: str | None = None
    incident_id: str | None = None
    offer_id: str | None = None
    finish: Finish | None = None
    """the hop's claim, given only to a channel that `finishes_claims`"""

    @property
    def text(self) -> str:
        return self.rendered.for_channel(self.render_as)


class Channel(Protocol):
    """A channel adapter: one provider, one job. `send` returns the provider's message id or raises a
    `services.notifier.errors.DeliveryError`; it never retries by itself (the caller decides)."""

    type: ChannelType
    idempotent: bool
    """True when sending the same notification twice cannot reach the recipient twice"""
    finishes_claims: bool
    """True when `send` marks the hop's claim (`Outgoing.finish`) sent itself, in the same Redis step
    as the hand-off (the outbox); the caller does it otherwise"""

    def check_configured(self) -> None:
        """Raise Misconfigured when the settings cannot work (missing URL or credentials)."""

    async def send(self, message: Outgoing, timeout_s: float) -> str: ...


def mask(address: str) -> str:
    """An address fit for a log line: phone numbers, chat ids and mailboxes are never logged whole."""
    if "@" in address and not address.startswith("@"):
        user, _, domain = address.partition("@")
        return f"{user[:2]}***@{domain}"
    if len(address) <= 6:
        return "***"
    return f"{address[:5]}***{address[-2:]}"
