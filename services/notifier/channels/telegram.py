"""Telegram through the Bot API: `POST {SIGAP_TELEGRAM_URL}/bot{token}/sendMessage`, with an inline
keyboard whose URL button opens the response page (the page itself asks accept or decline: a button
press must never change state by itself, DESIGN.md §5)."""

from __future__ import annotations

from typing import Any

import httpx

from schemas.vocabulary import ChannelType
from services.common.config import Settings
from services.notifier.channels.base import Outgoing
from services.notifier.channels.http import error_for_status, json_body, post, retry_after_of
from services.notifier.errors import DeliveryError, Misconfigured, RateLimited, Rejected

MAX_TEXT = 4096


def error_from(response: httpx.Response) -> DeliveryError:
    """Map a Bot API error answer (`{"ok": false, "error_code", "description", "parameters"}`)."""
    body = json_body(response)
    code = body.get("error_code", response.status_code)
    description = str(body.get("description") or response.reason_phrase)[:300]
    parameters = body.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    detail = f"Telegram error {code}: {description}"
    if code == 429:
        retry_after = parameters.get("retry_after")
        seconds = float(retry_after) if isinstance(retry_after, int | float) else retry_after_of(response)
        return RateLimited(detail, retry_after=seconds)
    if code in (401, 404):
        return Misconfigured(detail)  # a wrong bot token answers 401 Unauthorized or 404 Not Found
    if code in (400, 403):
        if "migrate_to_chat_id" in parameters:
            return Rejected(f"{detail} (the group moved to chat {parameters['migrate_to_chat_id']})")
        return Rejected(detail)  # chat not found, bot blocked by the user, …
    return error_for_status(int(code) if isinstance(code, int) else response.status_code, detail)


class TelegramChannel:
    type = ChannelType.TELEGRAM
    idempotent = False
    finishes_claims = False

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self._settings = settings
        self._client = client

    def check_configured(self) -> None:
        self.check(self._settings)

    @staticmethod
    def check(s: Settings) -> None:
        if not (s.telegram_url and s.telegram_bot_token):
            raise Misconfigured("telegram needs SIGAP_TELEGRAM_URL and SIGAP_TELEGRAM_BOT_TOKEN")

    def body(self, message: Outgoing) -> dict[str, Any]:
        body: dict[str, Any] = {
            "chat_id": int(message.address) if message.address.lstrip("-").isdigit() else message.address,
            "text": message.text[:MAX_TEXT],
            "link_preview_options": {"is_disabled": True},
        }
        rendered = message.rendered
        if rendered.response_url and rendered.button:
            body["reply_markup"] = {
                "inline_keyboard": [[{"text": rendered.button, "url": rendered.response_url}]]
            }
        return body

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        self.check_configured()
        s = self._settings
        response = await post(
            self._client,
            f"{s.telegram_url.rstrip('/')}/bot{s.telegram_bot_token}/sendMessage",
            timeout_s=timeout_s,
            json=self.body(message),
        )
        body = json_body(response)
        if response.status_code != 200 or body.get("ok") is not True:
            raise error_from(response)
        result = body.get("result")
        return str(result.get("message_id", "")) if isinstance(result, dict) else ""
