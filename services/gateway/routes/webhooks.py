"""The providers' webhooks (issue 18): volunteers answer on WhatsApp, Telegram and SMS.

- `GET /webhooks/whatsapp` — Meta's verification: `hub.mode=subscribe` and `hub.verify_token` equal to
  `SIGAP_WHATSAPP_VERIFY_TOKEN` echo `hub.challenge`; anything else is 403.
- `POST /webhooks/whatsapp` — Meta's `whatsapp_business_account` notifications, only with
  `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with SIGAP_WHATSAPP_APP_SECRET>` (compared in
  constant time; 401 otherwise, nothing changes). `messages[]` of type `interactive` (`button_reply`),
  `button` (a template's quick reply) and `text` are answers; `statuses[]` become `notification.status`
  events on `deliveries`.
- `POST /webhooks/telegram` — Bot API updates (`callback_query` from an answer button, `message` with
  text), only with `X-Telegram-Bot-Api-Secret-Token` equal to `SIGAP_TELEGRAM_WEBHOOK_SECRET`. A button
  press is answered in the webhook's own response with `answerCallbackQuery` (the Bot API allows one
  method call there), so the volunteer's spinner stops at once.
- `POST /webhooks/sms` — a reply SMS, only with `X-Sigap-Webhook-Secret` equal to
  `SIGAP_SMS_WEBHOOK_SECRET`: the generic JSON `{"from", "text", "id"?}`, or the form fields an SMS
  gateway's inbox forwards (`from`/`msisdn`/`sender`, `text`/`message`, `id`/`messageId`).

An endpoint whose secret is not configured refuses everything. A request that authenticates is answered
200 even when its content is ignored (an unknown sender, a status of no interest), so the provider does
not retry it; 503 asks for a retry when Kafka or Redis could not take it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError

from schemas.api import ErrorBody
from schemas.envelope import make_event
from schemas.events import NotificationStatus
from schemas.vocabulary import ChannelType
from services.common.topics import DELIVERIES
from services.gateway.auth import same
from services.gateway.context import Gateway, GatewayDep
from services.gateway.errors import UNAVAILABLE, VALIDATION_ERRORS, ApiError
from services.gateway.inbound import Inbound, Outcome, mask, receive

log = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
_SIGNED: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the body is not the provider's JSON"},
    401: {"model": ErrorBody, "description": "the provider's signature or secret is missing or wrong"},
    **UNAVAILABLE,
}

SMS_SECRET_HEADER = "X-Sigap-Webhook-Secret"  # noqa: S105 - a header's name
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header's name
WHATSAPP_SIGNATURE_HEADER = "X-Hub-Signature-256"
_STATUSES = frozenset({"sent", "delivered", "read", "failed"})


def _unauthorized(what: str) -> ApiError:
    return ApiError(401, "unauthorized", f"missing or wrong {what}")


def _bad_body(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise _bad_body("the body is not JSON") from None


def _summary(outcomes: list[Outcome]) -> list[str]:
    return [o.result for o in outcomes]


# --- WhatsApp Cloud API -----------------------------------------------------------------------


@router.get(
    "/whatsapp",
    summary="Meta's webhook verification",
    response_class=PlainTextResponse,
    responses={
        403: {"description": "not Meta's verification with our verify token", "content": {"text/plain": {}}}
    },
)
async def whatsapp_verify(request: Request, gw: GatewayDep) -> Response:
    params = request.query_params
    expected = gw.settings.whatsapp_verify_token
    token = params.get("hub.verify_token", "")
    if params.get("hub.mode") == "subscribe" and expected and same(token, expected):
        return PlainTextResponse(params.get("hub.challenge", ""))
    log.warning("WhatsApp webhook verification refused")
    return PlainTextResponse("forbidden", status_code=403)


def whatsapp_signature_ok(secret: str, raw: bytes, header: str) -> bool:
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return same(header.removeprefix("sha256=").lower(), expected)


@router.post("/whatsapp", summary="Meta's notifications: answers and message statuses", responses=_SIGNED)
async def whatsapp_notifications(request: Request, gw: GatewayDep) -> JSONResponse:
    raw = await request.body()
    if not whatsapp_signature_ok(
        gw.settings.whatsapp_app_secret, raw, request.headers.get(WHATSAPP_SIGNATURE_HEADER, "")
    ):
        raise _unauthorized(WHATSAPP_SIGNATURE_HEADER)
    body = _json(raw)
    if not isinstance(body, dict) or body.get("object") != "whatsapp_business_account":
        return JSONResponse({"ignored": "not a whatsapp_business_account notification"})
    outcomes: list[Outcome] = []
    statuses = 0
    for value in _values(body):
        for item in _list(value.get("messages")):
            message = whatsapp_message(item)
            if message is not None:
                outcomes.append(await receive(gw, message))
        for item in _list(value.get("statuses")):
            statuses += await _whatsapp_status(gw, item)
    return JSONResponse({"messages": _summary(outcomes), "statuses": statuses})


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _values(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        change["value"]
        for entry in _list(body.get("entry"))
        for change in _list(entry.get("changes"))
        if isinstance(change.get("value"), dict)
    ]


def whatsapp_message(item: dict[str, Any]) -> Inbound | None:
    """One of Meta's `messages[]` as an inbound answer (None: no sender or id to act on)."""
    sender, message_id, kind = str(item.get("from") or ""), str(item.get("id") or ""), item.get("type")
    if not sender or not message_id:
        return None
    channel = ChannelType.WHATSAPP
    if kind == "interactive":
        interactive = _obj(item.get("interactive"))
        reply = _obj(interactive.get("button_reply"))
        if interactive.get("type") == "button_reply" and reply.get("id"):
            return Inbound(channel, message_id, sender, sender, ref=str(reply["id"]))
    elif kind == "button":
        button = _obj(item.get("button"))
        if button.get("payload"):
            return Inbound(channel, message_id, sender, sender, ref=str(button["payload"]))
    elif kind == "text":
        return Inbound(
            channel, message_id, sender, sender, text=str(_obj(item.get("text")).get("body") or "")
        )
    return Inbound(
        channel, message_id, sender, sender, text=""
    )  # an image, a sticker, …: the sender gets the help text


