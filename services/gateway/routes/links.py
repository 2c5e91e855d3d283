"""The volunteer's pages, opened from a signed link on the phone (DESIGN.md §5).

`/r/{token}`: one offer. `GET` only shows it (chat apps prefetch links: it must never act); `POST` with
`action` accepts, declines or reports progress, then redirects back (303). `/v/{token}`: the volunteer's
personal self-service page (on/off duty, share location). Plain HTML forms, so the buttons work without
JavaScript; each form carries a CSRF field bound to its token. A forged, expired, revoked or
out-of-state link gets a clear page in Bahasa Indonesia with 400/410/409, never a stack trace.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from schemas.api import DutyChange
from schemas.errors import SigapError
from schemas.events import AssessmentReport
from schemas.times import WIB
from schemas.vocabulary import AssignmentStatus, IncidentStatus, Unit
from services.common.links import InvalidToken, LinkClaims, response_url, sign, verify
from services.gateway import commands
from services.gateway.auth import same
from services.gateway.context import Gateway, GatewayDep
from services.gateway.errors import PAGE_ERRORS, ApiError
from services.gateway.pages import error_page, render
from services.gateway.reads import OfferRef, volunteer_view

log = logging.getLogger(__name__)

router = APIRouter(tags=["volunteer pages"], responses=PAGE_ERRORS)

DOUBLE_SUBMIT_WINDOW_S = 300


class PageError(SigapError):
    """Ends a page request with a clear error page."""

    def __init__(self, status: int, message: str, title: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.title = title


async def on_page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)  # noqa: S101 - registered for PageError only
    return error_page(request, exc.status, exc.message, exc.title)


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    label: str
    style: str


ACTION_LABELS: dict[str, Action] = {
    "accept": Action("accept", "Terima tugas", "primary"),
    "decline": Action("decline", "Tolak", "danger"),
    "en_route": Action("en_route", "Saya berangkat sekarang", "secondary"),
    "on_scene": Action("on_scene", "Saya sudah di lokasi", "primary"),
    "released": Action("released", "Tugas saya selesai", "secondary"),
}
DONE_MESSAGES = {
    "accept": "Terima kasih, Anda menerima tugas ini. Segera bersiap.",
    "decline": "Terima kasih, panggilan ini Anda tolak.",
    "en_route": "Tercatat: Anda dalam perjalanan. Hati-hati di jalan.",
    "on_scene": "Tercatat: Anda sudah di lokasi.",
    "released": "Tercatat: tugas Anda selesai. Terima kasih!",
    "on_duty": "Anda sekarang siaga.",
    "off_duty": "Anda sekarang tidak siaga.",
    "location": "Lokasi Anda sudah dikirim.",
    "assessment": "Hasil kaji cepat sudah dikirim ke Pusdalops. Terima kasih.",
}
# The statuses at or past which an action shows as done (the dispatcher applies it asynchronously).
_REACHED: dict[str, frozenset[AssignmentStatus]] = {
    "accept": frozenset(
        {
            AssignmentStatus.ACCEPTED,
            AssignmentStatus.EN_ROUTE,
            AssignmentStatus.ON_SCENE,
            AssignmentStatus.RELEASED,
        }
    ),
    "decline": frozenset({AssignmentStatus.DECLINED}),
    "en_route": frozenset({AssignmentStatus.EN_ROUTE, AssignmentStatus.ON_SCENE, AssignmentStatus.RELEASED}),
    "on_scene": frozenset({AssignmentStatus.ON_SCENE, AssignmentStatus.RELEASED}),
    "released": frozenset({AssignmentStatus.RELEASED}),
}
_CLOSED_MESSAGES = {
    AssignmentStatus.DECLINED: "Anda sudah menolak panggilan ini. Terima kasih atas jawabannya.",
    AssignmentStatus.EXPIRED: "Waktu menjawab panggilan ini sudah habis; tugas dialihkan ke relawan lain.",
    AssignmentStatus.WITHDRAWN: (
        "Panggilan ini sudah ditarik (kejadian dibatalkan, selesai, atau sudah cukup personel)."
    ),
    AssignmentStatus.RELEASED: "Tugas Anda sudah selesai. Terima kasih!",
}
_STATE_CONFLICTS = {
    "offer_expired": "Waktu menjawab panggilan ini sudah habis, jadi jawaban tidak bisa dicatat lagi.",
}


def page_csrf(gw: Gateway, token: str, secret: str | None = None) -> str:
    """The CSRF field of a link page: an HMAC of its token (a form from another site cannot know it)."""
    secret = gw.settings.link_keys().signing() if secret is None else secret
    key = hmac.new(secret.encode(), b"sigap-page-csrf-v1", hashlib.sha256).digest()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()[:32]


def _claims(gw: Gateway, token: str, kind: Literal["offer", "self"]) -> LinkClaims:
    try:
        claims = verify(token, gw.settings.link_keys().verifying(gw.clock()), gw.clock())
    except InvalidToken as exc:
        if exc.reason == "expired":
            raise PageError(410, "Tautan ini sudah kedaluwarsa.", "Tautan sudah tidak berlaku") from None
        raise PageError(
            400, "Tautan ini tidak sah atau rusak. Periksa kembali pesan yang Anda terima."
        ) from None
    if claims.kind != kind or (kind == "offer" and not claims.offer_id):
        raise PageError(400, "Tautan ini bukan untuk halaman ini.")
    return claims


def _check_csrf(gw: Gateway, token: str, submitted: str) -> None:
    secrets = gw.settings.link_keys().verifying(gw.clock())  # a page opened before a rotation still posts
    if not submitted or not any(same(submitted, page_csrf(gw, token, secret)) for secret in secrets):
        raise PageError(403, "Formulir tidak sah. Buka kembali tautan dari pesan Anda lalu coba lagi.")


# --- /r/{token}: one offer --------------------------------------------------------------------


async def _offer(gw: Gateway, claims: LinkClaims) -> OfferRef:
    assert claims.offer_id is not None  # noqa: S101 - checked by _claims
    ref = await gw.reads.offer(claims.offer_id)
    if ref is None:
        raise PageError(404, "Panggilan ini tidak ditemukan. Mungkin sudah lama berlalu.")
    if ref.volunteer_id != claims.volunteer_id or (
        claims.incident_id and claims.incident_id != ref.incident_id
    ):
        raise PageError(400, "Tautan ini tidak cocok dengan panggilannya.")
    return ref


async def _offer_context(gw: Gateway, token: str, ref: OfferRef, done: str | None) -> dict[str, Any]:
    incident = await gw.reads.incident(ref.incident_id)
    assignment = (
        next((a for a in incident.assignments if a.offer_id == ref.offer_id), None) if incident else None
    )
    if incident is not None and not incident.status.is_open and ref.status == AssignmentStatus.OFFERED:
        actions: tuple[str, ...] = ()
    else:
        actions = commands.allowed_actions(ref, gw.clock().timestamp())
    role = "-"
    if assignment is not None:
        role = assignment.unit.label + (f" — {assignment.skill.label}" if assignment.skill else "")
    processing = bool(done in _REACHED and ref.status not in _REACHED[done])
    if processing and ref.status not in (
        AssignmentStatus.OFFERED,
        AssignmentStatus.ACCEPTED,
        AssignmentStatus.EN_ROUTE,
        AssignmentStatus.ON_SCENE,
    ):
        processing = False  # overtaken (expired, withdrawn): show the status, not "processing"
    if processing:
        done_message: str | None = "Jawaban Anda sedang diproses…"
    elif (done in _REACHED and ref.status in _REACHED[done]) or done == "assessment":
        done_message = DONE_MESSAGES[done]
    else:
        done_message = None
    closed = _CLOSED_MESSAGES.get(ref.status, "Tidak ada tindakan yang perlu dilakukan sekarang.")
    if ref.status == AssignmentStatus.OFFERED and not actions:
        closed = (
            "Kejadian ini sudah ditutup."
            if incident is not None and incident.status in (IncidentStatus.CLOSED, IncidentStatus.CANCELLED)
            else _CLOSED_MESSAGES[AssignmentStatus.EXPIRED]
        )
    return {
        "token": token,
        "ref": ref,
        "incident": incident,
        "assignment": assignment,
        "what": incident.type.label if incident else "Panggilan tugas",
        "kind_label": "Panggilan tugas" if ref.status == AssignmentStatus.OFFERED else "Tugas",
        "role": role,
        "distance_km": assignment.distance_km if assignment else None,
        "actions": [ACTION_LABELS[a] for a in actions],
        "csrf": page_csrf(gw, token),
        "done_message": done_message,
        "processing": processing,
        "closed_message": closed,
        "can_assess": _can_assess(ref, assignment, incident),
        "urgent_needs": URGENT_NEED_LABELS,
    }


# The kaji cepat form (issue 19): the TRC volunteer of an accepted assignment reports what they found.
URGENT_NEED_LABELS = {
    "public_kitchen": "Dapur umum",
    "shelter": "Tempat pengungsian",
    "evacuation": "Evakuasi",
    "logistics": "Logistik",
    "psychosocial": "Dukungan psikososial (LDP)",
    "health": "Kesehatan",
}
_ASSESSING = frozenset({AssignmentStatus.ACCEPTED, AssignmentStatus.EN_ROUTE, AssignmentStatus.ON_SCENE})


def _can_assess(ref: OfferRef, assignment: Any, incident: Any) -> bool:
    """TRC assess (their first job: kaji cepat) once they have taken the assignment."""
    return bool(
        assignment is not None
        and incident is not None
        and incident.status.is_open
        and ref.status in _ASSESSING
        and assignment.unit == Unit.TRC
    )


@router.get(
    "/r/{token}", summary="The volunteer's offer page (never changes anything)", response_class=HTMLResponse
)
async def offer_page(request: Request, token: str, gw: GatewayDep, done: str | None = None) -> Response:
    claims = _claims(gw, token, "offer")
    ref = await _offer(gw, claims)
    return render(request, "offer.html", await _offer_context(gw, token, ref, done))


@router.post(
    "/r/{token}",
    summary="Answer an offer or report progress",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "done: back to the page (GET)"}},
)
async def offer_action(
    *,
    request: Request,
    token: str,
    gw: GatewayDep,
    action: Annotated[str, Form(max_length=20)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    claims = _claims(gw, token, "offer")
    _check_csrf(gw, token, csrf)
    if action not in ACTION_LABELS:
        raise PageError(400, "Tindakan tidak dikenal.")
    ref = await _offer(gw, claims)
    guard = f"r:{ref.offer_id}:{action}"
    if not await gw.idem.once(guard, DOUBLE_SUBMIT_WINDOW_S):
        # a second tap of the same button while the first is processed: nothing more to send
        return RedirectResponse(f"/r/{token}?done={action}", status_code=303)
    try:
        incident = await gw.reads.incident(ref.incident_id)
        if incident is not None and not incident.status.is_open and action in ("accept", "decline"):
            raise PageError(409, "Kejadian ini sudah ditutup; panggilan tidak bisa dijawab lagi.")
        await commands.act_on_offer(gw, ref, action, via="link", by=None)
    except ApiError as exc:
        await gw.idem.forget(guard)
        if exc.status == 409:
            message = _STATE_CONFLICTS.get(
                exc.code,
                f"Panggilan ini sudah berstatus “{ref.status.label}”; tindakan ini tidak bisa dilakukan.",
            )
            raise PageError(409, message) from None
        if exc.status == 503:
            raise PageError(503, "Sistem sedang sibuk. Tunggu sebentar lalu tekan tombolnya lagi.") from None
        raise
    except PageError:
        await gw.idem.forget(guard)
        raise
    return RedirectResponse(f"/r/{token}?done={action}", status_code=303)


_COUNT_FIELDS = ("families", "people", "evacuees", "injured", "dead", "missing")
_HOUSE_FIELDS = ("light", "moderate", "heavy")


def assessment_from_form(form: Mapping[str, Any]) -> AssessmentReport:
    """The kaji cepat form as a report: blank fields are left out; the time is Kediri's (WIB) unless it
    names its zone. Raises ValidationError (naming the fields) or ValueError."""
    data: dict[str, Any] = {}
    for name in _COUNT_FIELDS:
        value = str(form.get(name) or "").strip()
        if value:
            data[name] = value
    houses = {k: str(form.get(f"houses_{k}") or "").strip() for k in _HOUSE_FIELDS}
    if any(houses.values()):
        data["houses_damaged"] = {k: v for k, v in houses.items() if v}
    sites = [part.strip() for part in str(form.get("evacuee_sites") or "").replace("\n", ",").split(",")]
    if any(sites):
        data["evacuee_sites"] = [site for site in sites if site]
    urgent = [str(v) for v in form.getlist("urgent_needs")] if hasattr(form, "getlist") else []
    if urgent:
        data["urgent_needs"] = urgent
    notes = str(form.get("notes") or "").strip()
    if notes:
        data["notes"] = notes
    at = str(form.get("assessed_at") or "").strip()
    if at:
        taken = datetime.fromisoformat(at)
        data["assessed_at"] = taken if taken.tzinfo else taken.replace(tzinfo=WIB)
    lat, lon = str(form.get("lat") or "").strip(), str(form.get("lon") or "").strip()
    if lat and lon:
        data["location"] = {"lat": lat, "lon": lon}
    return AssessmentReport.model_validate(data)


@router.post(
    "/r/{token}/assessment",
    summary="The TRC volunteer's kaji cepat (rapid assessment) of their incident",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "sent: back to the page (GET)"}},
)
async def offer_assessment(*, request: Request, token: str, gw: GatewayDep) -> Response:
    form = await request.form()
    claims = _claims(gw, token, "offer")
    _check_csrf(gw, token, str(form.get("csrf") or ""))
    ref = await _offer(gw, claims)
    incident = await gw.reads.incident(ref.incident_id)
    assignment = (
        next((a for a in incident.assignments if a.offer_id == ref.offer_id), None) if incident else None
    )
    if not _can_assess(ref, assignment, incident):
        raise PageError(
            409, "Kaji cepat hanya bisa dikirim oleh anggota TRC yang sedang bertugas di kejadian ini."
        )
    try:
        report = assessment_from_form(form)
    except (ValidationError, ValueError):
        raise PageError(
            422,
            "Isian kaji cepat belum lengkap atau tidak terbaca: isi setidaknya satu temuan, dengan angka "
            "bulat (0 atau lebih).",
            "Kaji cepat belum terkirim",
        ) from None
    entry = await gw.reads.roster_entry(ref.volunteer_id)
    by = f"{entry.profile.name} (TRC)" if entry else "TRC"
    try:
        await commands.assess_incident(
            gw,
            ref.incident_id,
            report,
            via="link",
            by=by[:64],
            volunteer_id=ref.volunteer_id,
            offer_id=ref.offer_id,
        )
    except ApiError as exc:
        if exc.status == 503:
            raise PageError(503, "Sistem sedang sibuk. Tunggu sebentar lalu kirim lagi.") from None
        if exc.status == 409:
            raise PageError(409, "Kejadian ini sudah ditutup; kaji cepat tidak bisa dikirim lagi.") from None
        raise
    return RedirectResponse(f"/r/{token}?done=assessment", status_code=303)


# --- /v/{token}: the volunteer's own page ------------------------------------------------------

SELF_ACTIONS = ("on_duty", "off_duty", "location")


async def _self_entry(gw: Gateway, claims: LinkClaims) -> Any:
    entry = await gw.reads.roster_entry(claims.volunteer_id)
    if entry is None:
        raise PageError(404, "Data relawan tidak ditemukan. Hubungi koordinator Anda.")
    if entry.link_generation != claims.generation:
        raise PageError(
            410,
            "Tautan ini sudah dicabut. Minta tautan baru kepada koordinator Anda.",
            "Tautan sudah tidak berlaku",
        )
    return entry


@router.get(
    "/v/{token}",
    summary="The volunteer's self-service page (never changes anything)",
    response_class=HTMLResponse,
)
async def self_page(request: Request, token: str, gw: GatewayDep, done: str | None = None) -> Response:
    claims = _claims(gw, token, "self")
    entry = await _self_entry(gw, claims)
    view = volunteer_view(entry, gw.clock())
    processing = (done == "on_duty" and not view.on_duty) or (done == "off_duty" and view.on_duty)
    offer_url = None
    if view.active_offer_id:
        offer_token = sign(
            LinkClaims(
                kind="offer",
                volunteer_id=view.id,
                offer_id=view.active_offer_id,
                incident_id=view.active_incident_id,
                expires_at=gw.clock() + timedelta(hours=24),
            ),
            gw.settings.link_secret,
        )
        offer_url = response_url("", offer_token)
    context = {
        "token": token,
        "view": view,
        "csrf": page_csrf(gw, token),
        "processing": processing,
        "done_message": "Perubahan sedang diproses…" if processing else DONE_MESSAGES.get(done or ""),
        "offer_url": offer_url,
    }
    return render(request, "self.html", context)


@router.post(
    "/v/{token}",
    summary="Go on or off duty, share the current location",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "done: back to the page (GET)"}},
)
async def self_action(
    *,
    request: Request,
    token: str,
    gw: GatewayDep,
    action: Annotated[str, Form(max_length=20)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    lat: Annotated[str, Form(max_length=40)] = "",
    lon: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    claims = _claims(gw, token, "self")
    _check_csrf(gw, token, csrf)
    if action not in SELF_ACTIONS:
        raise PageError(400, "Tindakan tidak dikenal.")
    entry = await _self_entry(gw, claims)
    on_duty = entry.profile.on_duty if action == "location" else action == "on_duty"
    try:
        change = DutyChange.model_validate(
            {"on_duty": on_duty, "location": {"lat": lat, "lon": lon} if action == "location" else None}
        )
    except ValidationError:
        raise PageError(
            422, "Lokasi tidak terbaca atau berada di luar wilayah layanan Kota Kediri.", "Lokasi tidak valid"
        ) from None
    try:
        await commands.change_duty(gw, claims.volunteer_id, on_duty=change.on_duty, location=change.location)
    except ApiError as exc:
        if exc.status == 503:
            raise PageError(503, "Sistem sedang sibuk. Tunggu sebentar lalu coba lagi.") from None
        raise
    return RedirectResponse(f"/v/{token}?done={action}", status_code=303)
