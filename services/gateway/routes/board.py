"""The ops-room live board (`/board`): open incidents, assignments with timers, weather banners, a map,
and the forms the ops room acts with.

Server-rendered (Jinja2) with a little vanilla JavaScript: the page subscribes to `/api/v1/stream` and
re-fetches the incident panel (`/board/panel`, the same template) when something changes. Every form is
a plain HTML form that also works without JavaScript (POST, then 303 back to the board); with
JavaScript it is sent with `fetch` and answered in JSON. Sign-in puts the key's session in an HttpOnly,
SameSite=Strict cookie; forms carry the double-submit CSRF token.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from schemas import reference
from schemas.api import IncidentCreate, IncidentView
from schemas.errors import SigapError
from schemas.events import Need
from schemas.vocabulary import IncidentStatus, IncidentType, Severity, Skill, Unit
from services.common import wording
from services.gateway import commands
from services.gateway.auth import CSRF_COOKIE, SESSION_COOKIE, SESSION_TTL, Principal
from services.gateway.context import Gateway, GatewayDep
from services.gateway.errors import ApiError, field_errors
from services.gateway.pages import render
from services.gateway.routes.links import URGENT_NEED_LABELS, assessment_from_form

log = logging.getLogger(__name__)

router = APIRouter(prefix="/board", tags=["board"], include_in_schema=False)

FLASH_COOKIE = "sigap_flash"
LEAFLET = "/static/vendor/leaflet"  # Leaflet 1.9.4 from npm, served by the board itself (SOURCE.md there)
BOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: https://*.tile.openstreetmap.org; connect-src 'self'; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
NEED_ROWS = 4
MAP_VOLUNTEERS = 2000  # the map shows the first 2000 of the roster; a city's worth of dots is plenty


class SignInRequired(SigapError):
    """The board needs a session; the handler redirects to the sign-in page."""


async def on_sign_in_required(request: Request, exc: Exception) -> Response:
    if _is_fetch(request):
        return JSONResponse(
            {"error": {"code": "unauthorized", "message": "sesi berakhir; masuk lagi", "details": None}},
            status_code=401,
        )
    return RedirectResponse("/board/login", status_code=303)


def _is_fetch(request: Request) -> bool:
    return request.headers.get("x-requested-with") == "fetch"


def _session(request: Request, gw: Gateway) -> Principal:
    principal = gw.auth.by_session(request.cookies.get(SESSION_COOKIE), gw.clock())
    if principal is None:
        raise SignInRequired()
    return principal


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- sign in / out ----------------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, gw: GatewayDep, error: str | None = None) -> Response:
    token = gw.auth.new_login_csrf()
    response = render(
        request, "login.html", {"csrf": token, "error": error}, status=401 if error else 200, csp=BOARD_CSP
    )
    response.set_cookie(
        CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=False,
        samesite="strict",
        secure=gw.auth.secure_cookies,
        path="/",
    )
    return response


@router.post("/login")
async def login(
    request: Request,
    gw: GatewayDep,
    key: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    client = _client(request)
    if gw.throttle.blocked(client):
        return render(
            request,
            "login.html",
            {"csrf": csrf, "error": "Terlalu banyak percobaan. Tunggu 5 menit."},
            status=429,
            csp=BOARD_CSP,
        )
    if not gw.auth.login_csrf_ok(request, csrf):
        return RedirectResponse("/board/login", status_code=303)
    session = gw.auth.new_session(key.strip(), gw.clock())
    if session is None:
        gw.throttle.failed(client)
        log.warning("board sign-in refused for %s", client)
        return render(
            request, "login.html", {"csrf": csrf, "error": "Kunci tidak dikenal."}, status=401, csp=BOARD_CSP
        )
    gw.throttle.succeeded(client)
    response = RedirectResponse("/board", status_code=303)
    max_age = int(SESSION_TTL.total_seconds())
    secure = gw.auth.secure_cookies
    response.set_cookie(
        SESSION_COOKIE, session, max_age=max_age, httponly=True, samesite="strict", secure=secure, path="/"
    )
    response.set_cookie(
        CSRF_COOKIE,
        gw.auth.csrf_for(session),
        max_age=max_age,
        httponly=False,
        samesite="strict",
        secure=secure,
        path="/",
    )
    return response


@router.post("/logout")
async def logout(
    request: Request, gw: GatewayDep, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    if gw.auth.csrf_ok(request, csrf):
        response = RedirectResponse("/board/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response
    return RedirectResponse("/board", status_code=303)


# --- the board --------------------------------------------------------------------------------


def _sort_key(view: IncidentView) -> tuple[int, float]:
    rank = {IncidentStatus.UNDERSTAFFED: 0, IncidentStatus.REPORTED: 1, IncidentStatus.DISPATCHING: 1}
    return rank.get(view.status, 2), -view.reported_at.timestamp()


async def _panel_context(request: Request, gw: Gateway, who: Principal) -> dict[str, Any]:
    incidents = sorted(await gw.reads.incidents("open", 200), key=_sort_key)
    recent = [i for i in await gw.reads.incidents(None, 30) if not i.status.is_open][:10]
    # the board tells the operator to phone a volunteer: it shows the number (0812-…)
    called = sorted({a.volunteer_id for i in incidents for a in i.assignments})
    phones = (
        {e.profile.volunteer_id: e.profile.phone for e in await gw.reads.roster(called)} if called else {}
    )
    return {
        "phones": phones,
        "who": who,
        "incidents": incidents,
        "recent": recent,
        "alerts": await gw.reads.alerts(),
        "csrf": request.cookies.get(CSRF_COOKIE, ""),
        "now": gw.clock(),
        "urgent_needs": URGENT_NEED_LABELS,
    }


def _kecamatan_groups() -> list[tuple[str, list[reference.Kelurahan]]]:
    groups: dict[str, list[reference.Kelurahan]] = {}
    for kel in sorted(reference.all_kelurahan().values(), key=lambda k: (k.kecamatan_name, k.name)):
        groups.setdefault(kel.kecamatan_name, []).append(kel)
    return list(groups.items())


def _reference_json(area: reference.BoundingBox) -> str:
    return json.dumps(
        {
            "area": {"south": area.south, "west": area.west, "north": area.north, "east": area.east},
            "kelurahan": [
                {"code": k.code, "name": k.name, "kecamatan": k.kecamatan_name, "lat": k.lat, "lon": k.lon}
                for k in reference.all_kelurahan().values()
            ],
            "kecamatan": [
                {"name": k.name, "lat": k.lat, "lon": k.lon} for k in reference.all_kecamatan().values()
            ],
            "leaflet": LEAFLET,
        }
    )


@router.get("")
async def board(request: Request, gw: GatewayDep) -> Response:
    who = _session(request, gw)
    context = await _panel_context(request, gw, who)
    flash_raw = request.cookies.get(FLASH_COOKIE)
    context.update(
        {
            "flash": json.loads(unquote(flash_raw)) if flash_raw and flash_raw.startswith("%7B") else None,
            "kecamatan_groups": _kecamatan_groups(),
            "incident_types": list(IncidentType),
            "severities": list(Severity),
            "units": list(Unit),
            "skills": list(Skill),
            "need_rows": range(NEED_ROWS),
            "idem": uuid.uuid4().hex,
            "reference_json": _reference_json(gw.settings.service_area),  # SIGAP_SERVICE_AREA
        }
    )
    response = render(request, "board.html", context, csp=BOARD_CSP)
    if flash_raw:
        response.delete_cookie(FLASH_COOKIE, path="/board")
    return response


@router.get("/panel")
async def panel(request: Request, gw: GatewayDep) -> Response:
    who = _session(request, gw)
    return render(request, "board_panel.html", await _panel_context(request, gw, who), csp=BOARD_CSP)


@router.get("/map.json")
async def map_data(request: Request, gw: GatewayDep) -> JSONResponse:
    _session(request, gw)
    incidents = [
        {
            "id": i.id,
            "title": i.title,
            "type": i.type.label,
            "status": i.status.value,
            "status_label": i.status.label,
            "lat": i.location.lat,
            "lon": i.location.lon,
        }
        for i in await gw.reads.incidents("open", 200)
    ]
    volunteers = [
        {
            "id": v.id,
            "name": v.name,
            "unit": v.unit.value,
            "unit_label": " · ".join(wording.unit_name(u) for u in (v.units or [v.unit])),
            "status": v.status.value,
            "status_label": v.status.label,
            "lat": v.location.lat,
            "lon": v.location.lon,
        }
        for v in await gw.reads.volunteers(limit=MAP_VOLUNTEERS)
        if v.location is not None
    ]
    return JSONResponse(
        {"incidents": incidents, "volunteers": volunteers}, headers={"Cache-Control": "no-store"}
    )


@router.get("/outbox")
async def outbox_page(request: Request, gw: GatewayDep, volunteer_id: str | None = None) -> Response:
    who = _session(request, gw)
    if not who.at_least("admin"):
        return render(
            request,
            "error.html",
            {"title": "Tidak diizinkan", "message": "Kotak keluar hanya untuk admin.", "status": 403},
            status=403,
            csp=BOARD_CSP,
        )
    items = await gw.reads.outbox(volunteer_id or None, 200)
    return render(
        request,
        "outbox.html",
        {"who": who, "items": items, "csrf": request.cookies.get(CSRF_COOKIE, "")},
        csp=BOARD_CSP,
    )


# --- actions ------------------------------------------------------------------------------------


async def _act(
    request: Request, gw: Gateway, csrf: str, action: Callable[[Principal], Awaitable[str]]
) -> Response:
    """Run a board action: session and CSRF checked; JSON for fetch, flash + 303 for a plain form."""
    who = _session(request, gw)
    if not gw.auth.csrf_ok(request, csrf):
        return _answer(
            request, False, "Formulir kedaluwarsa; muat ulang papan lalu coba lagi.", 403, code="csrf_failed"
        )
    try:
        message = await action(who)
    except ApiError as exc:
        return _answer(request, False, exc.message, exc.status, code=exc.code, details=exc.details)
    return _answer(request, True, message, 200)


def _answer(
    request: Request, ok: bool, message: str, status: int, *, code: str = "ok", details: Any = None
) -> Response:
    if _is_fetch(request):
        if ok:
            return JSONResponse({"ok": True, "message": message})
        return JSONResponse(
            {"error": {"code": code, "message": message, "details": details}}, status_code=status
        )
    response = RedirectResponse("/board", status_code=303)
    flash = quote(json.dumps({"ok": ok, "message": message[:500]}))
    response.set_cookie(FLASH_COOKIE, flash, max_age=60, httponly=True, samesite="strict", path="/board")
    return response


def incident_from_form(form: dict[str, Any], needs_rows: list[tuple[str, str, str]]) -> IncidentCreate:
    """The board's incident form as an API body (pure; raises ValidationError naming the fields)."""
    code = str(form.get("kelurahan_code") or "").strip() or None
    lat, lon = str(form.get("lat") or "").strip(), str(form.get("lon") or "").strip()
    if code and (not lat or not lon) and code in reference.all_kelurahan():
        kel = reference.kelurahan(code)
        lat, lon = str(kel.lat), str(kel.lon)
    needs = [
        Need.model_validate({"unit": unit, "skill": skill or None, "count": count or "1"})
        for unit, skill, count in needs_rows
        if unit
    ]
    affected = str(form.get("affected_people") or "").strip()
    return IncidentCreate.model_validate(
        {
            "type": form.get("type"),
            "severity": form.get("severity"),
            "title": form.get("title") or "",
            "description": form.get("description") or "",
            "location": {"lat": lat or None, "lon": lon or None},
            "kelurahan_code": code,
            "affected_people": affected or None,
            "needs": needs or None,
        }
    )


