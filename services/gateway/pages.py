"""Server-rendered HTML (Jinja2): the template environment, its filters, and the error page."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from schemas import reference
from services.common import wording
from services.gateway.ids import to_wib

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")

# Pages never cached, never indexed, never leak their (token-bearing) URL to other sites.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
VOLUNTEER_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def wib(moment: datetime | None, with_date: bool = True) -> str:
    """`28 Nov 2026 pukul 14.05 WIB` — the time people in Kediri read."""
    if moment is None:
        return "-"
    local = to_wib(moment)
    clock = wording.pukul(local)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year} {clock}" if with_date else clock


def label(value: Any) -> str:
    """The Bahasa Indonesia label of a vocabulary value (or the value itself)."""
    if isinstance(value, StrEnum) and hasattr(value, "label"):
        return str(value.label)
    return str(value) if value is not None else "-"


def kelurahan_name(code: str | None) -> str:
    if not code:
        return "-"
    try:
        return reference.kelurahan(code).name
    except KeyError:
        return code


def iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.filters["wib"] = wib
    env.filters["label"] = label
    env.filters["kelurahan"] = kelurahan_name
    env.filters["iso"] = iso
    env.globals["map_link"] = reference.map_link
    env.filters["pukul"] = wording.pukul
    env.filters["km"] = wording.km
    env.filters["phone"] = wording.phone_local
    env.filters["unit_name"] = wording.unit_name
    env.filters["need_change"] = wording.need_change
    env.filters["cap_severity"] = lambda v: wording.CAP_SEVERITY.get(str(v), str(v))
    env.filters["cap_urgency"] = lambda v: wording.CAP_URGENCY.get(str(v), str(v))
    env.globals["assessment_summary"] = wording.assessment_summary
    env.filters["timeline_step"] = wording.timeline_step
    return templates


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    csp: str | None = VOLUNTEER_CSP,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.gateway.templates
    all_headers = {**PAGE_HEADERS, **(headers or {})}
    if csp:
        all_headers["Content-Security-Policy"] = csp
    return templates.TemplateResponse(request, name, context, status_code=status, headers=all_headers)


_TITLES = {
    400: "Tautan tidak sah",
    401: "Perlu masuk",
    403: "Tidak diizinkan",
    404: "Tidak ditemukan",
    409: "Tidak bisa dilakukan",
    410: "Tautan sudah tidak berlaku",
    422: "Isian tidak valid",
    429: "Terlalu banyak percobaan",
    500: "Terjadi kesalahan",
    503: "Sistem sedang sibuk",
}


def error_page(request: Request, status: int, message: str, title: str | None = None) -> Response:
    """A clear page in Bahasa Indonesia, never a stack trace; it gives the posko's number to call."""
    gateway = getattr(request.app.state, "gateway", None)
    phone = gateway.settings.posko_phone if gateway is not None else ""
    return render(
        request,
        "error.html",
        {
            "title": title or _TITLES.get(status, "Terjadi kesalahan"),
            "message": message,
            "status": status,
            "posko_phone": wording.phone_local(phone) if phone else "",
            "posko_tel": phone,
        },
        status=status,
    )
