"""`/api/v1/reports/…` (JSON or CSV) and the board's report pages `/board/reports…` (HTML, printable
on A4 with the office's letterhead and a signature block; charts drawn by the vendored Chart.js).

- `GET /api/v1/reports/duty?month=YYYY-MM` (coordinator): rekap kehadiran / uang transport.
- `GET /api/v1/reports/response-times?from=…&to=…` (operator): waktu tanggap per step.
- `GET /api/v1/reports/daily?date=YYYY-MM-DD[&incident_id=…]` (operator): laporan harian.
- `GET /api/v1/reports/status` (operator): how far the report projection has read the topics.
Each report takes `?format=csv`. Times in JSON are ISO 8601 in WIB.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from schemas.times import WIB
from services.gateway.auth import Coordinator, Operator, Principal
from services.gateway.context import Gateway, GatewayDep
from services.gateway.errors import AUTH_ERRORS, VALIDATION_ERRORS, ApiError
from services.gateway.pages import render
from services.gateway.reports.csvout import daily_csv, duty_csv, response_times_csv
from services.gateway.reports.policy import (
    Period,
    date_label,
    day_period,
    decimal_id,
    month_period,
    parse_bound,
    parse_day,
    range_period,
    rupiah,
    wib_date,
    wib_text,
)
from services.gateway.reports.service import Reports
from services.gateway.routes.board import SignInRequired

router = APIRouter(prefix="/api/v1/reports", tags=["reports"], responses={**AUTH_ERRORS, **VALIDATION_ERRORS})
pages = APIRouter(prefix="/board/reports", tags=["board"], include_in_schema=False)

REPORT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
Format = Annotated[Literal["json", "csv"], Query(alias="format", description="`json` (default) or `csv`")]
T = TypeVar("T")
_TIME_KEYS = frozenset(
    {
        "at",
        "reported_at",
        "ended_at",
        "accepted_at",
        "en_route_at",
        "on_scene_at",
        "released_at",
        "assessed_at",
    }
)


def reports_of(request: Request) -> Reports:
    reports: Reports = request.app.state.reports
    reports.ensure_started()
    return reports


def _valid(field: str, parse: Callable[[], T]) -> T:
    """The parsed value, or a 422 naming the field."""
    try:
        return parse()
    except ValueError as exc:
        raise ApiError(
            422,
            "validation_error",
            f"invalid request: {field}",
            [{"field": field, "location": "query", "message": str(exc), "type": "value_error"}],
        ) from None


def iso_times(value: Any) -> Any:
    """Epoch times under the known keys as ISO 8601 in WIB, everywhere in a report."""
    if isinstance(value, dict):
        return {
            k: (
                datetime.fromtimestamp(v, WIB).isoformat(timespec="seconds")
                if k in _TIME_KEYS and isinstance(v, int | float)
                else iso_times(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [iso_times(v) for v in value]
    return value


def _period_out(report: dict[str, Any]) -> dict[str, Any]:
    out = dict(report)
    period = out.pop("period", None)
    if period:
        out["period_label"] = period["label"]
    return out


def _answer(
    report: dict[str, Any], fmt: str, to_csv: Callable[[dict[str, Any]], str], filename: str
) -> Response:
    if fmt == "csv":
        return Response(
            to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
        )
    return JSONResponse(iso_times(_period_out(report)), headers={"Cache-Control": "no-store"})


@router.get("/duty", summary="Rekap kehadiran / uang transport of a month (coordinator)")
async def duty(
    request: Request,
    _: Coordinator,
    month: Annotated[str, Query(max_length=20, description="YYYY-MM (WIB)")],
    fmt: Format = "json",
) -> Response:
    """Per volunteer: `{"month", "volunteers": [{"volunteer_id", "name", "units", "offers", "accepted",
    "declined", "expired", "deployments", "deployment_days", "hours_en_route", "hours_on_scene",
    "allowance"}], "totals"}`; `?format=csv` gives one row per volunteer and a total row."""
    period = _valid("month", lambda: month_period(month))
    report = await reports_of(request).duty(month, period)
    return _answer(report, fmt, duty_csv, f"rekap-kehadiran-{month}.csv")


@router.get("/response-times", summary="Waktu tanggap per step, against the targets")
async def response_times(
    request: Request,
    _: Operator,
    start: Annotated[str, Query(alias="from", max_length=40, description="YYYY-MM-DD (WIB) or ISO time")],
    end: Annotated[str, Query(alias="to", max_length=40, description="YYYY-MM-DD (included) or ISO time")],
    fmt: Format = "json",
) -> Response:
    """`{"from", "to", "incidents", "steps": [{"step", "count", "p50_s", "p90_s", "max_s", "target_s",
    "within_target_share"}], "by_type", "by_kecamatan", "weekly", "distribution"}`."""
    period = _valid_range(start, end)
    report = await reports_of(request).response_times(period, start, end)
    return _answer(report, fmt, response_times_csv, f"waktu-tanggap-{start[:10]}-{end[:10]}.csv")


def _valid_range(start: str, end: str) -> Period:
    _valid("from", lambda: parse_bound(start, end=False))
    _valid("to", lambda: parse_bound(end, end=True))
    return _valid("to", lambda: range_period(start, end))


@router.get("/daily", summary="Laporan harian per incident and day")
async def daily(
    request: Request,
    _: Operator,
    day: Annotated[str, Query(alias="date", max_length=20, description="YYYY-MM-DD (WIB)")],
    incident_id: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")] = None,
    fmt: Format = "json",
) -> Response:
    """Every incident open during the day (or the one named): the latest kaji cepat, needs and how they
    were filled, volunteers deployed with their hours that day, what is still open."""
    parsed = _valid("date", lambda: parse_day(day))
    report = await reports_of(request).daily(parsed, day_period(day), incident_id)
    if incident_id and not report["incidents"]:
        raise ApiError(
            404, "not_found", f"incident {incident_id!r} was not open on {day}", {"id": incident_id}
        )
    suffix = f"-{incident_id}" if incident_id else ""
    return _answer(report, fmt, daily_csv, f"laporan-harian-{day}{suffix}.csv")


@router.get("/status", summary="How far the report projection has read the topics")
async def status(request: Request, _: Operator) -> JSONResponse:
    return JSONResponse(reports_of(request).status(), headers={"Cache-Control": "no-store"})


# --- the board's pages ------------------------------------------------------------------------------


def _who(request: Request, gw: Gateway) -> Principal:
    from services.gateway.auth import SESSION_COOKIE

    principal = gw.auth.by_session(request.cookies.get(SESSION_COOKIE), gw.clock())
    if principal is None:
        raise SignInRequired()
    return principal


def _data_json(data: Any) -> str:
    """JSON safe inside `<script type="application/json">` (no `</script>`, no HTML)."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page(request: Request, gw: Gateway, name: str, context: dict[str, Any], status: int = 200) -> Response:
    reports = reports_of(request)
    now = gw.clock().timestamp()
    base = {
        "office": reports.policy.office,
        "policy": reports.policy,
        "printed_at": wib_text(now),
        "signed_on": date_label(wib_date(now)),
        "t": _when,
        "unit_name": unit_name,
        "need_name": _URGENT_NEEDS.get,
        "num": decimal_id,
        "rupiah": rupiah,
        "hm": _hm,
        "duration": _duration,
    }
    return render(request, name, {**base, **context}, status=status, csp=REPORT_CSP)


