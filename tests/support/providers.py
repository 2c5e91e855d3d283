"""Real local servers speaking the providers' protocols, for tests of the notifier (and end-to-end tests):

- WhatsApp Cloud API: `POST /v21.0/{phone_number_id}/messages`, `Authorization: Bearer <token>` (text,
  template with quick-reply button parameters, interactive `button` messages);
- Telegram Bot API: `POST /bot{token}/sendMessage` (inline keyboards with `url` or `callback_data`
  buttons) and `POST /bot{token}/editMessageText`;
- Zenziva SMS: `POST /api/sendsms/` form fields `userkey`, `passkey`, `to`, `message`;
- a generic JSON SMS gateway: `POST /sms` `{"from", "to", "text"}` with HTTP basic auth;
- SMTP (aiosmtpd).

Each HTTP server CHECKS the request shape the real provider requires (path, credentials, fields) and
answers a malformed request the way the provider would (and records the problem in `shape_errors`).
Tests program answers per recipient address — success, 5xx, 429 with Retry-After, a permanent
rejection, or a hang — and read back every request with its arrival time.

Everything runs in one background thread with its own event loop, so synchronous and asynchronous tests
can both use it: `with ProviderServers() as providers: ...` and `providers.env()` for the notifier.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import email.utils
import hashlib
import hmac
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

from tests.support.procs import free_port

PHONE_NUMBER_ID = "106540352242922"
WHATSAPP_TOKEN = "EAAtest-whatsapp-token"
TELEGRAM_TOKEN = "123456:ABC-test-bot-token"
ZENZIVA_USERKEY = "zz-userkey"
ZENZIVA_PASSKEY = "zz-passkey"
SMS_USER = "sms-user"
SMS_PASSWORD = "sms-password"

PROVIDERS = ("whatsapp", "telegram", "zenziva", "sms_generic", "smtp")


@dataclass(frozen=True)
class Reply:
    """What a provider answers one request: `ok`, `server_error`, `rate_limited`, `reject`, `hang`."""

    kind: str
    status: int = 200
    retry_after: float | None = None
    retry_after_in: str = "header"  # "header", "body" (Telegram's parameters.retry_after) or "date"
    seconds: float = 0.0


def ok() -> Reply:
    return Reply("ok")


def server_error(status: int = 503) -> Reply:
    return Reply("server_error", status=status)


def rate_limited(retry_after: float, where: str = "header") -> Reply:
    return Reply("rate_limited", status=429, retry_after=retry_after, retry_after_in=where)


def reject() -> Reply:
    """The provider's permanent "cannot deliver to this recipient"."""
    return Reply("reject", status=400)


def hang(seconds: float = 60.0) -> Reply:
    """Accept the request and never answer in time."""
    return Reply("hang", seconds=seconds)


