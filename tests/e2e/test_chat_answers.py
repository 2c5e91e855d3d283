"""End to end (issue 18): volunteers answer where they already are. The real dispatcher, notifier and
gateway run as processes on the real Kafka and Redis; WhatsApp, Telegram and the SMS gateway are local
servers speaking the providers' request/response shapes (`tests/support/providers.py`), and the
volunteers' presses and replies reach the gateway's webhooks in Meta's and Telegram's payload shapes."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.fill import CALL_OUT_19
from schemas.reference import kelurahan
from services.common.config import Settings
from services.common.links import parse_answer
from tests.e2e.stack import (
    MANISRENGGO,
    OPERATOR,
    Stack,
    eventually,
    register_volunteers,
    start_stack,
)
from tests.support.providers import (
    ProviderServers,
    Recorded,
    meta_button_reply,
    meta_notification,
    meta_signature,
    meta_text,
    telegram_callback,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

APP_SECRET = "e2e-meta-app-secret"
TELEGRAM_SECRET = "e2e-telegram-secret"
SMS_SECRET = "e2e-sms-secret"
TELEGRAM_CHAT = 700000002
SMS_CODE = re.compile(r"SIAP (\d{4})")


@pytest.fixture
def providers() -> Iterator[ProviderServers]:
    with ProviderServers() as servers:
        yield servers


@pytest.fixture
def stack(
    topics: Settings, test_env: dict[str, str], tmp_path: Path, providers: ProviderServers
) -> Iterator[Stack]:
    running = start_stack(
        test_env,
        tmp_path,
        **providers.env(sms_provider="generic"),
        SIGAP_CHANNELS="whatsapp,telegram,sms",
        SIGAP_WHATSAPP_APP_SECRET=APP_SECRET,
        SIGAP_TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
        SIGAP_SMS_WEBHOOK_SECRET=SMS_SECRET,
        SIGAP_NOTIFIER_RATES="whatsapp:0,telegram:0,sms:0,email:5,outbox:0",
    )
    yield running
    running.stop()
    assert providers.take_shape_errors() == []


def person(
    ident: str, channel: dict[str, str], *, unit: str = "tagana", skills: list[str], dlat: float
) -> dict[str, Any]:
    home = kelurahan(MANISRENGGO)
    return {
        "id": ident,
        "name": f"Relawan {ident}",
        "phone": "0" + wa_number(ident)[2:],
        "unit": unit,
        "skills": skills,
        "certifications": [{"skill": "water_rescue", "expires_on": "2030-01-01"}],
        "home_kelurahan_code": MANISRENGGO,
        "location": {"lat": round(home.lat + dlat, 6), "lon": home.lon},
        "channels": [channel],
        "on_duty": True,
    }


def wa_number(ident: str) -> str:
    """The volunteer's number as Meta writes it (also their phone)."""
    return f"62813{int(ident[-3:]):08d}"


async def post_incident(client: httpx.AsyncClient, **fields: Any) -> str:
    home = kelurahan(MANISRENGGO)
    body = {
        "type": "flood",
        "title": "Banjir Brantas",
        "location": {"lat": home.lat, "lon": home.lon},
        **fields,
    }
    posted = await client.post("/api/v1/incidents", json=body, headers=OPERATOR)
    assert posted.status_code == 202, posted.text
    return str(posted.json()["id"])


async def meta_post(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    raw = json.dumps(body).encode()
    return await client.post(
        "/webhooks/whatsapp",
        content=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(raw, APP_SECRET)},
    )


def buttons(request: Recorded) -> list[dict[str, str]]:
    """An interactive WhatsApp offer's reply buttons (`[{id, title}]`)."""
    assert request.body["type"] == "interactive", request.body
    return [b["reply"] for b in request.body["interactive"]["action"]["buttons"]]


async def incident(client: httpx.AsyncClient, incident_id: str) -> dict[str, Any]:
    return dict((await client.get(f"/api/v1/incidents/{incident_id}", headers=OPERATOR)).json())