def _hm(moment: float | None) -> str:
    if moment is None:
        return "-"
    return datetime.fromtimestamp(moment, WIB).strftime("%H.%M")


def _when(moment: float | None) -> str:
    """`3 November 2026 pukul 08.00 WIB`."""
    if moment is None:
        return "-"
    return f"{date_label(wib_date(moment))} pukul {_hm(moment)} WIB"


_SHORT_UNITS = {
    "tagana": "Tagana",
    "trc": "TRC",
    "karang_taruna": "Karang Taruna",
    "psm": "PSM",
    "pbi_jkn": "PBI-JKN",
}
_URGENT_NEEDS = {
    "public_kitchen": "dapur umum",
    "shelter": "tempat pengungsian",
    "evacuation": "evakuasi",
    "logistics": "logistik",
    "psychosocial": "dukungan psikososial",
    "health": "kesehatan",
}


def unit_name(unit: str) -> str:
    return _SHORT_UNITS.get(unit) or unit.replace("_", " ").title()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{decimal_id(seconds, 0)} dtk"
    if seconds < 7200:
        return f"{decimal_id(seconds / 60, 1)} mnt"
    return f"{decimal_id(seconds / 3600, 1)} jam"


def _bad(request: Request, gw: Gateway, message: str) -> Response:
    return render(
        request,
        "error.html",
        {"title": "Isian tidak valid", "message": message, "status": 422},
        status=422,
        csp=REPORT_CSP,
    )


