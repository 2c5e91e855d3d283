"""The three report pages in a real browser (Debian's headless Chromium, Playwright): the gateway as a
process, the known month (`tests/unit/reports/month.py`) on the test's topics. Each page's chart is
drawn (a screenshot of its canvas holds the chart's colours, not a blank box) and its table carries the
report's numbers; the print view hides the board's bar and shows the letterhead and signature block;
no script error and no CSP violation (Chart.js is served from the project)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.config import Settings
from tests.e2e.test_board_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.png import colours
from tests.support.procs import ServiceProcess, free_port
from tests.support.reports import produce_known_month, projection_caught_up
from tests.unit.test_language import english_in, visible

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing: run `make browser`"),
]

RED, BLUE, GREEN, GREY = (185, 28, 28), (37, 99, 235), (22, 163, 74), (156, 163, 175)


@pytest.fixture
def gateway(topics: Settings, test_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**test_env, "SIGAP_HTTP_PORT": str(port), "SIGAP_PUBLIC_URL": url, "SIGAP_DATA_DIR": str(tmp_path)}
    proc = ServiceProcess(["-m", "services.gateway"], env, tmp_path / "gateway.log").start()
    try:
        proc.wait_http(f"{url}/readyz", timeout_s=60)
        yield url
    finally:
        proc.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


def near(colour: tuple[int, int, int], target: tuple[int, int, int], slack: int = 12) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(colour, target, strict=True))


async def drawn(page: Any, selector: str, *wanted: tuple[int, int, int], tmp: Path) -> None:
    """The canvas's screenshot holds each wanted colour over a real area (a drawn chart)."""
    canvas = page.locator(selector).first
    await canvas.wait_for()
    shot = await canvas.screenshot(path=str(tmp / (selector.strip("#[]=\"'").replace('"', "") + ".png")))
    counts = colours(shot)
    total = sum(counts.values())
    assert total > 10_000, f"{selector}: the canvas is {total} pixels"
    for colour in wanted:
        area = sum(n for c, n in counts.items() if near(c, colour))
        assert area > 150, f"{selector}: colour {colour} covers {area} pixels of {total}"


async def ink(page: Any, selector: str) -> None:
    """The table's screenshot has text in it (dark pixels), not an empty frame."""
    shot = await page.locator(selector).first.screenshot()
    dark = sum(n for c, n in colours(shot).items() if max(c) < 90)
    assert dark > 300, f"{selector}: {dark} dark pixels"


async def test_the_three_report_pages(gateway: str, topics: Settings, browser: Any, tmp_path: Path) -> None:
    records = await produce_known_month(topics.kafka_bootstrap, topics.topic_prefix)
    async with httpx.AsyncClient(base_url=gateway, timeout=20) as client:
        await projection_caught_up(client, records, timeout_s=60)

    context = await browser.new_context(viewport={"width": 1300, "height": 1000}, offline=False)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    external: list[str] = []
    page.on("request", lambda req: external.append(req.url) if not req.url.startswith(gateway) else None)

    await page.goto(f"{gateway}/board/reports")
    assert page.url.endswith("/board/login")
    await page.fill("input[name=key]", "dev-coordinator-key")
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{gateway}/board")
    assert await page.locator("a[href='/board/reports']").count() == 1  # the board links its reports
    problems.clear()  # the live board itself tries Leaflet from its CDN; only the report pages count here
    external.clear()

    await response_times_page(page, gateway, tmp_path)
    await duty_page(page, gateway, tmp_path)
    await daily_page(page, gateway, tmp_path)
    assert problems == []
    assert external == []  # offline-ready: nothing fetched from anywhere but the gateway
    await context.close()

    # an operator reads response times and daily reports, not the allowance
    operator = await (await browser.new_context()).new_page()
    await operator.goto(f"{gateway}/board/login")
    await operator.fill("input[name=key]", "dev-operator-key")
    await operator.click("button[type=submit]")
    await operator.wait_for_url(f"{gateway}/board")
    answer = await operator.goto(f"{gateway}/board/reports/duty?month=2026-11")
    assert answer.status == 403
    assert "hanya untuk koordinator" in await operator.inner_text("body")
    assert (await operator.goto(f"{gateway}/board/reports/daily?date=2026-11-03")).status == 200
    assert await operator.locator("a[href='/board/reports/duty']").count() == 0


async def response_times_page(page: Any, gateway: str, tmp_path: Path) -> None:
    """The board's report page: the steps, a distribution and a weekly trend."""
    await page.goto(f"{gateway}/board/reports?from=2026-11-01&to=2026-11-30")
    await page.wait_for_selector("body[data-charts=ready]")
    assert english_in(visible(await page.content())) == []  # the office's Indonesian (issue 19)
    await drawn(page, "#chart-distribution", RED, BLUE, tmp=tmp_path)
    await drawn(page, "#chart-weekly", RED, BLUE, tmp=tmp_path)
    first = await page.locator("#steps tbody tr").first.inner_text()
    assert first.split("\t")[:5] == ["Laporan → panggilan pertama", "4", "30 dtk", "90 dtk", "90 dtk"]
    assert "75,0 %" in first
    await ink(page, "#steps")
    await page.screenshot(path=str(tmp_path / "response-times.png"), full_page=True)


async def duty_page(page: Any, gateway: str, tmp_path: Path) -> None:
    """One row per volunteer, the allowance, a chart per unit; printable on A4."""
    await page.goto(f"{gateway}/board/reports/duty?month=2026-11")
    await page.wait_for_selector("body[data-charts=ready]")
    assert english_in(visible(await page.content())) == []  # the office's Indonesian (issue 19)
    await drawn(page, "#chart-units", RED, GREEN, tmp=tmp_path)
    rows = await page.locator("#duty tbody tr").all_inner_texts()
    assert len(rows) == 4
    ani = next(r for r in rows if "Ani Lestari Wulandari" in r)
    assert "14,72" in ani and "Rp 300.000" in ani
    assert "Rp 600.000" in await page.locator("#duty tfoot").inner_text()
    await ink(page, "#duty")
    await page.emulate_media(media="print")
    assert not await page.locator("header.bar").is_visible()
    assert await page.locator(".kop").is_visible() and await page.locator(".signature").is_visible()
    assert "Kepala Dinas Sosial Kota Kediri" in await page.locator(".signature").inner_text()
    await page.screenshot(path=str(tmp_path / "duty-print.png"), full_page=True)
    pdf = await page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    await page.emulate_media(media="screen")


async def daily_page(page: Any, gateway: str, tmp_path: Path) -> None:
    """Kaji cepat, needs and their chart, volunteers with their hours."""
    await page.goto(f"{gateway}/board/reports/daily?date=2026-11-03")
    await page.wait_for_selector("body[data-charts=ready]")
    assert english_in(visible(await page.content())) == []  # the office's Indonesian (issue 19)
    await drawn(page, "#rep-INC-A canvas[data-chart=needs]", GREY, GREEN, tmp=tmp_path)
    section = page.locator("#rep-INC-A")
    kaji = await section.locator("table.kaji").inner_text()
    assert "25" in kaji and "ringan 5, sedang 2, berat 1" in kaji
    people = await section.locator("table.volunteers-table tbody tr").all_inner_texts()
    assert [p.split("\t")[0] for p in people] == ["Siti Rahayu", "Budi Santoso", "Ani Lestari Wulandari"]
    assert people[0].split("\t")[-2:] == ["0,25", "4,00"]
    await ink(page, "#rep-INC-A table.needs-table")
    await page.screenshot(path=str(tmp_path / "daily.png"), full_page=True)
