"""SMS through an HTTP gateway, chosen by `SIGAP_SMS_PROVIDER`:

- `zenziva` (Zenziva, a common Indonesian gateway): `POST {SIGAP_SMS_URL}/api/sendsms/` with the form
  fields `userkey`, `passkey`, `to`, `message`; it answers JSON `{"messageId", "to", "status", "text"}`
  where `status` "1" is success and anything else an error named by `text`.
- `generic`: `POST {SIGAP_SMS_URL}` with JSON `{"from", "to", "text"}` and HTTP basic auth
  (`SIGAP_SMS_USER` / `SIGAP_SMS_PASSWORD`) when a user is set; any 2xx is success and the message id is
  read from `id`, `message_id` or `messageId`.

The text is the template's SMS variant, already fitted into `SIGAP_SMS_MAX_PARTS` parts (GSM-7 160 /
UCS-2 70 characters for one part); gateways concatenate multi-part messages themselves.
"""

from __future__ import annotations

import httpx

from schemas.vocabulary import ChannelType
from services.notifier.channels.base import Outgoing
from services.notifier.channels.http import error_for_status, json_body, post, retry_after_of
from services.notifier.errors import DeliveryError, Misconfigured, Rejected, ServerError
from services.notifier.settings import NotifierSettings

PROVIDERS = ("zenziva", "generic")

_ZENZIVA_MISCONFIGURED = (
    "userkey",
    "passkey",
    "saldo",
    "kredit",
    "credit",
    "masa aktif",
    "expired",
    "whitelist",
)
_ZENZIVA_TRANSIENT = ("timeout", "gangguan", "maintenance", "coba lagi", "try again")


def zenziva_error(text: str, status: str) -> DeliveryError:
    """Zenziva names its errors in words ("Userkey / Passkey Salah", "Saldo tidak cukup", …)."""
    lowered = text.lower()
    detail = f"Zenziva status {status}: {text[:300]}"
    if any(word in lowered for word in _ZENZIVA_MISCONFIGURED):
        return Misconfigured(detail)
    if any(word in lowered for word in _ZENZIVA_TRANSIENT):
        return ServerError(detail)
    return Rejected(detail)


class SmsChannel:
    type = ChannelType.SMS
    idempotent = False
    finishes_claims = False

    def __init__(self, settings: NotifierSettings, client: httpx.AsyncClient) -> None:
        self._settings = settings
        self._client = client

    def check_configured(self) -> None:
        self.check(self._settings)

    @staticmethod
    def check(s: NotifierSettings) -> None:
        if s.sms_provider not in PROVIDERS:
            raise Misconfigured(
                f"SIGAP_SMS_PROVIDER is one of {', '.join(PROVIDERS)}, not {s.sms_provider!r}"
            )
        if not s.sms_url:
            raise Misconfigured("sms needs SIGAP_SMS_URL")
        if s.sms_provider == "zenziva" and not (s.sms_user and s.sms_password):
            raise Misconfigured("zenziva needs SIGAP_SMS_USER (userkey) and SIGAP_SMS_PASSWORD (passkey)")

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        self.check_configured()
        if self._settings.sms_provider == "zenziva":
            return await self._zenziva(message, timeout_s)
        return await self._generic(message, timeout_s)

    async def _zenziva(self, message: Outgoing, timeout_s: float) -> str:
        s = self._settings
        response = await post(
            self._client,
            f"{s.sms_url.rstrip('/')}/api/sendsms/",
            timeout_s=timeout_s,
            data={
                "userkey": s.sms_user,
                "passkey": s.sms_password,
                "to": message.address.lstrip("+"),
                "message": message.text,
            },
        )
        if response.status_code != 200:
            raise error_for_status(response.status_code, response.reason_phrase, retry_after_of(response))
        body = json_body(response)
        status = str(body.get("status", ""))
        if status != "1":
            raise zenziva_error(str(body.get("text", "")), status)
        return str(body.get("messageId", ""))

    async def _generic(self, message: Outgoing, timeout_s: float) -> str:
        s = self._settings
        response = await post(
            self._client,
            s.sms_url,
            timeout_s=timeout_s,
            json={"from": s.sms_sender, "to": message.address, "text": message.text},
            auth=httpx.BasicAuth(s.sms_user, s.sms_password) if s.sms_user else None,
        )
        if not 200 <= response.status_code < 300:
            body = json_body(response)
            detail = str(body.get("error") or body.get("message") or response.reason_phrase)[:300]
            raise error_for_status(response.status_code, detail, retry_after_of(response))
        body = json_body(response)
        for name in ("id", "message_id", "messageId"):
            if body.get(name) is not None:
                return str(body[name])
        return ""
