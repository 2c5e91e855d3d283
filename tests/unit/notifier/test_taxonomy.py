"""Provider answers map onto the error taxonomy: what is retried, what moves on, what is our fault."""

from __future__ import annotations

import aiosmtplib
import httpx
import pytest

from services.notifier.channels import email, telegram, whatsapp
from services.notifier.channels.http import error_for_status
from services.notifier.channels.sms import zenziva_error
from services.notifier.errors import (
    ConnectionFailed,
    ConnectionLost,
    DeliveryError,
    Misconfigured,
    ProviderTimeout,
    RateLimited,
    Rejected,
    ServerError,
)


def wa(status: int, code: int | None, headers: dict[str, str] | None = None) -> DeliveryError:
    body = {"error": {"message": "x", "type": "OAuthException", "code": code, "fbtrace_id": "A"}}
    return whatsapp.error_from(httpx.Response(status, json=body, headers=headers))


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, 131047, Rejected),  # re-engagement: outside the 24-hour window, text not allowed
        (400, 131026, Rejected),  # undeliverable
        (429, 130429, RateLimited),
        (400, 131056, RateLimited),  # pair rate limit
        (401, 190, Misconfigured),  # access token expired or invalid
        (400, 132001, Misconfigured),  # template does not exist
        (503, 131016, ServerError),  # service unavailable
        (500, 131000, ServerError),
        (500, None, ServerError),
        (418, None, Rejected),
    ],
)
def test_whatsapp_error_codes(status: int, code: int | None, kind: type[DeliveryError]) -> None:
    error = wa(status, code)
    assert type(error) is kind
    if code is not None:
        assert f"WhatsApp error {code}" in error.reason


def test_whatsapp_rate_limit_carries_retry_after() -> None:
    error = wa(429, 130429, {"Retry-After": "7"})
    assert isinstance(error, RateLimited) and error.retry_after == 7.0
    assert error.retriable and not error.maybe_delivered


def tg(status: int, description: str, **parameters: object) -> DeliveryError:
    body: dict[str, object] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return telegram.error_from(httpx.Response(status, json=body))


def test_telegram_errors() -> None:
    limited = tg(429, "Too Many Requests: retry after 12", retry_after=12)
    assert isinstance(limited, RateLimited) and limited.retry_after == 12.0
    assert type(tg(400, "Bad Request: chat not found")) is Rejected
    assert type(tg(403, "Forbidden: bot was blocked by the user")) is Rejected
    moved = tg(400, "Bad Request: group chat was upgraded to a supergroup chat", migrate_to_chat_id=-1001)
    assert type(moved) is Rejected and "-1001" in moved.reason
    assert type(tg(401, "Unauthorized")) is Misconfigured
    assert type(tg(404, "Not Found")) is Misconfigured
    assert type(telegram.error_from(httpx.Response(502, text="<html>Bad Gateway</html>"))) is ServerError


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Userkey / Passkey Salah", Misconfigured),
        ("Saldo tidak cukup", Misconfigured),
        ("Masa aktif habis", Misconfigured),
        ("Nomor tujuan tidak valid", Rejected),
        ("Gangguan sistem, coba lagi", ServerError),
        ("", Rejected),
    ],
)
def test_zenziva_errors(text: str, kind: type[DeliveryError]) -> None:
    assert type(zenziva_error(text, "0")) is kind


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, RateLimited), (408, ServerError), (500, ServerError), (503, ServerError), (401, Misconfigured),
     (403, Misconfigured), (400, Rejected), (404, Rejected), (422, Rejected)],
)  # fmt: skip
def test_bare_http_statuses(status: int, kind: type[DeliveryError]) -> None:
    assert type(error_for_status(status, "x")) is kind


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (aiosmtplib.SMTPConnectError("refused"), ConnectionFailed),
        (aiosmtplib.SMTPConnectTimeoutError("slow"), ConnectionFailed),
        (aiosmtplib.SMTPReadTimeoutError("slow"), ProviderTimeout),
        (aiosmtplib.SMTPServerDisconnected("gone"), ConnectionLost),
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), Misconfigured),
        (aiosmtplib.SMTPResponseException(451, "try later"), ServerError),
        (aiosmtplib.SMTPResponseException(554, "rejected"), Rejected),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "unknown", "a@b")]),
            Rejected,
        ),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(450, "busy", "a@b")]),
            ServerError,
        ),
    ],
)
def test_smtp_errors(exc: aiosmtplib.SMTPException, kind: type[DeliveryError]) -> None:
    assert type(email.error_from(exc)) is kind


def test_the_taxonomy_declares_what_is_retried_and_what_may_have_been_delivered() -> None:
    assert [c.retriable for c in (ConnectionFailed, ProviderTimeout, RateLimited, ServerError)] == [True] * 4
    assert not Rejected.retriable and not Misconfigured.retriable
    assert ProviderTimeout.maybe_delivered and ConnectionLost.maybe_delivered
    assert not ConnectionFailed.maybe_delivered and not ServerError.maybe_delivered
