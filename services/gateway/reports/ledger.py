"""The pure fold of report events into rows (no I/O, no clock).

Every fact is kept so that applying events in any order, or twice, gives the same rows: a step's time
is the earliest seen, status changes are a set keyed by event id, a profile is the latest by
(`occurred_at`, event id). The authoritative facts are the dispatcher's decisions on `dispatch-log`
(an accept it acted on, an expiry, a release); from `responses` only the volunteers' own answers are
read, to find late ones; `incidents` gives what was reported; `volunteers` names and units.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from services.gateway.reports.events import ReportEvent, Unreadable, epoch_seconds

INCIDENTS, RESPONSES, DISPATCH_LOG, VOLUNTEERS = "incidents", "responses", "dispatch-log", "volunteers"
TOPICS = (INCIDENTS, RESPONSES, DISPATCH_LOG, VOLUNTEERS)
ASSESSED = "incident.assessed"

NeedsFor = Callable[[str, str], list[tuple[str, str | None, int]]]
"""(incident type, severity) → the run card's needs, for incidents posted without explicit ones"""

ASSESSMENT_FIELDS = (
    "families",
    "people",
    "houses_damaged",
    "evacuees",
    "evacuee_sites",
    "injured",
    "dead",
    "missing",
    "urgent_needs",
    "notes",
    "location",
)


def _first(current: float | None, new: float) -> float:
    return new if current is None or new < current else current


@dataclass(slots=True)
class IncidentRow:
    incident_id: str
    reported_at: float | None = None
    type: str = ""
    severity: str = ""
    title: str = ""
    kelurahan_code: str = ""
    affected_people: int | None = None
    needs: list[tuple[str, str | None, int]] = field(default_factory=list)
    needs_source: str = ""
    statuses: dict[str, tuple[float, str]] = field(default_factory=dict)
    """event id → (time, status) of the dispatcher's `incident.status_changed`"""

    def first_status(self, status: str) -> float | None:
        times = [at for at, s in self.statuses.values() if s == status]
        return min(times) if times else None

    @property
    def staffed_at(self) -> float | None:
        return self.first_status("staffed")

    @property
    def cancelled_at(self) -> float | None:
        return self.first_status("cancelled")

    @property
    def ended_at(self) -> float | None:
        """Closed or cancelled, whichever came first."""
        ends = [at for at, s in self.statuses.values() if s in ("closed", "cancelled")]
        return min(ends) if ends else None

    def status_at(self, moment: float) -> str:
        """The status after every change up to `moment` ("reported" before the first)."""
        seen = sorted((at, eid, s) for eid, (at, s) in self.statuses.items() if at <= moment)
        return seen[-1][2] if seen else "reported"


@dataclass(slots=True)
class OfferRow:
    offer_id: str
    incident_id: str = ""
    volunteer_id: str = ""
    need_index: int = 0
    unit: str = ""
    skill: str | None = None
    distance_km: float | None = None
    offered_at: float | None = None
    expires_at: float | None = None
    accepted_at: float | None = None
    declined_at: float | None = None
    expired_at: float | None = None
    withdrawn_at: float | None = None
    en_route_at: float | None = None
    on_scene_at: float | None = None
    released_at: float | None = None
    answered_at: float | None = None
    """the volunteer's own first answer on `responses` (link or ops room), acted on or not"""

    @property
    def outcome(self) -> str:
        """accepted > declined > expired > withdrawn > offered (still open)."""
        if self.accepted_at is not None:
            return "accepted"
        if self.declined_at is not None:
            return "declined"
        if self.expired_at is not None:
            return "expired"
        if self.withdrawn_at is not None:
            return "withdrawn"
        return "offered"

    @property
    def late_answer(self) -> bool:
        """The volunteer answered after the offer had expired (the ops room may still have taken them)."""
        return (
            self.answered_at is not None
            and self.expired_at is not None
            and self.answered_at >= self.expired_at
        )


@dataclass(slots=True)
class VolunteerRow:
    volunteer_id: str
    name: str = ""
    units: list[str] = field(default_factory=list)
    version: tuple[float, str] = (0.0, "")


