"""The delivery error taxonomy: every adapter failure is one of these, and `retriable` /
`maybe_delivered` decide what happens next (retry here, try the next channel, or give up), so the
decision is a declaration rather than scattered `except` blocks.

- `retriable`: trying again later on the same channel can succeed.
- `maybe_delivered`: the request may have reached the provider (the answer never came back). Such a
  failure is never retried on the same channel, because a notification is handed to a provider at most
  once per channel (DESIGN.md §4); the next channel is tried instead.
"""

from __future__ import annotations

from schemas.errors import SigapError


class DeliveryError(SigapError):
    """A failed hand-off to a provider."""

    code = "error"
    retriable = False
    maybe_delivered = False

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after

    def describe(self) -> str:
        return f"{self.code}: {self.reason}"


class ConnectionFailed(DeliveryError):
    """The provider could not be reached; nothing was sent."""

    code = "connection"
    retriable = True


class ProviderTimeout(DeliveryError):
    """No answer in time after the request went out: it may have been delivered."""

    code = "timeout"
    retriable = True
    maybe_delivered = True


class ConnectionLost(DeliveryError):
    """The connection broke after the request went out: it may have been delivered."""

    code = "connection_lost"
    retriable = True
    maybe_delivered = True


class RateLimited(DeliveryError):
    """The provider (or our own limiter) asks us to slow down; `retry_after` in seconds when known."""

    code = "rate_limited"
    retriable = True


class ServerError(DeliveryError):
    """The provider answered with a transient failure (5xx, 408, temporary SMTP 4xx)."""

    code = "server_error"
    retriable = True


class Rejected(DeliveryError):
    """The provider refused this message or recipient for good (bad number, blocked bot, …)."""

    code = "rejected"


class Misconfigured(DeliveryError):
    """Our own configuration is wrong (missing or revoked credentials, unknown template, …)."""

    code = "misconfigured"


class DeadlinePassed(DeliveryError):
    """The notification's deadline passed before it could be handed over; nothing was sent."""

    code = "deadline"
