"""The board and the volunteer page in a real browser: Debian's headless Chromium driven by Playwright
(`executable_path=/usr/bin/chromium`; no browser download), against the whole stack as processes.

- the board shows an incident posted elsewhere without a reload (SSE), and its form posts one with the
  kelurahan picker;
- a volunteer accepts on the phone-sized offer page (no JavaScript needed), and the board follows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemas.reference import kelurahan
from services.common.config import Settings
from tests.e2e.stack import (
    MANISRENGGO,
    OPERATOR,
    Stack,
    eventually,
    offer_messages,
    register_volunteers,
    start_stack,
    volunteer,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing: run `make browser` (deploy/local/browser.sh)",
    ),
]


@pytest.fixture
def stack(topics: Settings, test_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    running = start_stack(test_env, tmp_path)
    yield running
    running.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


async def test_board_live_updates_and_a_volunteer_accepting_on_the_phone(stack: Stack, browser: Any) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        await register_volunteers(client, stack, [volunteer("V-001"), volunteer("V-002", dlat=0.004)])

        board = await (await browser.new_context(viewport={"width": 1400, "height": 1000})).new_page()
        errors: list[str] = []
        board.on("pageerror", lambda exc: errors.append(str(exc)))
        await board.goto(f"{stack.url}/board")
        assert board.url.endswith("/board/login")
        await board.fill("input[name=key]", "dev-operator-key")
        await board.click("button[type=submit]")
        await board.wait_for_url(f"{stack.url}/board")
        await board.wait_for_selector("#live.on", timeout=15_000)  # the SSE stream is open
        await board.evaluate("window.__sameDocument = true")

        # 1. an incident posted through the API appears without a reload
        home = kelurahan(MANISRENGGO)
        posted = await client.post(
            "/api/v1/incidents",
            json={
                "type": "flood",
                "severity": "severe",
                "title": "Banjir bantaran Brantas",
                "location": {"lat": home.lat, "lon": home.lon},
                "needs": [{"unit": "tagana", "skill": "evacuation", "count": 1}],
            },
            headers=OPERATOR,
        )
        incident_id = posted.json()["id"]
        card = board.locator(f"#inc-{incident_id}")
        await card.wait_for(timeout=20_000)
        assert "Banjir bantaran Brantas" in await card.inner_text()
        assert await board.evaluate("window.__sameDocument === true")  # no reload happened

        # 2. the volunteer opens the offer link on a phone and taps "Terima tugas"
        messages = await eventually(
            lambda: offer_messages(client, incident_id), "an offer in the outbox", stack
        )
        phone = await (
            await browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
        ).new_page()
        await phone.goto(messages[0]["response_url"])
        await phone.get_by_role("button", name="Terima tugas").click()
        await phone.wait_for_load_state()
        assert "/r/" in phone.url and "done=accept" in phone.url
        body = await phone.inner_text("body")
        assert "Terima kasih" in body or "sedang diproses" in body

        # 3. the board follows: the card turns staffed, still without a reload
        await board.locator(f"#inc-{incident_id}[data-status=staffed]").wait_for(timeout=20_000)
        assert "Diterima" in await board.locator(f"#inc-{incident_id}").inner_text()
        assert await board.evaluate("window.__sameDocument === true")

        # 4. the board's own form, with the kelurahan picker filling the location
        await board.select_option("#kelurahan", MANISRENGGO)
        assert await board.input_value("#lat") == f"{home.lat:.6f}"
        await board.select_option("select[name=type]", "fire")
        await board.fill("input[name=title]", "Kebakaran rumah warga")
        await board.locator("#incident-form button[type=submit]").click()
        await board.locator("#flash .flash.ok").wait_for(timeout=10_000)
        await board.locator(".incident", has_text="Kebakaran rumah warga").wait_for(timeout=20_000)
        assert await board.evaluate("window.__sameDocument === true")
        assert await board.locator("#map svg, #map .leaflet-container").count() == 1  # a map, online or not
        assert errors == []
