"""Telegram through the Bot API: `POST {SIGAP_TELEGRAM_URL}/bot{token}/sendMessage`, with an inline
keyboard whose URL button opens the response page (the page itself asks accept or decline: opening a
link must never change state by itself, DESIGN.md §5).

An offer's keyboard also has two answer buttons, "SIAP" and "TIDAK BISA", whose `callback_data` is a
signed reference to the offer and its volunteer (`services.common.links.sign_answer`, at most 64
bytes); pressing one reaches `POST /webhooks/telegram` (issue 18). A reply to such a press that names
the answered message (`Rendered.reply_to`, `chat_id:message_id`) edits that message with
`editMessageText` instead of sending a new one, so the offer itself shows the outcome."""

from __future__ import annotations

from typing import Any

import httpx

from schemas.vocabulary import ChannelType, Language, NotificationKind
from services.common.links import sign_answer
from services.notifier.channels.base import Outgoing
from services.notifier.channels.http import error_for_status, json_body, post, retry_after_of
from services.notifier.errors import DeliveryError, Misconfigured, RateLimited, Rejected
from services.notifier.settings import NotifierSettings

MAX_TEXT = 4096
BUTTON_TITLES = {Language.ID: ("SIAP", "TIDAK BISA"), Language.EN: ("READY", "CAN'T GO")}


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

    def __init__(self, settings: NotifierSettings, client: httpx.AsyncClient) -> None:
        self._settings = settings
        self._client = client

    def check_configured(self) -> None:
        self.check(self._settings)

    @staticmethod
    def check(s: NotifierSettings) -> None:
        if not (s.telegram_url and s.telegram_bot_token):
            raise Misconfigured("telegram needs SIGAP_TELEGRAM_URL and SIGAP_TELEGRAM_BOT_TOKEN")

    def _chat(self, address: str) -> int | str:
        return int(address) if address.lstrip("-").isdigit() else address

    def answer_row(self, message: Outgoing) -> list[dict[str, str]]:
        """An offer's SIAP / TIDAK BISA buttons (none for other messages, or without a volunteer)."""
        if message.kind != NotificationKind.OFFER or not (message.offer_id and message.volunteer_id):
            return []
        secret = self._settings.link_secret
        refs = [sign_answer(a, message.offer_id, message.volunteer_id, secret) for a in ("y", "n")]
        titles = BUTTON_TITLES[message.language]
        return [{"text": title, "callback_data": ref} for title, ref in zip(titles, refs, strict=True) if ref]

    def body(self, message: Outgoing) -> dict[str, Any]:
        body: dict[str, Any] = {
            "chat_id": self._chat(message.address),
            "text": message.text[:MAX_TEXT],
            "link_preview_options": {"is_disabled": True},
        }
        rendered = message.rendered
        rows = [row for row in [self.answer_row(message)] if len(row) == 2]
        if rendered.response_url and rendered.button:
            rows.append([{"text": rendered.button, "url": rendered.response_url}])
        if rows:
            body["reply_markup"] = {"inline_keyboard": rows}
        return body

    def edit_target(self, message: Outgoing) -> tuple[int | str, int] | None:
        """`(chat_id, message_id)` of the message a reply edits, when it names one in this chat."""
        chat, _, message_id = (message.rendered.reply_to or "").partition(":")
        if message.kind != NotificationKind.REPLY or not message_id.isdigit() or chat != message.address:
            return None
        return self._chat(chat), int(message_id)

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        self.check_configured()
        s = self._settings
        target = self.edit_target(message)
        method, body = "sendMessage", self.body(message)
        if target is not None:
            method = "editMessageText"
            body = {"chat_id": target[0], "message_id": target[1], "text": message.text[:MAX_TEXT]}
        response = await post(
            self._client,
            f"{s.telegram_url.rstrip('/')}/bot{s.telegram_bot_token}/{method}",
            timeout_s=timeout_s,
            json=body,
        )
        body = json_body(response)
        if response.status_code != 200 or body.get("ok") is not True:
            raise error_from(response)
        result = body.get("result")
        if target is not None and not isinstance(result, dict):
            return str(target[1])
        return str(result.get("message_id", "")) if isinstance(result, dict) else ""