async def test_whatsapp_telegram_and_sms_answers_staff_an_incident(
    stack: Stack, providers: ProviderServers
) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        await register_volunteers(
            client,
            stack,
            [
                person(
                    "V-001",
                    {"type": "whatsapp", "address": "0" + wa_number("V-001")[2:]},
                    skills=["evacuation"],
                    dlat=0.001,
                ),
                person(
                    "V-002",
                    {"type": "telegram", "address": str(TELEGRAM_CHAT)},
                    skills=["evacuation"],
                    dlat=0.002,
                ),
                person(
                    "V-003",
                    {"type": "sms", "address": "0" + wa_number("V-003")[2:]},
                    skills=["evacuation"],
                    dlat=0.003,
                ),
            ],
        )
        incident_id = await post_incident(
            client, severity="severe", needs=[{"unit": "tagana", "skill": "evacuation", "count": 3}]
        )
        # an offer goes out on each volunteer's channel, with its answer buttons / code
        whatsapp = (await asyncio.to_thread(providers.wait_for, "whatsapp", wa_number("V-001")))[0]
        telegram = (await asyncio.to_thread(providers.wait_for, "telegram", str(TELEGRAM_CHAT)))[0]
        sms = (await asyncio.to_thread(providers.wait_for, "sms_generic", "+" + wa_number("V-003")))[0]
        wa_buttons = buttons(whatsapp)
        assert [b["title"] for b in wa_buttons] == ["SIAP", "TIDAK BISA"]
        assert "/r/" in whatsapp.body["interactive"]["body"]["text"]  # the link stays in the text
        keyboard = telegram.body["reply_markup"]["inline_keyboard"]
        assert [b["text"] for b in keyboard[0]] == ["SIAP", "TIDAK BISA"]
        assert all(len(b["callback_data"].encode()) <= 64 for b in keyboard[0])
        assert keyboard[1][0]["url"].startswith(stack.url + "/r/")
        code = SMS_CODE.search(sms.body["text"])
        assert code, sms.body["text"]

        # the WhatsApp press, a replay of it, the Telegram press, the SMS reply
        press = meta_notification(
            messages=[meta_button_reply(wa_number("V-001"), "wamid.E2E1", wa_buttons[0]["id"], "SIAP")]
        )
        assert (await meta_post(client, press)).json()["messages"] == ["accepted"]
        assert (await meta_post(client, press)).json()["messages"] == ["duplicate"]
        update = telegram_callback(1, TELEGRAM_CHAT, 77, keyboard[0][0]["callback_data"])
        pressed = await client.post(
            "/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        )
        assert pressed.json()["method"] == "answerCallbackQuery"
        replied = await client.post(
            "/webhooks/sms",
            json={"from": "+" + wa_number("V-003"), "text": f"siap {code.group(1)}", "id": "sms-1"},
            headers={"X-Sigap-Webhook-Secret": SMS_SECRET},
        )
        assert replied.json()["result"] == "accepted"

        async def staffed() -> dict[str, Any] | None:
            doc = await incident(client, incident_id)
            return doc if doc["status"] == "staffed" else None

        doc = await eventually(staffed, "the incident to read staffed", stack)
        assert sorted(a["volunteer_id"] for a in doc["assignments"] if a["status"] == "accepted") == [
            "V-001",
            "V-002",
            "V-003",
        ]
        # the outcome, told where they answered: the Telegram offer is edited in place
        edits = await asyncio.to_thread(providers.wait_for, "telegram", str(TELEGRAM_CHAT), 2)
        assert edits[1].path.endswith("/editMessageText")
        assert edits[1].body["message_id"] == 77
        assert "tercatat berangkat" in edits[1].body["text"]
        thanks = await asyncio.to_thread(providers.wait_for, "whatsapp", wa_number("V-001"), 2)
        assert "tercatat berangkat" in thanks[1].body["text"]["body"]


async def test_broadcast_40_answer_at_once_19_filled(stack: Stack, providers: ProviderServers) -> None:
    """A flood/extreme call-out of 19 (`bench.fill.CALL_OUT_19`); extreme is broadcast, to 38; all
    answer SIAP at once, plus two who were not asked."""
    tagana = [
        "water_rescue",
        "evacuation",
        "public_kitchen",
        "shelter",
        "logistics",
        "command_post",
        "psychosocial",
    ]
    people = [
        person(
            f"V-{i:03d}",
            {"type": "whatsapp", "address": f"+{wa_number(f'V-{i:03d}')}"},
            skills=tagana,
            dlat=0.0005 * i,
        )
        for i in range(1, 37)
    ]
    people += [
        person(
            f"V-{i:03d}",
            {"type": "whatsapp", "address": f"+{wa_number(f'V-{i:03d}')}"},
            unit="trc",
            skills=["rapid_assessment"],
            dlat=0.0005 * i,
        )
        for i in range(37, 41)
    ]
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        await register_volunteers(client, stack, people)
        incident_id = await post_incident(
            client, severity="extreme", needs=[n.model_dump(mode="json") for n in CALL_OUT_19]
        )

        async def offered() -> list[Recorded] | None:
            got = [r for r in providers.requests("whatsapp") if r.body.get("type") == "interactive"]
            return got if len(got) >= 38 else None

        offers = await eventually(offered, "38 offers with buttons", stack)
        assert len(offers) == 38
        asked = {r.address for r in offers}
        presses = [
            meta_notification(
                messages=[meta_button_reply(r.address, f"wamid.B{k}", buttons(r)[0]["id"], "SIAP")]
            )
            for k, r in enumerate(offers)
        ]
        strays = [wa_number(p["id"]) for p in people if wa_number(p["id"]) not in asked]
        assert len(strays) == 2
        presses += [meta_notification(messages=[meta_text(n, f"wamid.S{n}", "SIAP")]) for n in strays]
        results = await asyncio.gather(*(meta_post(client, p) for p in presses))
        assert all(r.status_code == 200 for r in results)

        async def settled() -> dict[str, Any] | None:
            doc = await incident(client, incident_id)
            open_offers = [a for a in doc["assignments"] if a["status"] == "offered"]
            return doc if doc["status"] == "staffed" and not open_offers else None

        doc = await eventually(settled, "19 filled and the rest withdrawn", stack)
        accepted = [a for a in doc["assignments"] if a["status"] == "accepted"]
        assert len(accepted) == 19
        for need in doc["needs"]:
            assert need["filled"] == need["count"]  # none overfilled
        assert len({a["volunteer_id"] for a in accepted}) == 19
        withdrawn = [a for a in doc["assignments"] if a["status"] == "withdrawn"]
        assert len(withdrawn) == 19
        ids = {parse_answer(buttons(r)[0]["id"]).offer_id for r in offers}
        assert ids == {a["offer_id"] for a in doc["assignments"]}
        # and the 19 who were too late are free again
        views = (await client.get("/api/v1/volunteers?limit=500", headers=OPERATOR)).json()["items"]
        late = {a["volunteer_id"] for a in withdrawn}
        assert {v["status"] for v in views if v["id"] in late} == {"available"}
