"""E-mail over SMTP (aiosmtplib): plain-text body and subject; TLS by `SIGAP_SMTP_TLS` — `none`,
`starttls` (upgrade on the submission port, usually 587) or `tls` (implicit TLS, usually 465)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from schemas.vocabulary import ChannelType
from services.notifier.channels.base import Outgoing
from services.notifier.errors import (
    ConnectionFailed,
    ConnectionLost,
    DeliveryError,
    Misconfigured,
    ProviderTimeout,
    Rejected,
    ServerError,
)
from services.notifier.settings import NotifierSettings


def error_from(exc: aiosmtplib.SMTPException) -> DeliveryError:
    """Map an SMTP failure: 4xx replies are transient, 5xx permanent, 535/530 are our credentials."""
    detail = f"SMTP: {exc}"[:400]
    if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError | aiosmtplib.SMTPConnectError):
        return ConnectionFailed(detail)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return ProviderTimeout(detail)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return ConnectionLost(detail)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPNotSupported):
        return Misconfigured(detail)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        return ServerError(detail) if codes and all(400 <= c < 500 for c in codes) else Rejected(detail)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if exc.code in (530, 535, 538):
            return Misconfigured(detail)
        return ServerError(detail) if 400 <= exc.code < 500 else Rejected(detail)
    return ServerError(detail)


class EmailChannel:
    type = ChannelType.EMAIL
    idempotent = False
    finishes_claims = False

    def __init__(self, settings: NotifierSettings) -> None:
        self._settings = settings

    def check_configured(self) -> None:
        self.check(self._settings)

    @staticmethod
    def check(s: NotifierSettings) -> None:
        if not (s.smtp_host and s.smtp_port and s.smtp_from):
            raise Misconfigured("email needs SIGAP_SMTP_HOST, SIGAP_SMTP_PORT and SIGAP_SMTP_FROM")

    def build(self, message: Outgoing) -> EmailMessage:
        s = self._settings
        mail = EmailMessage()
        mail["From"] = s.smtp_from
        mail["To"] = message.address
        mail["Subject"] = message.rendered.subject
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = make_msgid(
            idstring=message.notification_id, domain=s.smtp_from.rpartition("@")[2]
        )
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.rendered.email)
        return mail

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        self.check_configured()
        s = self._settings
        mail = self.build(message)
        try:
            await aiosmtplib.send(
                mail,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user or None,
                password=s.smtp_password or None,
                use_tls=s.smtp_tls == "tls",
                start_tls=s.smtp_tls == "starttls",
                timeout=timeout_s,
            )
        except aiosmtplib.SMTPException as exc:
            raise error_from(exc) from None
        except OSError as exc:
            raise ConnectionFailed(f"SMTP: cannot connect ({type(exc).__name__})") from None
        return str(mail["Message-ID"])
