"""Everything the ops room and volunteers read is in a Dinas Sosial office's Bahasa Indonesia (issue 19).

Every page template is rendered with a full context — an incident driven through every step of its
timeline by the real state machine, an assessment, a BMKG warning — and every notification kind is
rendered in Indonesian; the visible text (text nodes and the attributes people read: title,
placeholder, aria-label, confirmations) must hold no English word of the timeline's vocabulary, no raw
CAP value, no unit identifier. A template added later and not rendered here fails the test too.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from schemas import reference
from schemas.api import OutboxMessage, VolunteerView, WeatherAlertView
from schemas.events import (
    AssessmentReport,
    AssignmentStatusChanged,
    Certification,
    ChannelAddress,
    IncidentAssessed,
    IncidentClosed,
    Need,
    NotificationDelivered,
    NotificationFailed,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    VolunteerProfile,
)
from schemas.vocabulary import (
    AssignmentStatus,
    ChannelType,
    IncidentStatus,
    IncidentType,
    NotificationKind,
    Severity,
    Skill,
    Unit,
    VolunteerStatus,
)
from services.common import wording
from services.dispatcher.incident import IncidentState
from services.dispatcher.projection import incident_view
from services.gateway.pages import TEMPLATES, make_templates
from services.gateway.reads import OfferRef
from services.gateway.routes.links import ACTION_LABELS, URGENT_NEED_LABELS
from services.notifier.templates import render as render_message
from tests.unit.dispatcher.world import World, ev, later, reported
from tests.unit.notifier.samples import request as notification

# The timeline's English vocabulary (what the board showed before), CAP's raw values, identifiers.
ENGLISH = re.compile(
    r"\b(matched|offered|offers?|delivered|via|after|until|accepted|declined|expired|withdrawn|released|"
    r"reported|dispatching|staffed|understaffed|closed|cancelled|searching|volunteers?|candidates|within|"
    r"every|needs?|filled|outstanding|run card|ops room|recorded|failed|notification|channel|late|"
    r"answer|en_route|on_scene|severe|moderate|extreme|minor|immediate|expected|"
    r"likely|observed|karang_taruna|pbi_jkn|water_rescue|public_kitchen|rapid_assessment|"
    r"TAWARAN|ruang operasi|Hunian sementara)\b",
    re.IGNORECASE,
)
# identifiers shown raw (the names themselves, WhatsApp, Telegram, are fine)
IDENTIFIERS = re.compile(r"\b(whatsapp|telegram|email|sms|KARANG_TARUNA|PBI_JKN|TAGANA)\b")
READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "data-confirm", "alt", "label"}
NOW = datetime(2026, 11, 28, 8, 20, tzinfo=UTC)


class _Visible(HTMLParser):
    """The text a person sees (and the attributes they read), without scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        self.parts.extend(v for k, v in attrs if k in READ_ATTRIBUTES and v)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def english_in(text: str) -> list[str]:
    return sorted({m.group(0) for m in (*ENGLISH.finditer(text), *IDENTIFIERS.finditer(text))})


def test_the_check_catches_the_old_board_timeline() -> None:
    old = (
        "<li>10:03 matched — Budi (V-1), 1.2 km, tagana/water_rescue</li>"
        "<li>delivered via whatsapp after 123 ms</li>"
    )
    assert english_in(visible(old)) == ["after", "delivered", "matched", "via", "water_rescue", "whatsapp"]
    assert english_in(visible('<span class="st-offered" data-x="offered">Menunggu jawaban</span>')) == []


# --- an incident through every step ------------------------------------------------------------