def _today(gw: Gateway) -> date:
    return wib_date(gw.clock().timestamp())


@pages.get("")
@pages.get("/response-times")
async def response_page(
    request: Request,
    gw: GatewayDep,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    who = _who(request, gw)
    today = _today(gw)
    start = start or today.replace(day=1).isoformat()
    end = end or today.isoformat()
    try:
        period = range_period(start, end)
    except ValueError as exc:
        return _bad(request, gw, f"Periode tidak valid: {exc}")
    report = await reports_of(request).response_times(period, start, end)
    chart = {
        "distribution": report["distribution"],
        "weekly": report["weekly"],
        "target_s": reports_of(request).policy.targets.get("reported_to_first_offer"),
    }
    return _page(
        request,
        gw,
        "report_response.html",
        {
            "who": who,
            "report": report,
            "start": start,
            "end": end,
            "month": today.strftime("%Y-%m"),
            "today": today.isoformat(),
            "chart_json": _data_json(chart),
            "status": reports_of(request).status(),
        },
    )


@pages.get("/duty")
async def duty_page(request: Request, gw: GatewayDep, month: str | None = None) -> Response:
    who = _who(request, gw)
    if not who.at_least("coordinator"):
        return render(
            request,
            "error.html",
            {
                "title": "Tidak diizinkan",
                "message": "Rekap uang transport hanya untuk koordinator.",
                "status": 403,
            },
            status=403,
            csp=REPORT_CSP,
        )
    month = month or _today(gw).strftime("%Y-%m")
    try:
        period = month_period(month)
    except ValueError as exc:
        return _bad(request, gw, f"Bulan tidak valid: {exc}")
    report = await reports_of(request).duty(month, period)
    units = report["totals"]["by_unit"]
    chart = {
        "labels": [u["label"] for u in units],
        "deployments": [u["deployments"] for u in units],
        "days": [u["deployment_days"] for u in units],
    }
    return _page(
        request,
        gw,
        "report_duty.html",
        {"who": who, "report": report, "month": month, "chart_json": _data_json(chart)},
    )


@pages.get("/daily")
async def daily_page(
    request: Request,
    gw: GatewayDep,
    day: Annotated[str | None, Query(alias="date")] = None,
    incident_id: str | None = None,
) -> Response:
    who = _who(request, gw)
    day = day or _today(gw).isoformat()
    try:
        parsed = parse_day(day)
    except ValueError as exc:
        return _bad(request, gw, f"Tanggal tidak valid: {exc}")
    report = await reports_of(request).daily(parsed, day_period(day), incident_id or None)
    chart = {
        "incidents": [
            {
                "id": i["incident_id"],
                "labels": [n["label"] for n in i["needs"]],
                "needed": [n["count"] for n in i["needs"]],
                "filled": [n["filled"] for n in i["needs"]],
            }
            for i in report["incidents"]
        ]
    }
    return _page(
        request,
        gw,
        "report_daily.html",
        {
            "who": who,
            "report": report,
            "day": day,
            "incident_id": incident_id or "",
            "previous": (parsed - timedelta(days=1)).isoformat(),
            "next": (parsed + timedelta(days=1)).isoformat(),
            "chart_json": _data_json(chart),
        },
    )
