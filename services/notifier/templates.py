"""Message templates (DESIGN.md §4), in Bahasa Indonesia (default) and English.

Each message says what (incident type, severity, title), where (kelurahan, kecamatan, map link), the
role asked for, until when (local time, WIB) and how to answer (the signed response link), and stays
short enough for a chat message; the SMS variant is fitted into `SIGAP_SMS_MAX_PARTS` parts by
dropping the least important lines first (never the deadline or the link).

Pure: time comes only from the request (its deadline), never from the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from schemas.events import MessageContext, NotificationRequested
from schemas.reference import Kelurahan, kelurahan, map_link, nearest_kelurahan
from schemas.times import WIB
from schemas.vocabulary import ChannelType, Language, NotificationKind, Skill, Unit
from services.common import wording
from services.common.links import short_code
from services.notifier import smstext
from services.notifier.smstext import Piece

MAP_LINE = 9
"""`drop_order` of the map line: chat and e-mail carry it, SMS never does (it costs a whole part; the
response page shows the map)."""

_MONTHS = {
    Language.ID: ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
    Language.EN: ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
_WITHDRAWN_BECAUSE = {
    Language.ID: {
        "cancelled": "kejadian dibatalkan",
        "closed": "kejadian sudah ditutup",
        "reassigned": "tempat sudah terisi",
        "ops_room": "ditarik oleh Pusdalops",
    },
    Language.EN: {
        "cancelled": "the incident was cancelled",
        "closed": "the incident was closed",
        "reassigned": "the place has been filled",
        "ops_room": "withdrawn by the operations room",
    },
}


@dataclass(frozen=True)
class Rendered:
    """One notification, rendered for every channel shape."""

    subject: str
    text: str
    """chat-sized text (WhatsApp, Telegram, outbox)"""
    sms_pieces: tuple[Piece, ...]
    sms_max_parts: int
    email: str
    """plain-text e-mail body"""
    slots: tuple[str, str, str, str, str]
    """WhatsApp template parameters: headline, where, detail, time, link"""
    button: str | None
    """label of the button that opens `response_url` (Telegram)"""
    response_url: str | None
    reply_to: str | None = None
    """a reply's answered message at the provider (Telegram `chat_id:message_id`): edited in place"""

    @cached_property
    def sms(self) -> str:
        """The SMS variant, fitted into the configured number of parts (made only when needed)."""
        return smstext.fit(self.sms_pieces, self.sms_max_parts)

    def for_channel(self, channel: ChannelType) -> str:
        if channel == ChannelType.SMS:
            return self.sms
        if channel == ChannelType.EMAIL:
            return self.email
        return self.text


def wib_time(when: datetime, language: Language) -> str:
    """`pukul 02.15 WIB` (Indonesian: `pukul`, and a dot) or `02:15 WIB`."""
    if language == Language.ID:
        return wording.pukul(when)
    return f"{when.astimezone(WIB):%H:%M} WIB"


def wib_date_time(when: datetime, language: Language) -> str:
    """`12 Mar pukul 18.00 WIB` or `12 Mar 18:00 WIB`."""
    local = when.astimezone(WIB)
    return f"{local.day} {_MONTHS[language][local.month - 1]} {wib_time(when, language)}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _place(ctx: MessageContext) -> Kelurahan | None:
    if ctx.kelurahan_code:
        try:
            return kelurahan(ctx.kelurahan_code)
        except KeyError:
            pass
    if ctx.location is not None:
        return nearest_kelurahan(ctx.location.lat, ctx.location.lon)
    return None


def _map(ctx: MessageContext, place: Kelurahan | None) -> str:
    if ctx.location is not None:
        return map_link(ctx.location.lat, ctx.location.lon)
    if place is not None:
        return map_link(place.lat, place.lon)
    return ""


@dataclass(frozen=True, slots=True)
class _Facts:
    """The facts a template states, already in the recipient's language."""

    language: Language
    what: str
    where: str
    map: str
    role: str
    link: str | None

    def pick(self, indonesian: str, english: str) -> str:
        return indonesian if self.language == Language.ID else english


def _facts(request: NotificationRequested) -> _Facts:
    ctx, lang = request.context, request.recipient.language
    english = lang == Language.EN
    kind = ctx.incident_type.label_en if english and ctx.incident_type else None
    what = _cap(kind) if kind else (ctx.incident_type.label if ctx.incident_type else "")
    if ctx.severity is not None:
        severity = ctx.severity.label_en if english else ctx.severity.label
        what = f"{what} ({severity})" if what else _cap(severity)
    if ctx.title:
        what = f"{what}: {ctx.title}" if what else ctx.title
    place = _place(ctx)
    where = f"Kel. {place.name}, Kec. {place.kecamatan_name}" if place else ""
    return _Facts(lang, what, where, _map(ctx, place), _role(ctx.unit, ctx.skill, lang), ctx.response_url)