async def _whatsapp_status(gw: Gateway, item: dict[str, Any]) -> int:
    status = item.get("status")
    if status not in _STATUSES or not item.get("id"):
        return 0
    try:
        at = datetime.fromtimestamp(int(item.get("timestamp") or 0), UTC)
    except (TypeError, ValueError, OverflowError):
        at = gw.clock()
    errors = _list(item.get("errors"))
    reason = "; ".join(f"{e.get('code')}: {e.get('title') or e.get('message') or ''}" for e in errors)
    try:
        payload = NotificationStatus(
            notification_id=item.get("biz_opaque_callback_data") or None,
            channel=ChannelType.WHATSAPP,
            status=status,
            provider_message_id=str(item["id"])[:500],
            at=at if at.timestamp() > 0 else gw.clock(),
            reason=reason[:1000],
        )
    except ValidationError as exc:
        log.warning("WhatsApp status of %s unreadable: %s", str(item["id"])[:80], exc.error_count())
        return 0
    await gw.publisher.publish(DELIVERIES, make_event(payload, source="gateway"))
    return 1


# --- Telegram Bot API -------------------------------------------------------------------------


@router.post("/telegram", summary="Telegram updates: answer buttons and text replies", responses=_SIGNED)
async def telegram_update(request: Request, gw: GatewayDep) -> JSONResponse:
    secret = gw.settings.telegram_webhook_secret
    if not secret or not same(request.headers.get(TELEGRAM_SECRET_HEADER, ""), secret):
        raise _unauthorized(TELEGRAM_SECRET_HEADER)
    update = _json(await request.body())
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        raise _bad_body("a Telegram update has an integer update_id")
    message = telegram_message(update)
    if message is None:
        return JSONResponse({})
    outcome = await receive(gw, message)
    callback = update.get("callback_query")
    if isinstance(callback, dict) and callback.get("id"):
        # the Bot API runs one method given in the webhook's answer: stop the button's spinner now
        answer: dict[str, Any] = {"method": "answerCallbackQuery", "callback_query_id": str(callback["id"])}
        if outcome.reply_text:
            answer["text"] = outcome.reply_text
        return JSONResponse(answer | {"sigap_result": outcome.result})
    return JSONResponse({"sigap_result": outcome.result})


