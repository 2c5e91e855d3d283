"""Request bodies the adapters build, and the per-channel settings they are tuned by."""

from __future__ import annotations

import httpx
import pytest

from schemas.vocabulary import ChannelType, NotificationKind
from services.common.config import Settings
from services.notifier.channels import Outgoing, check_channels, mask
from services.notifier.channels.telegram import TelegramChannel
from services.notifier.channels.whatsapp import WhatsAppChannel
from services.notifier.errors import Misconfigured
from services.notifier.limits import notifier_config
from services.notifier.settings import parse_per_channel, parse_templates
from services.notifier.templates import render
from tests.unit.notifier.samples import LINK, request


def outgoing(channel: ChannelType, address: str, kind: str = "offer") -> Outgoing:
    req = request([(channel.value, address)], kind=kind)
    return Outgoing(req.notification_id, req.kind, req.recipient.channels[0].address, req.recipient.language,
                    render(req), channel)  # fmt: skip


def test_whatsapp_text_message() -> None:
    adapter = WhatsAppChannel(Settings(), httpx.AsyncClient())
    body = adapter.body(outgoing(ChannelType.WHATSAPP, "0812-3456-7890"))
    assert body["to"] == "6281234567890"
    assert body["type"] == "text"
    assert body["text"]["preview_url"] is True
    assert LINK in body["text"]["body"]


def test_whatsapp_template_message_when_configured() -> None:
    adapter = WhatsAppChannel(
        Settings(whatsapp_template="offer:sigap_tawaran_v2", whatsapp_template_language="id"),
        httpx.AsyncClient(),
    )
    body = adapter.body(outgoing(ChannelType.WHATSAPP, "+6281234567890"))
    assert body["type"] == "template"
    template = body["template"]
    assert template["name"] == "sigap_tawaran_v2"
    assert template["language"] == {"code": "id"}
    params = template["components"][0]["parameters"]
    assert template["components"][0]["type"] == "body"
    assert [p["type"] for p in params] == ["text"] * 5
    assert params[1]["text"] == "Kel. Ngronggo, Kec. Kota"
    assert params[4]["text"] == LINK
    # kinds without a template still go as text
    assert adapter.body(outgoing(ChannelType.WHATSAPP, "+6281234567890", "withdrawal"))["type"] == "text"


def test_template_setting_forms() -> None:
    assert parse_templates("") == {}
    assert parse_templates("sigap_notice") == dict.fromkeys(NotificationKind, "sigap_notice")
    assert parse_templates("offer:a, standby:b") == {
        NotificationKind.OFFER: "a",
        NotificationKind.STANDBY: "b",
    }
    with pytest.raises(ValueError, match="unknown kind"):
        parse_templates("invitation:a")


def test_telegram_message_has_a_url_button_to_the_response_page() -> None:
    adapter = TelegramChannel(Settings(), httpx.AsyncClient())
    body = adapter.body(outgoing(ChannelType.TELEGRAM, "5550001"))
    assert body["chat_id"] == 5550001
    assert body["reply_markup"] == {"inline_keyboard": [[{"text": "Terima / Tolak", "url": LINK}]]}
    assert "reply_markup" not in adapter.body(outgoing(ChannelType.TELEGRAM, "@sigap_kediri", "withdrawal"))


def test_addresses_are_masked_in_logs() -> None:
    assert mask("+6281234567890") == "+6281***90"
    assert "1234567" not in mask("+6281234567890")
    assert mask("budi.santoso@example.id") == "bu***@example.id"
    assert mask("5550") == "***"


def test_per_channel_settings() -> None:
    assert parse_per_channel("whatsapp:10, sms:2.5", "X") == {
        ChannelType.WHATSAPP: 10.0,
        ChannelType.SMS: 2.5,
    }
    for bad in ("pigeon:3", "sms", "sms:fast", "sms:-1", "sms:nan"):
        with pytest.raises(ValueError, match="X"):
            parse_per_channel(bad, "X")
    config = notifier_config(Settings(notifier_timeouts="email:30", notifier_rates="sms:2"))
    assert config.limits[ChannelType.EMAIL].timeout_s == 30
    assert config.limits[ChannelType.WHATSAPP].timeout_s == 10  # default for channels not named
    assert config.limits[ChannelType.SMS].rate_per_s == 2
    assert config.lease_s(ChannelType.EMAIL) == 30 + config.claim_margin_s
    with pytest.raises(ValueError, match="CONCURRENCY"):
        notifier_config(Settings(notifier_concurrency="sms:0"))


def test_an_enabled_channel_without_its_settings_refuses_to_start() -> None:
    check_channels(Settings(channels="outbox"), [ChannelType.OUTBOX])
    check_channels(Settings(whatsapp_phone_number_id="1", whatsapp_token="t"), [ChannelType.WHATSAPP])
    for channel, message in [
        (ChannelType.WHATSAPP, "SIGAP_WHATSAPP_TOKEN"),
        (ChannelType.TELEGRAM, "SIGAP_TELEGRAM_BOT_TOKEN"),
        (ChannelType.SMS, "SIGAP_SMS_URL"),
    ]:
        with pytest.raises(Misconfigured, match=message):
            check_channels(Settings(), [channel])
    with pytest.raises(Misconfigured, match="SIGAP_SMS_PROVIDER"):
        check_channels(Settings(sms_provider="carrier-pigeon", sms_url="http://x"), [ChannelType.SMS])
    with pytest.raises(ValueError, match="unknown kind"):  # refused when the settings are read
        Settings(whatsapp_phone_number_id="1", whatsapp_token="t", whatsapp_template="invite:x")