@dataclass(slots=True)
class AssessmentRow:
    event_id: str
    incident_id: str
    assessed_at: float
    recorded_at: float
    figures: dict[str, Any] = field(default_factory=dict)


def row_from_dict(cls: type[Any], data: dict[str, Any]) -> Any:
    """A row from its JSON (`orjson.dumps(row)`): tuples come back as lists and are mended here."""
    if cls is IncidentRow:
        data["needs"] = [(u, s, int(c)) for u, s, c in data.get("needs", [])]
        data["statuses"] = {k: (float(at), s) for k, (at, s) in data.get("statuses", {}).items()}
    elif cls is VolunteerRow and "version" in data:
        data["version"] = (float(data["version"][0]), str(data["version"][1]))
    try:
        return cls(**data)
    except TypeError:  # a row written by another version: keep the fields this one knows
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Ledger:
    """Rows by id. `apply` folds one event; `touched` names the rows it changed (the store saves them)."""

    needs_for: NeedsFor | None = None
    incidents: dict[str, IncidentRow] = field(default_factory=dict)
    offers: dict[str, OfferRow] = field(default_factory=dict)
    volunteers: dict[str, VolunteerRow] = field(default_factory=dict)
    assessments: dict[str, AssessmentRow] = field(default_factory=dict)
    touched: set[tuple[str, str]] = field(default_factory=set)

    # --- rows ----------------------------------------------------------------------------------

    def incident(self, incident_id: str) -> IncidentRow:
        row = self.incidents.get(incident_id)
        if row is None:
            row = self.incidents[incident_id] = IncidentRow(incident_id)
        self.touched.add(("incident", incident_id))
        return row

    def offer(self, payload: dict[str, Any]) -> OfferRow:
        offer_id = _text(payload, "offer_id")
        incident_id, volunteer_id = _text(payload, "incident_id"), _text(payload, "volunteer_id")
        row = self.offers.get(offer_id)
        if row is None:
            row = self.offers[offer_id] = OfferRow(offer_id)
        row.incident_id = row.incident_id or incident_id
        row.volunteer_id = row.volunteer_id or volunteer_id
        self.touched.add(("offer", offer_id))
        return row

    def offers_of(self, incident_ids: Iterable[str] | None = None) -> list[OfferRow]:
        if incident_ids is None:
            return list(self.offers.values())
        wanted = set(incident_ids)
        return [o for o in self.offers.values() if o.incident_id in wanted]

    # --- the fold ------------------------------------------------------------------------------

    def apply(self, event: ReportEvent) -> bool:
        """Fold one event; False when reports have no use for it. Raises `Unreadable` when a field
        reports need is missing or of the wrong kind."""
        handler = _HANDLERS.get((event.topic, event.event_type))
        if handler is None and event.event_type == ASSESSED:
            handler = _on_assessed
        if handler is None:
            return False
        try:
            handler(self, event)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, Unreadable):
                raise
            raise Unreadable(f"{event.event_type}: {exc!r}") from None
        return True


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload[name]
    if not isinstance(value, str) or not value:
        raise Unreadable(f"{name} is not a text")
    return value


def _on_reported(ledger: Ledger, event: ReportEvent) -> None:
    p = event.payload  # every field read before any is written: an unreadable event changes nothing
    incident_id, kind, severity = _text(p, "incident_id"), _text(p, "type"), _text(p, "severity")
    affected = p.get("affected_people")
    affected_people = int(affected) if affected is not None else None
    needs = [(str(n["unit"]), n.get("skill"), int(n["count"])) for n in p.get("needs") or []]
    source = "posted" if needs else ""
    if not needs and ledger.needs_for is not None:
        try:
            needs, source = ledger.needs_for(kind, severity), "run_card"
        except (KeyError, ValueError):
            needs, source = [], ""
    row = ledger.incident(incident_id)
    if row.reported_at is not None and row.reported_at <= event.at:
        return  # the first report wins
    row.reported_at, row.type, row.severity = event.at, kind, severity
    row.title = str(p.get("title", ""))
    row.kelurahan_code = str(p.get("kelurahan_code", ""))
    row.affected_people = affected_people
    row.needs, row.needs_source = needs, source