def telegram_message(update: dict[str, Any]) -> Inbound | None:
    """An update as an inbound answer: a `callback_query` (a button) or a `message` with text."""
    update_id = f"u{update['update_id']}"
    callback = update.get("callback_query")
    if isinstance(callback, dict):
        user, original = _obj(callback.get("from")), _obj(callback.get("message"))
        chat = _obj(original.get("chat"))
        if not user.get("id") or not callback.get("data"):
            return None
        chat_id = str(chat.get("id") or user["id"])
        channel_ref = f"{chat_id}:{original['message_id']}" if original.get("message_id") else ""
        return Inbound(
            channel=ChannelType.TELEGRAM,
            message_id=update_id,
            sender=str(user["id"]),
            reply_address=chat_id,
            ref=str(callback["data"]),
            channel_ref=channel_ref,
        )
    message = update.get("message")
    if isinstance(message, dict):
        chat, user = _obj(message.get("chat")), _obj(message.get("from"))
        if not chat.get("id") or chat.get("type", "private") != "private":
            return None  # answers come from the volunteer's own chat with the bot
        return Inbound(
            channel=ChannelType.TELEGRAM,
            message_id=update_id,
            sender=str(user.get("id") or chat["id"]),
            reply_address=str(chat["id"]),
            text=str(message.get("text") or ""),
        )
    return None


# --- SMS --------------------------------------------------------------------------------------


@router.post(
    "/sms", summary="A reply SMS: 'SIAP 1234' / 'TIDAK 1234'", responses={**_SIGNED, **VALIDATION_ERRORS}
)
async def sms_reply(request: Request, gw: GatewayDep) -> JSONResponse:
    secret = gw.settings.sms_webhook_secret
    if not secret or not same(request.headers.get(SMS_SECRET_HEADER, ""), secret):
        raise _unauthorized(SMS_SECRET_HEADER)
    fields = await _sms_fields(request)
    sender = _first(fields, "from", "msisdn", "sender", "nohp")
    text = _first(fields, "text", "message", "isi", "body")
    if not sender:
        raise ApiError(
            422,
            "validation_error",
            "invalid request: from",
            [{"field": "from", "location": "body", "message": "the sender's number is required"}],
        )
    message_id = _first(fields, "id", "messageId", "message_id")
    if not message_id:  # a gateway without ids: the same text from the same number is one message a while
        window = int(gw.clock().timestamp() // 600)  # ten minutes
        message_id = "h" + hashlib.sha256(f"{sender}|{text}|{window}".encode()).hexdigest()[:24]
    outcome = await receive(gw, Inbound(ChannelType.SMS, message_id, sender, reply_address=sender, text=text))
    log.info("SMS from %s: %s", mask(sender), outcome.result)
    return JSONResponse({"result": outcome.result})


async def _sms_fields(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").startswith("application/json"):
        body = _json(await request.body())
        if not isinstance(body, dict):
            raise _bad_body("the body is a JSON object {from, text}")
        return {k: str(v) for k, v in body.items() if isinstance(v, str | int)}
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _first(fields: dict[str, str], *names: str) -> str:
    return next((fields[n].strip() for n in names if fields.get(n, "").strip()), "")
