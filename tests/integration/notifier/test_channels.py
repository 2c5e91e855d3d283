"""Each channel adapter against a real local server speaking its provider's protocol (and the outbox
against the real Redis): the request shape the provider requires, and how its answers are mapped."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from redis.asyncio import Redis

from schemas.api import OutboxMessage
from schemas.vocabulary import ChannelType
from services.common.clock import ManualClock
from services.common.config import Settings
from services.common.readmodels import Keys
from services.notifier.channels import Outgoing
from services.notifier.channels.email import EmailChannel
from services.notifier.channels.outbox import OutboxChannel
from services.notifier.channels.sms import SmsChannel
from services.notifier.channels.telegram import TelegramChannel
from services.notifier.channels.whatsapp import WhatsAppChannel
from services.notifier.errors import (
    ConnectionFailed,
    Misconfigured,
    ProviderTimeout,
    RateLimited,
    Rejected,
    ServerError,
)
from services.notifier.templates import render
from tests.support import providers as p
from tests.support.procs import free_port
from tests.unit.notifier.samples import LINK, request


def unique_phone() -> str:
    return "0812" + str(uuid.uuid4().int)[:8]


def outgoing(
    channel: ChannelType, address: str, kind: str = "offer", render_as: ChannelType | None = None
) -> Outgoing:
    req = request([(channel.value, address)], kind=kind)
    return Outgoing(
        req.notification_id,
        req.kind,
        req.recipient.channels[0].address,
        req.recipient.language,
        render(req),
        render_as or channel,
        volunteer_id=req.recipient.volunteer_id,
        incident_id=req.incident_id,
        offer_id=req.offer_id,
    )


@pytest.fixture
def env_settings(providers: p.ProviderServers, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in providers.env().items():
        monkeypatch.setenv(name, value)
    return Settings()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def test_whatsapp_text_and_template(
    providers: p.ProviderServers, env_settings: Settings, http: httpx.AsyncClient
) -> None:
    phone = unique_phone()
    wamid = await WhatsAppChannel(env_settings, http).send(outgoing(ChannelType.WHATSAPP, phone), 5)
    [req] = providers.requests("whatsapp", "62" + phone[1:])
    assert wamid.startswith("wamid.")
    assert req.path == f"/v21.0/{p.PHONE_NUMBER_ID}/messages"
    assert req.headers["Authorization"] == f"Bearer {p.WHATSAPP_TOKEN}"
    # an offer carries its SIAP / TIDAK BISA reply buttons, the link still in the text (issue 18)
    assert req.body["type"] == "interactive" and LINK in req.body["interactive"]["body"]["text"]
    assert [b["reply"]["title"] for b in req.body["interactive"]["action"]["buttons"]] == [
        "SIAP",
        "TIDAK BISA",
    ]
    await WhatsAppChannel(env_settings, http).send(outgoing(ChannelType.WHATSAPP, phone, "withdrawal"), 5)
    notice = providers.requests("whatsapp", "62" + phone[1:])[1]
    assert notice.body["type"] == "text" and notice.body["text"]["preview_url"] is True

    templated = Settings(**{**env_settings.model_dump(), "whatsapp_template": "sigap_notice"})
    await WhatsAppChannel(templated, http).send(outgoing(ChannelType.WHATSAPP, phone), 5)
    template = providers.requests("whatsapp", "62" + phone[1:])[2].body["template"]
    assert template["name"] == "sigap_notice"
    assert [c["sub_type"] for c in template["components"] if c["type"] == "button"] == ["quick_reply"] * 2
    assert not providers.take_shape_errors()


async def test_whatsapp_answers_are_mapped(
    providers: p.ProviderServers, env_settings: Settings, http: httpx.AsyncClient
) -> None:
    phone = unique_phone()
    providers.program(
        "whatsapp", "62" + phone[1:], p.server_error(), p.rate_limited(3), p.reject(), p.hang(5)
    )
    adapter = WhatsAppChannel(env_settings, http)
    message = outgoing(ChannelType.WHATSAPP, phone)
    with pytest.raises(ServerError):
        await adapter.send(message, 5)
    with pytest.raises(RateLimited) as limited:
        await adapter.send(message, 5)
    assert limited.value.retry_after == 3.0
    with pytest.raises(Rejected, match="131026"):
        await adapter.send(message, 5)
    with pytest.raises(ProviderTimeout):
        await adapter.send(message, 0.3)
    wrong_token = Settings(**{**env_settings.model_dump(), "whatsapp_token": "revoked"})
    with pytest.raises(Misconfigured, match="190"):
        await WhatsAppChannel(wrong_token, http).send(message, 5)
    assert providers.take_shape_errors() == ["whatsapp: missing or wrong bearer token"]


async def test_telegram(
    providers: p.ProviderServers, env_settings: Settings, http: httpx.AsyncClient
) -> None:
    chat = str(uuid.uuid4().int)[:9]
    adapter = TelegramChannel(env_settings, http)
    message_id = await adapter.send(outgoing(ChannelType.TELEGRAM, chat), 5)
    [req] = providers.requests("telegram", chat)
    assert message_id.isdigit()
    assert req.path == f"/bot{p.TELEGRAM_TOKEN}/sendMessage"
    assert req.body["chat_id"] == int(chat)
    keyboard = req.body["reply_markup"]["inline_keyboard"]
    assert [b["text"] for b in keyboard[0]] == ["SIAP", "TIDAK BISA"]  # callback buttons (issue 18)
    assert keyboard[1][0] == {"text": "Terima / Tolak", "url": LINK}

    providers.program("telegram", chat, p.rate_limited(4, where="body"), p.reject())
    with pytest.raises(RateLimited) as limited:
        await adapter.send(outgoing(ChannelType.TELEGRAM, chat), 5)
    assert limited.value.retry_after == 4.0
    with pytest.raises(Rejected, match="chat not found"):
        await adapter.send(outgoing(ChannelType.TELEGRAM, chat), 5)
    wrong = Settings(**{**env_settings.model_dump(), "telegram_bot_token": "1:nope"})
    with pytest.raises(Misconfigured):
        await TelegramChannel(wrong, http).send(outgoing(ChannelType.TELEGRAM, chat), 5)
    assert providers.take_shape_errors() == ["telegram: wrong bot token in the path"]


async def test_zenziva_sms(
    providers: p.ProviderServers, env_settings: Settings, http: httpx.AsyncClient
) -> None:
    phone = unique_phone()
    to = "62" + phone[1:]
    adapter = SmsChannel(env_settings, http)
    message = outgoing(ChannelType.SMS, phone)
    assert (await adapter.send(message, 5)).isdigit()
    [req] = providers.requests("zenziva", to)
    assert req.path == "/api/sendsms/"
    assert req.body["userkey"] == p.ZENZIVA_USERKEY and req.body["passkey"] == p.ZENZIVA_PASSKEY
    assert req.body["message"] == message.rendered.sms
    assert LINK in req.body["message"]

    providers.program("zenziva", to, p.reject(), p.server_error(500), p.rate_limited(2))
    with pytest.raises(Rejected, match="Nomor tujuan"):
        await adapter.send(message, 5)
    with pytest.raises(ServerError):
        await adapter.send(message, 5)
    with pytest.raises(RateLimited):
        await adapter.send(message, 5)
    wrong = Settings(**{**env_settings.model_dump(), "sms_password": "wrong"})
    with pytest.raises(Misconfigured, match="Passkey"):
        await SmsChannel(wrong, http).send(message, 5)
    assert providers.take_shape_errors() == ["zenziva: wrong userkey/passkey"]


async def test_generic_sms_gateway(
    providers: p.ProviderServers, monkeypatch: pytest.MonkeyPatch, http: httpx.AsyncClient
) -> None:
    for name, value in providers.env(sms_provider="generic").items():
        monkeypatch.setenv(name, value)
    phone = unique_phone()
    message_id = await SmsChannel(Settings(), http).send(outgoing(ChannelType.SMS, phone), 5)
    [req] = providers.requests("sms_generic", "+62" + phone[1:])
    assert message_id.startswith("gen-")
    assert req.body["from"] == "SIGAP" and LINK in req.body["text"]
    assert not providers.take_shape_errors()


async def test_email(providers: p.ProviderServers, env_settings: Settings) -> None:
    address = f"relawan-{uuid.uuid4().hex[:8]}@example.id"
    message = outgoing(ChannelType.EMAIL, address)
    message_id = await EmailChannel(env_settings).send(message, 5)
    [mail] = providers.requests("smtp", address)
    assert mail.headers["Message-ID"] == message_id
    assert mail.headers["Subject"].strip() == message.rendered.subject  # folded: the line is long
    assert mail.body["mail_from"] == "sigap@dinsos.kedirikota.go.id"
    assert "Kel. Ngronggo, Kec. Kota" in mail.body["text"] and LINK in mail.body["text"]

    providers.program("smtp", address, p.reject(), p.server_error())
    with pytest.raises(Rejected):
        await EmailChannel(env_settings).send(message, 5)
    with pytest.raises(ServerError):
        await EmailChannel(env_settings).send(message, 5)


async def test_unreachable_provider_is_a_connection_failure_that_sent_nothing(
    env_settings: Settings, http: httpx.AsyncClient
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    dead = Settings(**{**env_settings.model_dump(), "whatsapp_url": closed, "smtp_port": free_port()})
    with pytest.raises(ConnectionFailed) as failed:
        await WhatsAppChannel(dead, http).send(outgoing(ChannelType.WHATSAPP, unique_phone()), 2)
    assert not failed.value.maybe_delivered
    with pytest.raises(ConnectionFailed):
        await EmailChannel(dead).send(outgoing(ChannelType.EMAIL, "a@example.id"), 2)


@pytest.mark.integration
async def test_outbox_stores_once_newest_first_capped_and_announces(settings: Settings, redis: Redis) -> None:
    capped = Settings(**{**settings.model_dump(), "outbox_max": 3, "outbox_volunteer_max": 2})
    clock = ManualClock(datetime(2026, 1, 15, 1, 30, tzinfo=UTC))
    adapter = OutboxChannel(capped, redis, clock)
    keys = Keys(settings.redis_prefix)
    pubsub = redis.pubsub()
    await pubsub.subscribe(keys.changes)
    await pubsub.get_message(timeout=1)  # the subscription confirmation

    messages = [
        outgoing(ChannelType.WHATSAPP, "081234567890", render_as=ChannelType.WHATSAPP) for _ in range(4)
    ]
    for message in messages:
        assert await adapter.send(message, 5) == message.notification_id
    assert await adapter.send(messages[-1], 5) == messages[-1].notification_id  # a retried store adds nothing

    stored = [OutboxMessage.model_validate_json(raw) for raw in await redis.lrange(keys.outbox, 0, -1)]
    assert [m.notification_id for m in stored] == [m.notification_id for m in reversed(messages)][:3]
    assert stored[0].channel == ChannelType.WHATSAPP and stored[0].address == "+6281234567890"
    assert stored[0].text == messages[-1].rendered.text and stored[0].response_url == LINK
    assert {m.stored_at for m in stored} == {clock()}  # stamped by the notifier's clock
    assert await redis.llen(keys.volunteer_outbox("vol-1")) == 2
    notices = []
    for _ in range(4):
        got = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
        assert got is not None
        notices.append(json.loads(got["data"]))
    assert notices == [{"kind": "outbox", "id": m.notification_id} for m in messages]
    assert await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.3) is None
    await pubsub.aclose()
    await asyncio.sleep(0)