@cache
def _incident() -> IncidentState:
    world = World.of(
        ("trc-1", Unit.TRC, (Skill.RAPID_ASSESSMENT,), 1.0),
        ("ev-1", Unit.TAGANA, (Skill.EVACUATION,), 1.2),
        ("ev-2", Unit.TAGANA, (Skill.EVACUATION,), 2.4),
        ("ev-3", Unit.TAGANA, (Skill.EVACUATION,), 3.6),
        ("kt-1", Unit.KARANG_TARUNA, (Skill.PUBLIC_KITCHEN,), 0.8),
    )
    needs = [
        Need(unit=Unit.TRC, skill=Skill.RAPID_ASSESSMENT, count=1),
        Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=2),
        Need(unit=Unit.KARANG_TARUNA, skill=Skill.PUBLIC_KITCHEN, count=2),
    ]
    state = world.run(None, ev(reported("INC-L", severity=Severity.SEVERE, needs=needs)), later(0))

    def offer(vid: str) -> str:
        return next(a.offer_id for a in state.assignments if a.volunteer_id == vid)

    ids = {"incident_id": "INC-L"}
    steps: list[Any] = [
        NotificationDelivered(
            notification_id="n1",
            channel=ChannelType.WHATSAPP,
            attempts=1,
            latency_ms=123,
            offer_id=offer("trc-1"),
            **ids,
        ),
        NotificationFailed(
            notification_id="n2",
            channel=ChannelType.SMS,
            reason="HTTP 500",
            attempts=4,
            offer_id=offer("ev-2"),
            **ids,
        ),
        OfferAccepted(offer_id=offer("trc-1"), volunteer_id="trc-1", **ids),
        OfferDeclined(offer_id=offer("ev-1"), volunteer_id="ev-1", **ids),
        OfferExpired(offer_id=offer("ev-2"), volunteer_id="ev-2", **ids),
        AssignmentStatusChanged(
            offer_id=offer("trc-1"), volunteer_id="trc-1", status=AssignmentStatus.EN_ROUTE, **ids
        ),
        AssignmentStatusChanged(
            offer_id=offer("trc-1"), volunteer_id="trc-1", status=AssignmentStatus.ON_SCENE, **ids
        ),
        IncidentAssessed(
            assessment=AssessmentReport(evacuees=120, families=40, houses_damaged={"heavy": 2}, missing=1),
            via="link",
            by="Budi Santoso (TRC)",
            **ids,
        ),
        OfferAccepted(offer_id=offer("ev-2"), volunteer_id="ev-2", via="ops_room", by="operator#1", **ids),
    ]
    for i, payload in enumerate(steps):
        state = world.run(state, ev(payload), later(10 * (i + 1)))
    open_state = state
    closed = world.run(state, ev(IncidentClosed(note="air surut", **ids)), later(500))
    assert {t.event for t in closed.timeline} >= {
        "reported", "dispatching", "matched", "offered", "delivered", "notification failed", "accepted",
        "declined", "expired", "en_route", "on_scene", "assessed", "needs_changed", "understaffed",
        "withdrawn", "released", "closed",
    }  # fmt: skip
    return open_state.model_copy(update={"timeline": closed.timeline})


def _alert() -> WeatherAlertView:
    return WeatherAlertView(
        alert_id="CJI20261128001",
        kind="cap",
        event="Hujan Lebat disertai Petir",
        headline="Peringatan dini cuaca Jawa Timur",
        severity="Moderate",
        urgency="Immediate",
        sent=NOW,
        expires=NOW + timedelta(hours=2),
        affected_kelurahan=["35.71.02.1015"],
        affected_kecamatan=["Kota"],
        status="active",
    )


@cache
def _contexts() -> dict[str, dict[str, Any]]:
    state = _incident()
    view = incident_view(state)
    who = SimpleNamespace(role="operator", at_least=lambda role: True, label="operator#1")
    panel = {
        "who": who,
        "incidents": [view],
        "recent": [view.model_copy(update={"status": IncidentStatus.CLOSED})],
        "alerts": [_alert()],
        "csrf": "c" * 32,
        "now": NOW,
        "urgent_needs": URGENT_NEED_LABELS,
        "phones": {a.volunteer_id: "+6281234567890" for a in view.assignments},
    }
    board = {
        **panel,
        "flash": {"ok": True, "message": "Kejadian INC-L dilaporkan."},
        "kecamatan_groups": [("Kota", [reference.kelurahan("35.71.02.1015")])],
        "incident_types": list(IncidentType),
        "severities": list(Severity),
        "units": list(Unit),
        "skills": list(Skill),
        "need_rows": range(2),
        "idem": "x",
        "reference_json": "{}",
    }
    assignment = next(a for a in view.assignments if a.volunteer_id == "trc-1")
    ref = OfferRef(
        offer_id=assignment.offer_id,
        incident_id=view.id,
        volunteer_id="trc-1",
        status=AssignmentStatus.OFFERED,
        expires_at=NOW + timedelta(minutes=3),
    )
    offer = {
        "token": "t",
        "ref": ref,
        "incident": view,
        "assignment": assignment,
        "what": view.type.label,
        "kind_label": "Panggilan tugas",
        "role": wording.role(assignment.unit, assignment.skill),
        "distance_km": 1.25,
        "actions": list(ACTION_LABELS.values()),
        "csrf": "c",
        "done_message": "Hasil kaji cepat sudah dikirim ke Pusdalops. Terima kasih.",
        "processing": False,
        "closed_message": "",
        "can_assess": True,
        "urgent_needs": URGENT_NEED_LABELS,
    }
    profile = VolunteerProfile(
        volunteer_id="trc-1",
        name="Budi Santoso",
        phone="081234567890",
        units=[Unit.PBI_JKN, Unit.KARANG_TARUNA],
        skills=[Skill.VICTIM_REGISTRATION, Skill.PUBLIC_KITCHEN],
        certifications=[Certification(skill=Skill.FIRST_AID, expires_on=date(2030, 1, 1))],
        home_kelurahan_code="35.71.02.1015",
        channels=[ChannelAddress(type=ChannelType.OUTBOX, address="trc-1")],
    )
    self_view = VolunteerView(
        **profile.model_dump(exclude={"volunteer_id", "active", "allow_outside_area"}),
        id="trc-1",
        status=VolunteerStatus.OFFERED,
    )
    message = render_message(notification(kind="offer"))
    outbox = OutboxMessage(
        notification_id="n1",
        volunteer_id="trc-1",
        kind=NotificationKind.OFFER,
        channel=ChannelType.WHATSAPP,
        address="+6281234567890",
        language="id",
        subject=message.subject,
        text=message.text,
        stored_at=NOW,
    )
    return {
        "board.html": board,
        "board_panel.html": panel,
        "offer.html": offer,
        "self.html": {
            "token": "t", "view": self_view, "csrf": "c", "processing": False, "done_message": None,
            "offer_url": "/r/x",
        },
        "error.html": {
            "title": "Tidak bisa dilakukan", "message": "Kejadian ini sudah ditutup.", "status": 409,
            "posko_phone": "0354-682123", "posko_tel": "+62354682123",
        },
        "login.html": {"csrf": "c", "error": "Kunci tidak dikenal."},
        "outbox.html": {"who": who, "items": [outbox], "csrf": "c"},
    }  # fmt: skip


