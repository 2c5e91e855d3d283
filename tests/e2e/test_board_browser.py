"""The board and the volunteer page in a real browser: Debian's headless Chromium driven by Playwright
(`executable_path=/usr/bin/chromium`; no browser download), against the whole stack as processes.

- the board shows an incident posted elsewhere without a reload (SSE), and its form posts one with the
  kelurahan picker;
- a volunteer accepts on the phone-sized offer page (no JavaScript needed), and the board follows.
"""

from __future__ import annotations

import os
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
        # a map, online or not (Leaflet makes #map its container; offline, an SVG of the city)
        assert await board.locator("#map.leaflet-container, #map > svg").count() == 1
        assert errors == []


# --- issue 19: Leaflet served by the board, names as text; the TRC's kaji cepat; screenshots ---------

# Records every tooltip and popup board.js binds, as Leaflet loads (window.L is set by its UMD wrapper).
RECORD_LEAFLET_BINDINGS = """
(() => {
  window.__bound = [];
  let real;
  Object.defineProperty(window, "L", {
    configurable: true,
    get() { return real; },
    set(value) {
      real = value;
      for (const name of ["bindTooltip", "bindPopup"]) {
        const original = value.Layer.prototype[name];
        value.Layer.prototype[name] = function (content, options) {
          window.__bound.push({ layer: this, kind: name, content });
          return original.call(this, content, options);
        };
      }
    },
  });
})();
"""
HOSTILE = '<img src=x onerror="window.__pwned=1">'


def shot_path(tmp_path: Path, name: str) -> Path:
    """Where a screenshot goes: the test's own folder, or SIGAP_SCREENSHOTS_DIR to keep them."""
    keep = os.environ.get("SIGAP_SCREENSHOTS_DIR")
    folder = Path(keep) if keep else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


async def test_board_map_names_stay_text_and_the_trc_kaji_cepat_at_360px(
    stack: Stack, browser: Any, tmp_path: Path
) -> None:
    home = kelurahan(MANISRENGGO)
    trc = {
        **volunteer("V-101", skills=("rapid_assessment",)),
        "unit": "trc",
        "name": f"Budi {HOSTILE}",
        "phone": "0812-3456-7890",
    }
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as client:
        await register_volunteers(client, stack, [trc])
        posted = await client.post(
            "/api/v1/incidents",
            json={
                "type": "flood",
                "severity": "moderate",
                "title": f"Banjir {HOSTILE}",
                "location": {"lat": home.lat, "lon": home.lon},
                "needs": [{"unit": "trc", "skill": "rapid_assessment", "count": 1}],
            },
            headers=OPERATOR,
        )
        incident_id = posted.json()["id"]
        messages = await eventually(lambda: offer_messages(client, incident_id), "the TRC's offer", stack)

        await _kaji_cepat_on_a_360px_phone(browser, stack, messages[0]["response_url"], tmp_path)
        await _board_with_leaflet(browser, stack, incident_id, tmp_path)


async def _kaji_cepat_on_a_360px_phone(browser: Any, stack: Stack, link: str, tmp_path: Path) -> None:
    """The volunteer's page on a 360 px phone: accept, then the kaji cepat form, sent."""
    phone = await (await browser.new_context(viewport={"width": 360, "height": 740})).new_page()
    await phone.goto(link)
    await phone.get_by_role("button", name="Terima tugas").click()
    await phone.wait_for_load_state()
    form = phone.locator("#kaji-cepat")
    await eventually(lambda: _visible_after_reload(phone, form), "the kaji cepat form", stack)
    overflow = await phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the volunteer page is {overflow} px wider than a 360 px phone"
    tap = await phone.locator("#kaji-cepat button[type=submit]").bounding_box()
    assert tap is not None and tap["height"] >= 44 and tap["width"] >= 280  # a thumb-sized button
    shot = shot_path(tmp_path, "volunteer-360.png")
    await phone.screenshot(path=str(shot), full_page=True)
    width, height = png_size(shot)
    assert width == 360 and height >= 740 and shot.stat().st_size > 10_000
    await phone.fill("input[name=evacuees]", "120")
    await phone.fill("input[name=evacuee_sites]", "Balai RW 03")
    await phone.check("input[name=urgent_needs][value=public_kitchen]")
    await phone.locator("#kaji-cepat button[type=submit]").click()
    await phone.wait_for_load_state()
    assert "Hasil kaji cepat sudah dikirim" in await phone.inner_text("body")