def _on_status(ledger: Ledger, event: ReportEvent) -> None:
    incident_id, status = _text(event.payload, "incident_id"), _text(event.payload, "status")
    ledger.incident(incident_id).statuses[event.event_id] = (event.at, status)


def _on_offer_made(ledger: Ledger, event: ReportEvent) -> None:
    p = event.payload
    need_index, unit = int(p.get("need_index", 0)), _text(p, "unit")
    distance = float(p["distance_km"]) if p.get("distance_km") is not None else None
    expires_at = epoch_seconds(p["expires_at"]) if p.get("expires_at") else None
    row = ledger.offer(p)
    row.offered_at = _first(row.offered_at, event.at)
    row.need_index, row.unit, row.skill = need_index, unit, p.get("skill")
    row.distance_km, row.expires_at = distance, expires_at


def _step(attr: str) -> Callable[[Ledger, ReportEvent], None]:
    def handler(ledger: Ledger, event: ReportEvent) -> None:
        row = ledger.offer(event.payload)
        setattr(row, attr, _first(getattr(row, attr), event.at))

    return handler


def _on_progress(ledger: Ledger, event: ReportEvent) -> None:
    attr = {"en_route": "en_route_at", "on_scene": "on_scene_at", "released": "released_at"}.get(
        _text(event.payload, "status")
    )
    if attr is None:
        raise Unreadable(f"unknown assignment status {event.payload['status']!r}")
    _step(attr)(ledger, event)


def _on_volunteer(ledger: Ledger, event: ReportEvent) -> None:
    profile = event.payload["profile"]
    if not isinstance(profile, dict):
        raise Unreadable("profile is not an object")
    volunteer_id = _text(profile, "volunteer_id")
    row = ledger.volunteers.get(volunteer_id)
    version = (event.at, event.event_id)
    if row is not None and row.version >= version:
        return
    units = profile.get("units") or ([profile["unit"]] if profile.get("unit") else [])
    ledger.volunteers[volunteer_id] = VolunteerRow(
        volunteer_id, str(profile.get("name", "")), [str(u) for u in units], version
    )
    ledger.touched.add(("volunteer", volunteer_id))


def _on_assessed(ledger: Ledger, event: ReportEvent) -> None:
    incident_id = _text(event.payload, "incident_id")
    found = event.payload.get("assessment")  # `IncidentAssessed.assessment` (issue 19)
    p = found if isinstance(found, dict) else {}
    assessed_at = epoch_seconds(p["assessed_at"]) if p.get("assessed_at") else event.at
    figures = {name: p[name] for name in ASSESSMENT_FIELDS if p.get(name) is not None}
    ledger.assessments[event.event_id] = AssessmentRow(
        event.event_id, incident_id, assessed_at, event.at, figures
    )
    ledger.touched.add(("assessment", event.event_id))


_HANDLERS: dict[tuple[str, str], Callable[[Ledger, ReportEvent], None]] = {
    (INCIDENTS, "incident.reported"): _on_reported,
    (DISPATCH_LOG, "incident.status_changed"): _on_status,
    (DISPATCH_LOG, "offer.made"): _on_offer_made,
    (DISPATCH_LOG, "offer.accepted"): _step("accepted_at"),
    (DISPATCH_LOG, "offer.declined"): _step("declined_at"),
    (DISPATCH_LOG, "offer.expired"): _step("expired_at"),
    (DISPATCH_LOG, "offer.withdrawn"): _step("withdrawn_at"),
    (DISPATCH_LOG, "assignment.status_changed"): _on_progress,
    (RESPONSES, "offer.accepted"): _step("answered_at"),
    (RESPONSES, "offer.declined"): _step("answered_at"),
    (VOLUNTEERS, "volunteer.registered"): _on_volunteer,
    (VOLUNTEERS, "volunteer.updated"): _on_volunteer,
    (VOLUNTEERS, "volunteer.duty_changed"): _on_volunteer,
}
