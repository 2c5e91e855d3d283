"""WhatsApp through the Cloud API: `POST {SIGAP_WHATSAPP_URL}/{phone_number_id}/messages`.

A free-form text message reaches a volunteer only inside the 24-hour customer-service window (they
wrote to the business number in the last day); outside it Meta answers error 131047. An approved
template reaches anyone: set `SIGAP_WHATSAPP_TEMPLATE` to a template name (for every kind) or to
`kind:name,…` (e.g. `offer:sigap_tawaran,standby:sigap_siaga`), kinds not named sending text. A template's
body takes five parameters, in order: {{1}} headline (what), {{2}} where, {{3}} detail (role, reason),
{{4}} time (deadline), {{5}} response link; `SIGAP_WHATSAPP_TEMPLATE_LANGUAGE` names its language.
"""

from __future__ import annotations

from typing import Any

import httpx

from schemas.vocabulary import ChannelType, NotificationKind
from services.common.config import Settings
from services.notifier.channels.base import Outgoing
from services.notifier.channels.http import error_for_status, json_body, post, retry_after_of
from services.notifier.errors import DeliveryError, Misconfigured, RateLimited, Rejected, ServerError

# Cloud API error codes (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes)
_RATE_LIMITED = {4, 80007, 130429, 131048, 131056}
_MISCONFIGURED = {0, 3, 10, 190, 131031, 131037, 132000, 132001, 132005, 132007, 132012, 132015, 368}
_TRANSIENT = {1, 2, 131000, 131016, 133004}
_REJECTED = {131021, 131026, 131030, 131047, 131051, 131052, 131053, 100}
_MAX_TEMPLATE_PARAM = 1024


def parse_templates(value: str) -> dict[NotificationKind, str]:
    """`name` (every kind) or `kind:name,…` → template name per kind."""
    value = value.strip()
    if not value:
        return {}
    if ":" not in value:
        return dict.fromkeys(NotificationKind, value)
    names: dict[NotificationKind, str] = {}
    for item in value.split(","):
        kind, _, name = item.strip().partition(":")
        try:
            names[NotificationKind(kind.strip())] = name.strip()
        except ValueError:
            raise ValueError(f"SIGAP_WHATSAPP_TEMPLATE: unknown kind {kind.strip()!r}") from None
        if not name.strip():
            raise ValueError(f"SIGAP_WHATSAPP_TEMPLATE: {item!r} names no template")
    return names


def error_from(response: httpx.Response) -> DeliveryError:
    """Map a Cloud API error answer onto the taxonomy (by its error code, then by HTTP status)."""
    error = json_body(response).get("error")
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    detail = str(error.get("message") or response.reason_phrase)[:300]
    data = error.get("error_data")
    if isinstance(data, dict) and data.get("details"):
        detail = f"{detail} ({str(data['details'])[:200]})"
    described = f"WhatsApp error {code}: {detail}" if code is not None else detail
    retry_after = retry_after_of(response)
    if code in _RATE_LIMITED:
        return RateLimited(described, retry_after=retry_after)
    if code in _MISCONFIGURED:
        return Misconfigured(described)
    if code in _TRANSIENT:
        return ServerError(described, retry_after=retry_after)
    if code in _REJECTED:
        return Rejected(described)
    return error_for_status(response.status_code, described, retry_after)


class WhatsAppChannel:
    type = ChannelType.WHATSAPP
    idempotent = False
    finishes_claims = False

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self._settings = settings
        self._client = client
        self._templates = parse_templates(settings.whatsapp_template)

    def check_configured(self) -> None:
        self.check(self._settings)

    @staticmethod
    def check(s: Settings) -> None:
        try:
            parse_templates(s.whatsapp_template)
        except ValueError as exc:
            raise Misconfigured(str(exc)) from None
        if not (s.whatsapp_url and s.whatsapp_phone_number_id and s.whatsapp_token):
            raise Misconfigured(
                "whatsapp needs SIGAP_WHATSAPP_URL, SIGAP_WHATSAPP_PHONE_NUMBER_ID and SIGAP_WHATSAPP_TOKEN"
            )

    def body(self, message: Outgoing) -> dict[str, Any]:
        """The Cloud API request body: an approved template when one is configured for the kind,
        otherwise a text message (with link preview)."""
        to = message.address.lstrip("+")
        template = self._templates.get(message.kind)
        if template:
            params = [{"type": "text", "text": slot[:_MAX_TEMPLATE_PARAM]} for slot in message.rendered.slots]
            return {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "template",
                "template": {
                    "name": template,
                    "language": {"code": self._settings.whatsapp_template_language},
                    "components": [{"type": "body", "parameters": params}],
                },
            }
        return {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"preview_url": True, "body": message.text},
        }

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        self.check_configured()
        s = self._settings
        response = await post(
            self._client,
            f"{s.whatsapp_url.rstrip('/')}/{s.whatsapp_phone_number_id}/messages",
            timeout_s=timeout_s,
            json=self.body(message),
            headers={"Authorization": f"Bearer {s.whatsapp_token}"},
        )
        if response.status_code != 200:
            raise error_from(response)
        messages = json_body(response).get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            return str(messages[0].get("id", ""))
        return ""  # accepted (HTTP 200) without an id: still handed over, never sent again