@router.post("/incidents")
async def post_incident(request: Request, gw: GatewayDep) -> Response:
    form = await request.form()
    rows = list(
        zip(form.getlist("need_unit"), form.getlist("need_skill"), form.getlist("need_count"), strict=False)
    )

    async def action(who: Principal) -> str:
        try:
            body = incident_from_form(dict(form), [(str(u), str(s), str(c)) for u, s, c in rows])
        except ValidationError as exc:
            fields = field_errors(exc.errors())
            names = ", ".join(dict.fromkeys(f["field"] for f in fields))
            raise ApiError(422, "validation_error", f"Isian belum benar: {names}", fields) from None
        idem = str(form.get("idem") or "") or None
        incident_id, replayed = await commands.post_incident(gw, body, by=who.label, idempotency_key=idem)
        return f"Kejadian {incident_id} {'sudah' if replayed else ''} dilaporkan.".replace("  ", " ")

    return await _act(request, gw, str(form.get("csrf") or ""), action)


@router.post("/incidents/{incident_id}/cancel")
async def cancel_incident(
    request: Request,
    incident_id: str,
    gw: GatewayDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    async def action(who: Principal) -> str:
        await commands.cancel_incident(gw, incident_id, reason=reason, by=who.label)
        return f"Kejadian {incident_id} dibatalkan."

    return await _act(request, gw, csrf, action)


@router.post("/incidents/{incident_id}/close")
async def close_incident(
    request: Request,
    incident_id: str,
    gw: GatewayDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    async def action(who: Principal) -> str:
        await commands.close_incident(gw, incident_id, note=note, by=who.label)
        return f"Kejadian {incident_id} ditutup."

    return await _act(request, gw, csrf, action)


@router.post("/incidents/{incident_id}/assessment")
async def assess_incident(request: Request, incident_id: str, gw: GatewayDep) -> Response:
    """The ops room records a kaji cepat phoned or radioed in by TRC."""
    form = await request.form()

    async def action(who: Principal) -> str:
        try:
            report = assessment_from_form(form)
        except ValidationError as exc:
            fields = field_errors(exc.errors())
            names = ", ".join(dict.fromkeys(f["field"] for f in fields))
            message = f"Isian kaji cepat belum benar: {names}"
            raise ApiError(422, "validation_error", message, fields) from None
        except ValueError:
            raise ApiError(422, "validation_error", "Waktu kaji tidak terbaca.") from None
        await commands.assess_incident(gw, incident_id, report, via="ops_room", by=who.label)
        return f"Kaji cepat untuk {incident_id} dicatat; kebutuhan disesuaikan."

    return await _act(request, gw, str(form.get("csrf") or ""), action)


@router.post("/offers/{offer_id}/{answer}")
async def answer_offer(
    request: Request,
    offer_id: str,
    answer: str,
    gw: GatewayDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    async def action(who: Principal) -> str:
        if answer not in ("accept", "decline"):
            raise ApiError(404, "not_found", "jawaban tidak dikenal")
        ref = await commands.offer_for(gw, offer_id)
        await commands.act_on_offer(gw, ref, answer, via="ops_room", by=who.label)
        return f"Jawaban {'terima' if answer == 'accept' else 'tolak'} untuk {ref.volunteer_id} dicatat."

    return await _act(request, gw, csrf, action)


@router.post("/alerts/{alert_id}/draft")
async def post_alert_draft(
    request: Request, alert_id: str, gw: GatewayDep, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    async def action(who: Principal) -> str:
        alert = await gw.reads.alert(alert_id)
        if alert is None or alert.draft_incident is None:
            raise ApiError(404, "not_found", "peringatan ini tidak punya draf kejadian")
        incident_id, replayed = await commands.post_incident(
            gw,
            alert.draft_incident,
            by=who.label,
            idempotency_key="alert-draft:" + hashlib.sha256(alert_id.encode()).hexdigest()[:32],
            from_alert_id=alert_id,
        )
        return f"Kejadian {incident_id} {'sudah pernah' if replayed else ''} dibuat dari peringatan.".replace(
            "  ", " "
        )

    return await _act(request, gw, csrf, action)
