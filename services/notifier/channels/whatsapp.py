"""WhatsApp through the Cloud API: `POST {SIGAP_WHATSAPP_URL}/{phone_number_id}/messages`.

A free-form text message reaches a volunteer only inside the 24-hour customer-service window (they
wrote to the business number in the last day); outside it Meta answers error 131047. An approved
template reaches anyone: set `SIGAP_WHATSAPP_TEMPLATE` to a template name (for every kind) or to
`kind:name,…` (e.g. `offer:sigap_tawaran,standby:sigap_siaga`), kinds not named sending text. A template's
body takes five parameters, in order: {{1}} headline (what), {{2}} where, {{3}} detail (role, reason),
{{4}} time (deadline), {{5}} response link; `SIGAP_WHATSAPP_TEMPLATE_LANGUAGE` names its language.

Offers carry two answer buttons, "SIAP" and "TIDAK BISA" (issue 18), the link staying in the text: as
an interactive message with `button_reply` buttons when sent as text (inside the window), or as the
template's two quick-reply buttons (the offer template must be approved with them, in that order) whose
payloads we set. Each button's id/payload is `services.common.links.sign_answer`'s signed reference to
the one offer and its volunteer; `POST /webhooks/whatsapp` receives the press. Every message carries
the notification id as `biz_opaque_callback_data`, which Meta returns in its status webhooks (sent,
delivered, read, failed), so the gateway can tell which notification a status is about.
"""

from __future__ import annotations

from typing import Any

import httpx

from schemas.vocabulary import ChannelType, Language, NotificationKind
from services.common.links import sign_answer
from services.notifier.channels.base import Outgoing
from services.notifier.channels.http import error_for_status, json_body, post, retry_after_of
from services.notifier.errors import DeliveryError, Misconfigured, RateLimited, Rejected, ServerError
from services.notifier.settings import NotifierSettings

# Cloud API error codes (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes)
_RATE_LIMITED = {4, 80007, 130429, 131048, 131056}
_MISCONFIGURED = {0, 3, 10, 190, 131031, 131037, 132000, 132001, 132005, 132007, 132012, 132015, 368}
_TRANSIENT = {1, 2, 131000, 131016, 133004}
_REJECTED = {131021, 131026, 131030, 131047, 131051, 131052, 131053, 100}
_MAX_TEMPLATE_PARAM = 1024
_MAX_INTERACTIVE_BODY = 1024
BUTTON_TITLES = {Language.ID: ("SIAP", "TIDAK BISA"), Language.EN: ("READY", "CAN'T GO")}
"""reply-button titles (20 characters at most); the approved template carries its own labels"""


def answer_refs(message: Outgoing, secret: str) -> tuple[str, str] | None:
    """The signed references of an offer's two buttons (accept, decline), or None for other messages."""
    if message.kind != NotificationKind.OFFER or not (message.offer_id and message.volunteer_id):
        return None
    yes = sign_answer("y", message.offer_id, message.volunteer_id, secret)
    no = sign_answer("n", message.offer_id, message.volunteer_id, secret)
    return (yes, no) if yes and no else None


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

    def __init__(self, settings: NotifierSettings, client: httpx.AsyncClient) -> None:
        self._settings = settings
        self._client = client
        self._templates = settings.whatsapp_template

    def check_configured(self) -> None:
        self.check(self._settings)

    @staticmethod
    def check(s: NotifierSettings) -> None:
        if not (s.whatsapp_url and s.whatsapp_phone_number_id and s.whatsapp_token):
            raise Misconfigured(
                "whatsapp needs SIGAP_WHATSAPP_URL, SIGAP_WHATSAPP_PHONE_NUMBER_ID and SIGAP_WHATSAPP_TOKEN"
            )

    def body(self, message: Outgoing) -> dict[str, Any]:
        """The Cloud API request body: an approved template when one is configured for the kind,
        otherwise a text message (with link preview); an offer's carries its two answer buttons."""
        to = message.address.lstrip("+")
        base: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "biz_opaque_callback_data": message.notification_id,
        }
        refs = answer_refs(message, self._settings.link_secret)
        template = self._templates.get(message.kind)
        if template:
            params = [{"type": "text", "text": slot[:_MAX_TEMPLATE_PARAM]} for slot in message.rendered.slots]
            components: list[dict[str, Any]] = [{"type": "body", "parameters": params}]
            for index, ref in enumerate(refs or ()):
                components.append(
                    {
                        "type": "button",
                        "sub_type": "quick_reply",
                        "index": str(index),
                        "parameters": [{"type": "payload", "payload": ref}],
                    }
                )
            return base | {
                "type": "template",
                "template": {
                    "name": template,
                    "language": {"code": self._settings.whatsapp_template_language},
                    "components": components,
                },
            }
        if refs and len(message.text) <= _MAX_INTERACTIVE_BODY:
            titles = BUTTON_TITLES[message.language]
            buttons = [
                {"type": "reply", "reply": {"id": ref, "title": title}}
                for ref, title in zip(refs, titles, strict=True)
            ]
            return base | {
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": message.text},
                    "action": {"buttons": buttons},
                },
            }
        return base | {"type": "text", "text": {"preview_url": True, "body": message.text}}

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