def test_every_page_template_is_rendered_here() -> None:
    bases = {"bbase.html", "vbase.html", "rbase.html", "report_groups.html", "report_signature.html"}
    # the report pages (issue 20) are rendered from a known month by the gateway in
    # tests/e2e/test_reports_browser.py, which checks them with `english_in` in the browser
    reports = {"report_daily.html", "report_duty.html", "report_response.html"}
    assert {p.name for p in Path(TEMPLATES).glob("*.html")} - bases - reports == set(_contexts())


@pytest.mark.parametrize("name", sorted(_contexts()))
def test_pages_speak_bahasa_indonesia(name: str) -> None:
    html = make_templates().env.get_template(name).render(_contexts()[name])
    text = visible(html)
    assert english_in(text) == [], text
    if name in ("board.html", "board_panel.html"):
        assert "Sumber: BMKG" in text and "Sedang · Segera" in text  # BMKG's words for Moderate · Immediate
        assert "0812-3456-7890" in text  # the number to phone
        assert "Relawan terpilih" in text and "Kaji cepat" in text
        assert "pukul" in text and "km" in text and re.search(r"\d,\d km", text)
    if name == "offer.html":
        assert "1,2 km" in text and "Kaji cepat" in text and "pukul" in text
    if name == "self.html":
        assert "Pendamping PBI-JKN · Karang Taruna" in text  # every unit of the volunteer
    if name == "error.html":
        assert "0354-682123" in text


def test_every_step_of_the_timeline_reads_in_bahasa() -> None:
    """The board shows the last 15 steps; every one of them, whichever, is Bahasa."""
    for entry in _incident().timeline:
        line = f"{wording.timeline_step(entry.event)} — {entry.detail}"
        assert english_in(line) == [], line
    steps = {wording.timeline_step(t.event) for t in _incident().timeline}
    assert {"Pesan terkirim", "Pesan gagal terkirim", "Tidak menjawab (waktu habis)"} <= steps


@pytest.mark.parametrize("kind", list(NotificationKind))
def test_messages_speak_bahasa_indonesia(kind: NotificationKind) -> None:
    understaffed_reason = next(
        t.detail for t in _incident().timeline if t.event == "understaffed"
    )  # the dispatcher's own words reach the coordinators
    rendered = render_message(
        notification(
            kind=kind.value,
            reason=understaffed_reason if kind == NotificationKind.UNDERSTAFFED else "ops_room",
            unit="pbi_jkn",
            skill="victim_registration",
            alert_headline="Hujan lebat disertai petir" if kind == NotificationKind.STANDBY else "",
            open_slots=2,
        )
    )
    for text in (rendered.subject, rendered.text, rendered.sms, rendered.email):
        assert english_in(text) == [], text
    if kind == NotificationKind.OFFER:
        assert "PANGGILAN TUGAS" in rendered.text and "pukul" in rendered.text
    if kind == NotificationKind.STANDBY:
        assert "Sumber: BMKG" in rendered.text and "Sumber: BMKG" in rendered.sms


def test_the_posko_phone_is_read_once_and_shown_as_people_dial_it() -> None:
    from pydantic import ValidationError

    from services.common.config import Settings

    settings = Settings(posko_phone="(0354) 682-123")
    assert settings.posko_phone == "+62354682123"
    assert wording.phone_local(settings.posko_phone) == "0354-682-123"
    assert Settings().posko_phone == ""
    with pytest.raises(ValidationError):
        Settings(posko_phone="call us")
