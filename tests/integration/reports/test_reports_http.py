"""Reports through the real broker: the known month (`tests/unit/reports/month.py`) produced onto the
test's own topics → the gateway's report projection → `/api/v1/reports/…`, JSON and CSV read back;
then the store deleted and rebuilt from the topics by a fresh gateway, with the same answers."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from services.common.config import Settings
from services.gateway.app import create_app
from services.gateway.reports.daily import daily_report
from services.gateway.reports.duty import duty_report
from services.gateway.reports.ledger import Ledger
from services.gateway.reports.policy import day_period, month_period, range_period
from services.gateway.reports.response_times import response_times
from services.gateway.reports.service import policy_from, run_card_needs
from services.gateway.routes.reports import _period_out, iso_times
from tests.support.procs import free_port
from tests.support.reports import produce_known_month, projection_caught_up
from tests.unit.reports.month import NOW, known_month, t

pytestmark = pytest.mark.integration

OPERATOR = {"Authorization": "Bearer dev-operator-key"}
COORDINATOR = {"Authorization": "Bearer dev-coordinator-key"}


def fixed_clock() -> datetime:
    return datetime.fromtimestamp(t(NOW), UTC)


@asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    app = create_app(settings.model_copy(update={"http_port": port}), clock=fixed_clock)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            yield client
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


def expected() -> dict[str, Any]:
    ledger = Ledger(needs_for=run_card_needs())
    for event in known_month():
        ledger.apply(event)
    policy = policy_from(Settings())
    month = month_period("2026-11")
    rt = range_period("2026-11-01", "2026-11-30")
    return {
        "duty": iso_times(_period_out(duty_report(ledger, "2026-11", month, policy, t(NOW)))),
        "rt": iso_times(_period_out(response_times(ledger, rt, policy, "2026-11-01", "2026-11-30"))),
        "daily": iso_times(
            _period_out(daily_report(ledger, date(2026, 11, 3), day_period("2026-11-03"), policy, t(NOW)))
        ),
    }


async def csv_rows(
    client: httpx.AsyncClient, path: str, params: dict[str, str], headers: dict[str, str]
) -> list[dict[str, str]]:
    answer = await client.get(path, params=params, headers=headers)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    return rows(answer.text)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


async def check_reports(client: httpx.AsyncClient) -> None:
    want = expected()
    duty = await client.get("/api/v1/reports/duty", params={"month": "2026-11"}, headers=COORDINATOR)
    assert duty.status_code == 200, duty.text
    assert duty.json() == want["duty"]
    assert duty.json()["totals"]["allowance"] == 600_000
    rt = await client.get(
        "/api/v1/reports/response-times", params={"from": "2026-11-01", "to": "2026-11-30"}, headers=OPERATOR
    )
    assert rt.json() == want["rt"]
    first = rt.json()["steps"][0]
    assert (first["step"], first["count"], first["p50_s"], first["p90_s"], first["within_target_share"]) == (
        "reported_to_first_offer",
        4,
        30.0,
        90.0,
        0.75,
    )
    daily = await client.get("/api/v1/reports/daily", params={"date": "2026-11-03"}, headers=OPERATOR)
    assert daily.json() == want["daily"]
    assert daily.json()["incidents"][0]["assessment"]["assessed_at"] == "2026-11-03T11:00:00+07:00"

    duty_csv = await client.get(
        "/api/v1/reports/duty", params={"month": "2026-11", "format": "csv"}, headers=COORDINATOR
    )
    assert duty_csv.headers["content-type"].startswith("text/csv")
    assert "rekap-kehadiran-2026-11.csv" in duty_csv.headers["content-disposition"]
    by_id = {r["volunteer_id"]: r for r in rows(duty_csv.text)}
    for v in want["duty"]["volunteers"]:
        r = by_id[v["volunteer_id"]]
        assert (int(r["hari_bertugas"]), float(r["jam_di_lokasi"]), int(r["uang_transport_rp"])) == (
            v["deployment_days"],
            v["hours_on_scene"],
            v["allowance"],
        )
    rt_params = {"from": "2026-11-01", "to": "2026-11-30", "format": "csv"}
    rt_csv = await csv_rows(client, "/api/v1/reports/response-times", rt_params, OPERATOR)
    assert [float(r["p90_detik"]) for r in rt_csv if r["kelompok"] == "semua" and r["p90_detik"]] == [
        90.0,
        180.0,
        480.0,
        1200.0,
        360.0,
    ]
    daily_params = {"date": "2026-11-03", "format": "csv", "incident_id": "INC-B"}
    daily_csv = await csv_rows(client, "/api/v1/reports/daily", daily_params, OPERATOR)
    assert [(r["bagian"], r["butir"], r["terisi"]) for r in daily_csv if r["bagian"] == "kebutuhan"] == [
        ("kebutuhan", "Tagana (Taruna Siaga Bencana)", "1"),
        ("kebutuhan", "TRC (Tim Reaksi Cepat)", "0"),
    ]


async def test_reports_from_the_topics_and_rebuilt(topics: Settings, tmp_path: Path) -> None:
    settings = topics.model_copy(update={"reports_db": str(tmp_path / "reports.sqlite3")})
    records = await produce_known_month(settings.kafka_bootstrap, settings.topic_prefix)
    async with gateway(settings) as client:
        status = await projection_caught_up(client, records)
        assert status["skipped"] == 1  # the record that is not an event; the projection kept going
        assert status["rows"] == {"incidents": 5, "offers": 10, "volunteers": 4, "assessments": 3}
        await check_reports(client)

        # bad input: 4xx naming the field
        bad = await client.get("/api/v1/reports/duty", params={"month": "2026-13"}, headers=COORDINATOR)
        assert bad.status_code == 422
        assert bad.json()["error"]["details"][0]["field"] == "month"
        bad = await client.get(
            "/api/v1/reports/duty", params={"month": "2026-11", "format": "xls"}, headers=COORDINATOR
        )
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "format"
        bad = await client.get(
            "/api/v1/reports/response-times",
            params={"from": "2026-11-30", "to": "2026-11-01"},
            headers=OPERATOR,
        )
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "to"
        bad = await client.get("/api/v1/reports/daily", params={"date": "3/11/2026"}, headers=OPERATOR)
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "date"
        assert (
            await client.get("/api/v1/reports/duty", params={"month": "2026-11"}, headers=OPERATOR)
        ).status_code == 403
        assert (await client.get("/api/v1/reports/duty", params={"month": "2026-11"})).status_code == 401
        missing = await client.get(
            "/api/v1/reports/daily", params={"date": "2026-11-03", "incident_id": "INC-Z"}, headers=OPERATOR
        )
        assert missing.status_code == 404

    async with gateway(settings) as client:  # restarted: resumes from the saved positions
        status = await projection_caught_up(client, 0)
        assert status["records"] == 0
        await check_reports(client)

    (tmp_path / "reports.sqlite3").unlink()  # the view deleted: rebuilt from the topics
    async with gateway(settings) as client:
        status = await projection_caught_up(client, records)
        assert status["records"] == records
        await check_reports(client)