@dataclass
class Recorded:
    provider: str
    address: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float  # time.monotonic() on arrival
    wall: float  # time.time() on arrival
    reply: str = ""


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    programs: dict[tuple[str, str], deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    recorded: list[Recorded] = field(default_factory=list)
    shape_errors: list[str] = field(default_factory=list)
    counter: int = 0

    def next_reply(self, provider: str, address: str) -> Reply:
        with self.lock:
            queue = self.programs.get((provider, address))
            return queue.popleft() if queue else ok()

    def record(self, item: Recorded) -> None:
        with self.lock:
            self.recorded.append(item)

    def shape_error(self, provider: str, problem: str) -> None:
        with self.lock:
            self.shape_errors.append(f"{provider}: {problem}")

    def next_id(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter


def _retry_after_header(reply: Reply) -> dict[str, str]:
    if reply.retry_after is None or reply.retry_after_in == "body":
        return {}
    if reply.retry_after_in == "date":
        return {"Retry-After": email.utils.formatdate(time.time() + reply.retry_after, usegmt=True)}
    return {"Retry-After": f"{reply.retry_after:g}"}


class ProviderServers:
    """All provider servers on free loopback ports. Use as a context manager."""

    def __init__(self) -> None:
        self.state = _State()
        self.http_port = free_port()
        self.smtp_port = free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._smtp: Controller | None = None
        self._started = threading.Event()

    # --- configuration for the notifier ----------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def env(self, sms_provider: str = "zenziva") -> dict[str, str]:
        """SIGAP_* variables pointing every channel at these servers."""
        generic = sms_provider == "generic"
        return {
            "SIGAP_WHATSAPP_URL": f"{self.base}/v21.0",
            "SIGAP_WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "SIGAP_WHATSAPP_TOKEN": WHATSAPP_TOKEN,
            "SIGAP_TELEGRAM_URL": self.base,
            "SIGAP_TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "SIGAP_SMS_PROVIDER": sms_provider,
            "SIGAP_SMS_URL": f"{self.base}/sms" if generic else self.base,
            "SIGAP_SMS_USER": SMS_USER if generic else ZENZIVA_USERKEY,
            "SIGAP_SMS_PASSWORD": SMS_PASSWORD if generic else ZENZIVA_PASSKEY,
            "SIGAP_SMTP_HOST": "127.0.0.1",
            "SIGAP_SMTP_PORT": str(self.smtp_port),
            "SIGAP_SMTP_TLS": "none",
            "SIGAP_SMTP_FROM": "sigap@dinsos.kedirikota.go.id",
        }

    # --- programming and reading back ------------------------------------------------------------

    def program(self, provider: str, address: str, *replies: Reply) -> None:
        """Answer the next requests to `address` with `replies`, in order (then success)."""
        assert provider in PROVIDERS, provider
        with self.state.lock:
            self.state.programs[(provider, address)].extend(replies)

    def requests(self, provider: str | None = None, address: str | None = None) -> list[Recorded]:
        with self.state.lock:
            return [
                r
                for r in self.state.recorded
                if (provider is None or r.provider == provider) and (address is None or r.address == address)
            ]

    def take_shape_errors(self) -> list[str]:
        """Malformed requests seen since the last call (a test that sends wrong credentials on purpose
        takes its own; the others assert there were none)."""
        with self.state.lock:
            errors, self.state.shape_errors = self.state.shape_errors, []
            return errors

    def wait_for(
        self, provider: str, address: str, count: int = 1, timeout_s: float = 30.0
    ) -> list[Recorded]:
        """Block until `count` requests to `address` arrived; return them."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.requests(provider, address)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(
            f"{provider} got {len(self.requests(provider, address))} requests for {address}, wanted {count}"
        )

    # --- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> ProviderServers:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="provider-servers", daemon=True)
        self._thread.start()
        if not self._started.wait(15):
            raise RuntimeError("provider servers did not start")
        self._smtp = Controller(SmtpHandler(self.state), hostname="127.0.0.1", port=self.smtp_port)
        self._smtp.start()

    def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
        if self._loop is not None and self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(self._runner), self._loop).result(15)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(15)

    @staticmethod
    async def _shutdown(runner: web.AppRunner) -> None:
        await runner.cleanup()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:  # handlers still "hanging"
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_post("/v21.0/{phone_number_id}/messages", self._whatsapp)
        app.router.add_post("/bot{token}/sendMessage", self._telegram)
        app.router.add_post("/bot{token}/editMessageText", self._telegram_edit)
        app.router.add_post("/api/sendsms/", self._zenziva)
        app.router.add_post("/sms", self._sms_generic)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.http_port)
        loop.run_until_complete(site.start())
        self._started.set()
        loop.run_forever()
        loop.close()

    # --- the providers --------------------------------------------------------------------------

    def _arrived(self, provider: str, address: str, request: web.Request, body: dict[str, Any]) -> Recorded:
        item = Recorded(
            provider=provider,
            address=address,
            path=request.path,
            headers=dict(request.headers),
            body=body,
            at=time.monotonic(),
            wall=time.time(),
        )
        self.state.record(item)
        return item

    async def _whatsapp(self, request: web.Request) -> web.Response:
        def error(status: int, code: int, message: str, kind: str = "OAuthException") -> web.Response:
            return web.json_response(
                {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEf"}},
                status=status,
            )

        if request.headers.get("Authorization") != f"Bearer {WHATSAPP_TOKEN}":
            self.state.shape_error("whatsapp", "missing or wrong bearer token")
            return error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if request.match_info["phone_number_id"] != PHONE_NUMBER_ID:
            self.state.shape_error(
                "whatsapp", f"wrong phone number id {request.match_info['phone_number_id']}"
            )
            return error(400, 100, "Unsupported post request.", "GraphMethodException")
        try:
            body = await request.json()
        except ValueError:
            self.state.shape_error("whatsapp", "body is not JSON")
            return error(400, 100, "Invalid parameter")
        problem = _whatsapp_problem(body)
        if problem:
            self.state.shape_error("whatsapp", problem)
            return error(400, 100, f"(#100) Invalid parameter: {problem}")
        item = self._arrived("whatsapp", body["to"], request, body)
        reply = self.state.next_reply("whatsapp", body["to"])
        item.reply = reply.kind
        if reply.kind == "hang":
            await asyncio.sleep(reply.seconds)
        if reply.kind == "server_error":
            return error(reply.status, 131016, "Service unavailable", "OAuthException")
        if reply.kind == "rate_limited":
            response = error(429, 130429, "(#130429) Rate limit hit")
            response.headers.update(_retry_after_header(reply))
            return response
        if reply.kind == "reject":
            return error(400, 131026, "(#131026) Message undeliverable")
        wamid = f"wamid.HBgN{self.state.next_id():06d}"
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": wamid}],
            }
        )

    async def _telegram(self, request: web.Request) -> web.Response:
        def error(status: int, description: str, **parameters: Any) -> web.Response:
            body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
            if parameters:
                body["parameters"] = parameters
            return web.json_response(body, status=status)

        if request.match_info["token"] != TELEGRAM_TOKEN:
            self.state.shape_error("telegram", "wrong bot token in the path")
            return error(401, "Unauthorized")
        try:
            body = await request.json()
        except ValueError:
            self.state.shape_error("telegram", "body is not JSON")
            return error(400, "Bad Request: message text is empty")
        problem = _telegram_problem(body)
        if problem:
            self.state.shape_error("telegram", problem)
            return error(400, f"Bad Request: {problem}")
        chat = str(body["chat_id"])
        item = self._arrived("telegram", chat, request, body)
        reply = self.state.next_reply("telegram", chat)
        item.reply = reply.kind
        if reply.kind == "hang":
            await asyncio.sleep(reply.seconds)
        if reply.kind == "server_error":
            return web.Response(
                status=reply.status, text="<html>Bad Gateway</html>", content_type="text/html"
            )
        if reply.kind == "rate_limited":
            retry = int(reply.retry_after or 1)
            response = error(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
            if reply.retry_after_in != "body":
                response.headers.update(_retry_after_header(reply))
            return response
        if reply.kind == "reject":
            return error(400, "Bad Request: chat not found")
        message_id = self.state.next_id()
        return web.json_response(
            {
                "ok": True,
                "result": {
                    "message_id": message_id,
                    "chat": {"id": body["chat_id"], "type": "private"},
                    "date": int(time.time()),
                    "text": body["text"],
                },
            }
        )

    async def _telegram_edit(self, request: web.Request) -> web.Response:
        """`editMessageText`: chat_id + message_id + text; answers the edited Message."""
        if request.match_info["token"] != TELEGRAM_TOKEN:
            self.state.shape_error("telegram", "wrong bot token in the path")
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        body = await request.json()
        chat, message_id, text = body.get("chat_id"), body.get("message_id"), body.get("text")
        if (
            not isinstance(chat, int)
            or not isinstance(message_id, int)
            or not (isinstance(text, str) and text)
        ):
            self.state.shape_error("telegram", f"editMessageText needs chat_id, message_id, text: {body}")
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: message to edit not found"},
                status=400,
            )
        self._arrived("telegram", str(chat), request, body)
        return web.json_response(
            {
                "ok": True,
                "result": {
                    "message_id": message_id,
                    "chat": {"id": chat, "type": "private"},
                    "date": int(time.time()),
                    "edit_date": int(time.time()),
                    "text": text,
                },
            }
        )

    async def _zenziva(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            self.state.shape_error("zenziva", f"content type {request.content_type}, not a form")
            return web.json_response({"status": "0", "text": "Parameter tidak lengkap"})
        form = dict(await request.post())
        missing = [f for f in ("userkey", "passkey", "to", "message") if not form.get(f)]
        if missing:
            self.state.shape_error("zenziva", f"missing form fields {missing}")
            return web.json_response({"status": "0", "text": "Parameter tidak lengkap"})
        if form["userkey"] != ZENZIVA_USERKEY or form["passkey"] != ZENZIVA_PASSKEY:
            self.state.shape_error("zenziva", "wrong userkey/passkey")
            return web.json_response({"status": "0", "text": "Userkey / Passkey Salah"})
        to = str(form["to"])
        if not (to.isdigit() and (to.startswith("62") or to.startswith("08"))):
            self.state.shape_error("zenziva", f"destination {to!r} is not an Indonesian number")
            return web.json_response({"status": "0", "text": "Nomor tujuan tidak valid"})
        body = {k: str(v) for k, v in form.items()}
        item = self._arrived("zenziva", to, request, body)
        reply = self.state.next_reply("zenziva", to)
        item.reply = reply.kind
        if reply.kind == "hang":
            await asyncio.sleep(reply.seconds)
        if reply.kind == "server_error":
            return web.Response(status=reply.status, text="Internal Server Error")
        if reply.kind == "rate_limited":
            return web.Response(status=429, text="Too Many Requests", headers=_retry_after_header(reply))
        if reply.kind == "reject":
            return web.json_response(
                {"messageId": "", "to": to, "status": "0", "text": "Nomor tujuan tidak valid"}
            )
        return web.json_response(
            {"messageId": str(self.state.next_id()), "to": to, "status": "1", "text": "Success"}
        )

    async def _sms_generic(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{SMS_USER}:{SMS_PASSWORD}".encode()).decode()
        if auth != expected:
            self.state.shape_error("sms_generic", "missing or wrong basic auth")
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            body = await request.json()
        except ValueError:
            self.state.shape_error("sms_generic", "body is not JSON")
            return web.json_response({"error": "bad json"}, status=400)
        if not (isinstance(body, dict) and body.get("to") and body.get("text") and body.get("from")):
            self.state.shape_error("sms_generic", f"missing fields in {body}")
            return web.json_response({"error": "from, to and text are required"}, status=400)
        item = self._arrived("sms_generic", str(body["to"]), request, body)
        reply = self.state.next_reply("sms_generic", str(body["to"]))
        item.reply = reply.kind
        if reply.kind == "hang":
            await asyncio.sleep(reply.seconds)
        if reply.kind == "server_error":
            return web.json_response({"error": "unavailable"}, status=reply.status)
        if reply.kind == "rate_limited":
            return web.json_response({"error": "slow down"}, status=429, headers=_retry_after_header(reply))
        if reply.kind == "reject":
            return web.json_response({"error": "invalid destination"}, status=422)
        return web.json_response({"id": f"gen-{self.state.next_id()}", "status": "queued"}, status=202)


def _whatsapp_problem(body: Any) -> str:
    if not isinstance(body, dict):
        return "body is not an object"
    if body.get("messaging_product") != "whatsapp":
        return "messaging_product must be 'whatsapp'"
    if body.get("recipient_type", "individual") != "individual":
        return "recipient_type must be 'individual'"
    to = body.get("to")
    if not (isinstance(to, str) and to.isdigit() and 8 <= len(to) <= 15):
        return f"'to' must be the number in international format without '+', got {to!r}"
    kind = body.get("type")
    if kind == "text":
        text = body.get("text")
        if not (isinstance(text, dict) and isinstance(text.get("body"), str) and text["body"].strip()):
            return "text.body is required"
        if len(text["body"]) > 4096:
            return "text.body is longer than 4096 characters"
        if "preview_url" in text and not isinstance(text["preview_url"], bool):
            return "text.preview_url must be a boolean"
        return ""
    if kind == "template":
        template = body.get("template")
        if not (isinstance(template, dict) and template.get("name")):
            return "template.name is required"
        language = template.get("language")
        if not (isinstance(language, dict) and language.get("code")):
            return "template.language.code is required"
        for component in template.get("components", []):
            if component.get("type") not in ("header", "body", "button"):
                return f"unknown component type {component.get('type')!r}"
            if component.get("type") == "button":
                if (
                    component.get("sub_type") != "quick_reply"
                    or not str(component.get("index", "")).isdigit()
                ):
                    return "a button component needs sub_type quick_reply and an index"
                params = component.get("parameters", [])
                if not all(p.get("type") == "payload" and p.get("payload") for p in params):
                    return "quick-reply button parameters are {type: payload, payload}"
                continue
            for param in component.get("parameters", []):
                if param.get("type") != "text" or not str(param.get("text", "")).strip():
                    return "template parameters must be non-empty text"
        return ""
    if kind == "interactive":
        return _interactive_problem(body.get("interactive"))
    return f"unsupported message type {kind!r}"


def _interactive_problem(interactive: Any) -> str:
    """Reply buttons: 1-3, unique ids of at most 256 characters, titles of at most 20; body ≤ 1024."""
    if not isinstance(interactive, dict) or interactive.get("type") != "button":
        return "interactive.type must be 'button' (reply buttons)"
    text = (interactive.get("body") or {}).get("text")
    if not (isinstance(text, str) and text.strip()) or len(text) > 1024:
        return "interactive.body.text is required, at most 1024 characters"
    buttons = (interactive.get("action") or {}).get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return "interactive.action.buttons must hold 1 to 3 buttons"
    ids = []
    for button in buttons:
        reply = button.get("reply") if isinstance(button, dict) else None
        if button.get("type") != "reply" or not isinstance(reply, dict):
            return "each button is {type: reply, reply: {id, title}}"
        if not (isinstance(reply.get("id"), str) and 1 <= len(reply["id"]) <= 256):
            return "button reply id must be 1-256 characters"
        if not (isinstance(reply.get("title"), str) and 1 <= len(reply["title"]) <= 20):
            return "button reply title must be 1-20 characters"
        ids.append(reply["id"])
    if len(set(ids)) != len(ids):
        return "button ids must be unique"
    return ""


def _telegram_problem(body: Any) -> str:
    if not isinstance(body, dict):
        return "body is not an object"
    chat = body.get("chat_id")
    if not (isinstance(chat, int) or (isinstance(chat, str) and chat.startswith("@"))):
        return "chat_id must be an integer or an @channelusername"
    text = body.get("text")
    if not (isinstance(text, str) and text.strip()):
        return "message text is empty"
    if len(text) > 4096:
        return "message is too long"
    markup = body.get("reply_markup")
    if markup is not None:
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            return "reply_markup.inline_keyboard must be an array of button rows"
        for row in rows:
            for button in row:
                if not (isinstance(button, dict) and button.get("text")):
                    return "a keyboard button needs text"
                url = button.get("url")
                if url is not None and not str(url).startswith(("http://", "https://", "tg://")):
                    return "BUTTON_URL_INVALID"
                data = button.get("callback_data")
                if data is not None and not (isinstance(data, str) and 1 <= len(data.encode()) <= 64):
                    return "BUTTON_DATA_INVALID"  # the Bot API's limit: 1-64 bytes
                if url is None and data is None:
                    return "a keyboard button needs url or callback_data"
    return ""


class SmtpHandler:
    """aiosmtpd handler recording every message; refuses or stalls programmed recipients."""

    def __init__(self, state: _State) -> None:
        self.state = state

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        with self.state.lock:
            queue = self.state.programs.get(("smtp", address))
            upcoming = queue[0] if queue else ok()
        if upcoming.kind == "reject":
            self.state.next_reply("smtp", address)
            self._record(address, envelope, b"", "reject")
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if upcoming.kind in ("server_error", "rate_limited"):
            self.state.next_reply("smtp", address)
            self._record(address, envelope, b"", upcoming.kind)
            return "451 4.3.0 Temporary failure, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for address in envelope.rcpt_tos:
            reply = self.state.next_reply("smtp", address)
            self._record(address, envelope, envelope.content, reply.kind)
            if reply.kind == "hang":
                await asyncio.sleep(reply.seconds)
        return "250 2.0.0 Ok: queued"

    def _record(self, address: str, envelope: Any, content: bytes, reply: str) -> None:
        message = email.message_from_bytes(content or b"", policy=email.policy.default)
        body = message.get_body(("plain",)) if content else None
        self.state.record(
            Recorded(
                provider="smtp",
                address=address,
                path="",
                headers={k: str(v) for k, v in message.items()},
                body={
                    "mail_from": envelope.mail_from,
                    "text": body.get_content() if body is not None else "",
                },
                at=time.monotonic(),
                wall=time.time(),
                reply=reply,
            )
        )


# --- what the providers send us (issue 18): webhooks in their real shapes ------------------------

WABA_ID = "102290129340398"
DISPLAY_NUMBER = "6281130001000"


def meta_signature(raw: bytes, app_secret: str) -> str:
    """`X-Hub-Signature-256` as Meta computes it: HMAC-SHA256 of the raw body with the app secret."""
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()


def meta_notification(
    *, messages: list[dict[str, Any]] | None = None, statuses: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A `whatsapp_business_account` webhook notification (one entry, one `messages` change)."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": PHONE_NUMBER_ID},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Relawan"}, "wa_id": m["from"]} for m in messages]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }


def meta_button_reply(
    sender: str, message_id: str, button_id: str, title: str, context_id: str = ""
) -> dict[str, Any]:
    """An interactive reply-button press (`messages[].type = interactive`, `button_reply`)."""
    return {
        "context": {"from": DISPLAY_NUMBER, "id": context_id or "wamid.context"},
        "from": sender,
        "id": message_id,
        "timestamp": str(int(time.time())),
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
    }


def meta_quick_reply(sender: str, message_id: str, payload: str, text: str) -> dict[str, Any]:
    """A template quick-reply button press (`messages[].type = button`)."""
    return {
        "context": {"from": DISPLAY_NUMBER, "id": "wamid.template"},
        "from": sender,
        "id": message_id,
        "timestamp": str(int(time.time())),
        "type": "button",
        "button": {"text": text, "payload": payload},
    }


def meta_text(sender: str, message_id: str, body: str) -> dict[str, Any]:
    return {
        "from": sender,
        "id": message_id,
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": body},
    }


def meta_status(message_id: str, status: str, recipient: str, callback_data: str = "") -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": recipient,
    }
    if callback_data:
        item["biz_opaque_callback_data"] = callback_data
    if status == "failed":
        item["errors"] = [{"code": 131026, "title": "Message undeliverable"}]
    return item


def telegram_callback(update_id: int, user_id: int, message_id: int, data: str) -> dict[str, Any]:
    """A Bot API `Update` carrying a `callback_query` (an inline button pressed in a private chat)."""
    user = {"id": user_id, "is_bot": False, "first_name": "Relawan", "language_code": "id"}
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"{user_id}{update_id}",
            "from": user,
            "message": {
                "message_id": message_id,
                "from": {"id": 123456, "is_bot": True, "first_name": "Sigap"},
                "chat": {"id": user_id, "first_name": "Relawan", "type": "private"},
                "date": int(time.time()),
                "text": "[SIGAP] TAWARAN TUGAS",
            },
            "chat_instance": "-1234567890",
            "data": data,
        },
    }


def telegram_text(update_id: int, user_id: int, message_id: int, text: str) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": "Relawan"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "from": user,
            "chat": {"id": user_id, "first_name": "Relawan", "type": "private"},
            "date": int(time.time()),
            "text": text,
        },
    }