def _role(unit: Unit | None, skill: Skill | None, language: Language) -> str:
    parts = []
    if unit is not None:
        parts.append(wording.unit_name(unit))
    if skill is not None:
        parts.append(_cap(skill.label_en) if language == Language.EN else skill.label)
    return " - ".join(parts)


@dataclass(frozen=True, slots=True)
class _Draft:
    """A message before it is shaped for a channel: its headline, its lines (with the order in which
    the SMS variant may drop them), and the parts a WhatsApp template gets."""

    title: str
    subject: str
    lines: list[Piece]
    detail: str
    time: str
    button: str | None


def _offer(request: NotificationRequested, f: _Facts) -> _Draft:
    time = ""
    if request.deadline is not None:
        time = f.pick("Jawab lewat tautan ini sebelum ", "Answer through this link before ") + wib_time(
            request.deadline, f.language
        )
    role = f.pick("Peran: ", "Role: ") + f.role if f.role else ""
    answer = f"{time}:" if time and f.link else time
    return _Draft(
        title=f.pick("PANGGILAN TUGAS", "CALL-OUT"),
        subject=f.pick("Panggilan tugas", "Call-out"),
        lines=[
            Piece(f.what, 0),
            Piece(f.pick("Lokasi: ", "Where: ") + f.where if f.where else "", 2),
            Piece(f.pick("Peta: ", "Map: ") + f.map if f.map else "", MAP_LINE),
            Piece(role, 3),
            Piece(answer, 0),
            Piece(f.link or "", 0),
        ],
        detail=role,
        time=time,
        button=f.pick("Terima / Tolak", "Accept / Decline") if f.link else None,
    )


def _withdrawal(request: NotificationRequested, f: _Facts) -> _Draft:
    ctx = request.context
    because = _WITHDRAWN_BECAUSE[f.language].get(ctx.reason, ctx.reason)
    at = f" {f.pick('di', 'in')} {f.where}" if f.where else ""
    what = f" {f.pick('untuk', 'for')} {f.what}" if f.what else ""
    body = f.pick(f"Panggilan tugas{what}{at} ditarik", f"The call-out{what}{at} was withdrawn")
    body += f": {because}." if because else "."
    return _Draft(
        title=f.pick("PANGGILAN DITARIK", "CALL-OUT WITHDRAWN"),
        subject=f.pick("Panggilan ditarik", "Call-out withdrawn"),
        lines=[
            Piece(body, 0),
            Piece(
                f.pick("Anda tidak perlu berangkat. Terima kasih.", "You do not need to go. Thank you."), 1
            ),
        ],
        detail=because or "-",
        time="",
        button=None,
    )


def _cancellation(request: NotificationRequested, f: _Facts) -> _Draft:
    """The assignment is over: the incident was cancelled, or closed (the work is done)."""
    closed = request.context.extra.get("incident_status") == "closed"
    reason = request.context.reason
    if reason in ("cancelled", "closed"):  # the dispatcher's default when the ops room gave no text
        reason = ""
    task = f.pick("Tugas Anda", "Your duty") + (f" ({f.role})" if f.role else "")
    if closed:
        ended = f.pick(f"{task} selesai: kejadian ditutup", f"{task} is over: the incident is closed")
        after = f.pick("Terima kasih atas bantuan Anda.", "Thank you for your help.")
    else:
        ended = f.pick(f"{task} dibatalkan", f"{task} is cancelled")
        after = f.pick(
            "Jika sudah berangkat, kembali dan lapor ke posko.",
            "If you are on your way, return and report to the command post.",
        )
    ended += f": {reason}." if reason else "."
    return _Draft(
        title=f.pick("KEJADIAN DITUTUP", "INCIDENT CLOSED")
        if closed
        else f.pick("KEJADIAN DIBATALKAN", "INCIDENT CANCELLED"),
        subject=f.pick("Kejadian ditutup", "Incident closed")
        if closed
        else f.pick("Kejadian dibatalkan", "Incident cancelled"),
        lines=[
            Piece(f.what, 0),
            Piece(f.pick("Lokasi: ", "Where: ") + f.where if f.where else "", 2),
            Piece(ended, 0),
            Piece(after, 1),
        ],
        detail=ended,
        time="",
        button=None,
    )


