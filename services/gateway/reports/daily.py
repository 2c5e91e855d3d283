"""Laporan harian: per incident and WIB day, pure.

For every incident open at some moment of the day (or the one asked for): the latest kaji cepat taken
by the day's end where one was recorded (`incident.assessed`, issue 19), its needs and how they were
filled over time, the volunteers deployed that day with their hours within the day, the offers of
the day, and what was still open at the day's end.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from schemas import reference
from schemas.vocabulary import IncidentStatus, Severity, Skill
from services.gateway.reports.deployments import deployment_of
from services.gateway.reports.duty import unit_label
from services.gateway.reports.ledger import AssessmentRow, IncidentRow, Ledger, OfferRow
from services.gateway.reports.policy import Period, Policy
from services.gateway.reports.response_times import kecamatan_of, type_label


def _label(enum: Any, value: str | None) -> str:
    if not value:
        return ""
    try:
        return str(enum(value).label)
    except ValueError:
        return value.replace("_", " ")


def _kelurahan(code: str) -> str:
    try:
        return reference.kelurahan(code).name
    except KeyError:
        return code


def active_on(incident: IncidentRow, period: Period) -> bool:
    if incident.reported_at is None or incident.reported_at >= period.end:
        return False
    ended = incident.ended_at
    return ended is None or ended >= period.start


def daily_report(
    ledger: Ledger, day: date, period: Period, policy: Policy, now: float, *, incident_id: str | None = None
) -> dict[str, Any]:
    offers_by: dict[str, list[OfferRow]] = defaultdict(list)
    for o in ledger.offers.values():
        offers_by[o.incident_id].append(o)
    assessments_by: dict[str, list[AssessmentRow]] = defaultdict(list)
    for a in ledger.assessments.values():
        assessments_by[a.incident_id].append(a)
    chosen = [
        i
        for i in ledger.incidents.values()
        if (incident_id is None or i.incident_id == incident_id) and active_on(i, period)
    ]
    chosen.sort(key=lambda i: (i.reported_at or 0, i.incident_id))
    incidents = [
        _incident(
            ledger,
            i,
            offers_by[i.incident_id],
            assessments_by[i.incident_id],
            period=period,
            policy=policy,
            now=now,
        )
        for i in chosen
    ]
    deployed = {v["volunteer_id"] for i in incidents for v in i["volunteers"]}
    return {
        "date": day.isoformat(),
        "label": period.label,
        "incident_id": incident_id,
        "incidents": incidents,
        "totals": {
            "incidents": len(incidents),
            "volunteers_deployed": len(deployed),
            "hours_en_route": round(sum(i["totals"]["hours_en_route"] for i in incidents), 2),
            "hours_on_scene": round(sum(i["totals"]["hours_on_scene"] for i in incidents), 2),
            "open_slots": sum(i["totals"]["open_slots"] for i in incidents),
        },
    }


def _incident(
    ledger: Ledger,
    incident: IncidentRow,
    offers: list[OfferRow],
    assessments: list[AssessmentRow],
    *,
    period: Period,
    policy: Policy,
    now: float,
) -> dict[str, Any]:
    end = min(period.end, now)
    status = incident.status_at(end - 1e-6)
    try:
        still_open = IncidentStatus(status).is_open
    except ValueError:
        still_open = True
    needs = _needs(incident, offers, end, still_open)
    fills = []
    running: dict[int, int] = defaultdict(int)
    for o in sorted(
        (o for o in offers if o.accepted_at is not None and o.accepted_at < end),
        key=lambda o: o.accepted_at or 0,
    ):
        running[o.need_index] += 1
        need = needs[o.need_index] if o.need_index < len(needs) else None
        fills.append(
            {
                "at": o.accepted_at,
                "on_this_day": (o.accepted_at or 0) >= period.start,
                "need_index": o.need_index,
                "need": need["label"] if need else unit_label(o.unit),
                "volunteer_id": o.volunteer_id,
                "name": _name(ledger, o.volunteer_id),
                "filled": running[o.need_index],
                "count": need["count"] if need else None,
            }
        )
    volunteers: list[dict[str, Any]] = []
    for o in offers:
        deployment = deployment_of(o, incident, policy.max_deployment_s, now)
        if deployment is None or deployment.start >= period.end or deployment.end < period.start:
            continue
        en_route_s, on_scene_s = deployment.within(period.start, period.end)
        volunteers.append(
            {
                "volunteer_id": o.volunteer_id,
                "name": _name(ledger, o.volunteer_id),
                "units": _units(ledger, o.volunteer_id, o.unit),
                "unit": o.unit,
                "skill": o.skill,
                "role": _role(o.unit, o.skill),
                "accepted_at": o.accepted_at,
                "en_route_at": o.en_route_at,
                "on_scene_at": o.on_scene_at,
                "released_at": o.released_at,
                "hours_en_route": round(en_route_s / 3600, 2),
                "hours_on_scene": round(on_scene_s / 3600, 2),
            }
        )
    volunteers.sort(key=lambda v: (v["accepted_at"] or 0, v["volunteer_id"]))
    todays = [o for o in offers if o.offered_at is not None and period.start <= o.offered_at < period.end]
    latest = max(
        (a for a in assessments if a.assessed_at < period.end),
        key=lambda a: (a.assessed_at, a.recorded_at, a.event_id),
        default=None,
    )
    pending = sum(1 for o in offers if o.offered_at is not None and o.offered_at < end and _open_at(o, end))
    return {
        "incident_id": incident.incident_id,
        "title": incident.title,
        "type": incident.type,
        "type_label": type_label(incident.type),
        "severity": incident.severity,
        "severity_label": _label(Severity, incident.severity),
        "kelurahan_code": incident.kelurahan_code,
        "kelurahan": _kelurahan(incident.kelurahan_code),
        "kecamatan": kecamatan_of(incident.kelurahan_code),
        "affected_people": incident.affected_people,
        "reported_at": incident.reported_at,
        "ended_at": incident.ended_at,
        "status": status,
        "status_label": _label(IncidentStatus, status),
        "assessment": (
            {"assessed_at": latest.assessed_at, "event_id": latest.event_id, **latest.figures}
            if latest
            else None
        ),
        "assessments": sum(1 for a in assessments if a.assessed_at < period.end),
        "needs": needs,
        "needs_source": incident.needs_source,
        "fills": fills,
        "volunteers": volunteers,
        "offers_today": {
            "made": len(todays),
            "accepted": sum(1 for o in todays if o.outcome == "accepted"),
            "declined": sum(1 for o in todays if o.outcome == "declined"),
            "expired": sum(1 for o in todays if o.outcome == "expired"),
            "withdrawn": sum(1 for o in todays if o.outcome == "withdrawn"),
        },
        "open": [n for n in needs if n["open"] > 0],
        "totals": {
            "volunteers": len({v["volunteer_id"] for v in volunteers}),
            "hours_en_route": round(sum(v["hours_en_route"] for v in volunteers), 2),
            "hours_on_scene": round(sum(v["hours_on_scene"] for v in volunteers), 2),
            "open_slots": sum(n["open"] for n in needs),
            "offers_pending": pending if still_open else 0,
        },
    }


def _open_at(o: OfferRow, moment: float) -> bool:
    ends = [t for t in (o.accepted_at, o.declined_at, o.expired_at, o.withdrawn_at) if t is not None]
    return not ends or min(ends) >= moment


def _needs(
    incident: IncidentRow, offers: list[OfferRow], end: float, still_open: bool
) -> list[dict[str, Any]]:
    filled: dict[int, int] = defaultdict(int)
    seen: dict[int, tuple[str, str | None]] = {}
    for o in offers:
        seen.setdefault(o.need_index, (o.unit, o.skill))
        if o.accepted_at is not None and o.accepted_at < end:
            filled[o.need_index] += 1
    rows = list(incident.needs)
    for index in sorted(seen):  # needs met in offers but not in the report (added later, issue 19)
        while len(rows) <= index:
            unit, skill = seen.get(len(rows), ("", None))
            rows.append((unit, skill, 0))
    out = []
    for index, (unit, skill, count) in enumerate(rows):
        got = filled.get(index, 0)
        out.append(
            {
                "need_index": index,
                "unit": unit,
                "skill": skill,
                "label": _role(unit, skill),
                "count": max(count, got),
                "filled": got,
                "open": max(0, count - got) if still_open else 0,
            }
        )
    return out


def _role(unit: str, skill: str | None) -> str:
    return unit_label(unit) + (f" · {_label(Skill, skill)}" if skill else "")


def _name(ledger: Ledger, volunteer_id: str) -> str:
    row = ledger.volunteers.get(volunteer_id)
    return row.name if row and row.name else volunteer_id


def _units(ledger: Ledger, volunteer_id: str, fallback: str) -> list[str]:
    row = ledger.volunteers.get(volunteer_id)
    return list(row.units) if row and row.units else [fallback]