async def _board_with_leaflet(browser: Any, stack: Stack, incident_id: str, tmp_path: Path) -> None:
    """The board: Leaflet from the board itself, names and titles only ever as text; the kaji cepat."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    await context.add_init_script(RECORD_LEAFLET_BINDINGS)
    # this machine has no way to OpenStreetMap: its tiles come from here, so the map stays Leaflet's
    tile = (
        Path(__file__).parents[2] / "services/gateway/static/vendor/leaflet/images/layers.png"
    ).read_bytes()
    await context.route(
        "https://*.tile.openstreetmap.org/**",
        lambda route: route.fulfill(status=200, body=tile, content_type="image/png"),
    )
    board = await context.new_page()
    errors: list[str] = []
    board.on("pageerror", lambda exc: errors.append(str(exc)))
    served: list[str] = []
    board.on("requestfinished", lambda request: served.append(request.url))
    await board.goto(f"{stack.url}/board")
    await board.fill("input[name=key]", "dev-operator-key")
    await board.click("button[type=submit]")
    await board.wait_for_url(f"{stack.url}/board")
    await board.locator("#map.leaflet-container").wait_for(timeout=15_000)
    assert f"{stack.url}/static/vendor/leaflet/leaflet.js" in served
    assert not [u for u in served if "unpkg.com" in u]
    bound = await eventually(
        lambda: board.evaluate(
            "window.__bound.map(b => ({kind: b.kind, type: typeof b.content,"
            " node: b.content && b.content.nodeType, text: b.content && b.content.textContent}))"
        ),
        "tooltips bound on the Leaflet map",
        stack,
    )
    assert {b["kind"] for b in bound} == {"bindTooltip"}
    assert all(b["type"] == "object" and b["node"] == 3 for b in bound), bound  # Text nodes only
    assert any(HOSTILE in (b["text"] or "") for b in bound)  # the title, as the words typed
    await board.evaluate("window.__bound.forEach(b => b.layer.openTooltip())")
    tooltips = board.locator(".leaflet-tooltip")
    assert await tooltips.count() >= 2
    assert await board.locator(".leaflet-tooltip img, #panel img").count() == 0
    assert HOSTILE in await tooltips.first.inner_text() or HOSTILE in await tooltips.last.inner_text()
    assert await board.evaluate("window.__pwned === undefined")

    # the board shows the kaji cepat and what it added; the TRC's number to phone
    card = board.locator(f"#inc-{incident_id}")
    await card.locator(".assessment").wait_for(timeout=20_000)
    text = await card.inner_text()
    assert "120 pengungsi" in text and "Menambah kebutuhan" in text and "Dapur umum" in text
    assert "0812-3456-7890" in text
    flag = await board.locator("#map .leaflet-control-attribution").bounding_box()
    assert flag is not None and flag["height"] < 40  # Leaflet's own CSS holds (no page rule blows it up)
    overflow = await board.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the board is {overflow} px wider than its 1400 px window"
    shot = shot_path(tmp_path, "board.png")
    await board.screenshot(path=str(shot), full_page=True)
    assert png_size(shot)[0] == 1400 and shot.stat().st_size > 30_000
    assert errors == []


async def _visible_after_reload(page: Any, locator: Any) -> bool:
    """The accept is applied asynchronously: reload the page (a GET) until the form is there."""
    if await locator.count():
        return True
    await page.reload()
    return bool(await locator.count())