def _standby(request: NotificationRequested, f: _Facts) -> _Draft:
    ctx = request.context
    until = ctx.alert_expires or request.deadline
    time = f.pick("Berlaku s.d. ", "Valid until ") + wib_date_time(until, f.language) if until else ""
    advice = f.pick(
        "Bersiaga dan siapkan perlengkapan. Belum ada penugasan: tunggu panggilan tugas.",
        "Stand by and get your kit ready. No duty yet: wait for a call-out.",
    )
    return _Draft(
        title=f.pick("PEMBERITAHUAN SIAGA", "STANDBY NOTICE"),
        subject=f.pick("Pemberitahuan siaga", "Standby notice"),
        lines=[
            Piece(ctx.alert_headline or f.what, 0),
            Piece(f.pick("Wilayah: ", "Area: ") + f.where if f.where else "", 2),
            Piece(advice, 1),
            Piece(time, 0),
            Piece(f.link or "", 0),
            Piece(wording.BMKG_ATTRIBUTION if ctx.alert_headline else "", 0),
        ],
        detail=advice,
        time=time,
        button=f.pick("Buka", "Open") if f.link else None,
    )


def _understaffed(request: NotificationRequested, f: _Facts) -> _Draft:
    ctx = request.context
    missing = ""
    if ctx.open_slots is not None:
        missing = f.pick(f"Masih kurang {ctx.open_slots} orang", f"Still {ctx.open_slots} short")
        missing += f": {f.role}" if f.role else ""
    elif f.role:
        missing = f.pick("Kurang: ", "Short of: ") + f.role
    return _Draft(
        title=f.pick("KURANG PERSONEL", "UNDERSTAFFED"),
        subject=f.pick("Kurang personel", "Understaffed"),
        lines=[
            Piece(f.what, 0),
            Piece(f.pick("Lokasi: ", "Where: ") + f.where if f.where else "", 2),
            Piece(f.pick("Peta: ", "Map: ") + f.map if f.map else "", MAP_LINE),
            Piece(missing, 1),
            Piece(ctx.reason, 3),
            Piece(f.pick("Pantau: ", "Follow: ") + f.link if f.link else "", 0),
        ],
        detail=missing or "-",
        time="",
        button=f.pick("Buka", "Open") if f.link else None,
    )


def _reply(request: NotificationRequested, f: _Facts) -> _Draft:
    """A short answer to the volunteer's own message; the gateway or dispatcher wrote its text."""
    text = request.context.reason or f.pick("Pesan Anda sudah kami terima.", "We have received your message.")
    return _Draft(
        title="",
        subject=f.pick("Balasan", "Reply"),
        lines=[Piece(text, 0)],
        detail=text,
        time="",
        button=None,
    )


def sms_answer_line(request: NotificationRequested) -> Piece | None:
    """ "Balas SIAP 1234 atau TIDAK 1234": an offer SMS's way to answer without the link (issue 18)."""
    if request.kind != NotificationKind.OFFER or not request.offer_id:
        return None
    code = short_code(request.offer_id)
    if request.recipient.language == Language.EN:
        return Piece(f"Reply SIAP {code} or TIDAK {code}", 0)
    return Piece(f"Balas SIAP {code} atau TIDAK {code}", 0)


_DRAFTS: dict[NotificationKind, Callable[[NotificationRequested, _Facts], _Draft]] = {
    NotificationKind.OFFER: _offer,
    NotificationKind.WITHDRAWAL: _withdrawal,
    NotificationKind.CANCELLATION: _cancellation,
    NotificationKind.STANDBY: _standby,
    NotificationKind.UNDERSTAFFED: _understaffed,
    NotificationKind.REPLY: _reply,
}


def render(request: NotificationRequested, *, sms_max_parts: int = 3) -> Rendered:
    """Every shape of one notification."""
    facts = _facts(request)
    draft = _DRAFTS[request.kind](request, facts)
    lines = [p for p in draft.lines if p.text]
    header = f"[SIGAP] {draft.title}".rstrip()
    text = "\n".join([header, *(p.text for p in lines)])
    sms_pieces = [Piece(f"SIGAP {draft.title}".rstrip(), 5), *(p for p in lines if p.drop_order != MAP_LINE)]
    answer_line = sms_answer_line(request)
    if answer_line is not None:  # before the link, which stays last
        sms_pieces.insert(len(sms_pieces) - 1 if facts.link else len(sms_pieces), answer_line)
    footer = facts.pick(
        "Pesan otomatis SIGAP, Dinas Sosial Kota Kediri.",
        "An automatic message from SIGAP, Dinas Sosial Kota Kediri.",
    )
    place = f" - {facts.where.split(',')[0]}" if facts.where else ""
    what = f" - {facts.what}" if facts.what else ""
    return Rendered(
        subject=f"[SIGAP] {draft.subject}{what}{place}"[:200],
        text=text,
        sms_pieces=tuple(sms_pieces),
        sms_max_parts=sms_max_parts,
        email=f"{text}\n\n-- \n{footer}\n",
        slots=(
            f"{draft.title} - {facts.what}" if facts.what else draft.title,
            facts.where or "-",
            draft.detail or "-",
            draft.time or "-",
            facts.link or "-",
        ),
        button=draft.button,
        response_url=facts.link,
        reply_to=str(request.context.extra.get("reply_to") or "") or None,
    )
