"""Rekap kehadiran / uang transport: per volunteer and month, pure.

Counted in the month of the offer (WIB): offers, their outcome (accepted, declined, expired, withdrawn),
late answers, deployments and their hours. Deployment days are the WIB dates of the month a deployment
touches (also one accepted in the month before), each date once per volunteer however many incidents
they served that day. Totals per unit follow the unit each offer asked for; a day counts for the unit
of the first deployment that touched it. The allowance of a volunteer is the rule applied to each
unit's share, summed, so the units' totals add up to the volunteers' total exactly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from schemas.vocabulary import Unit
from services.gateway.reports.deployments import Deployment, deployment_with
from services.gateway.reports.ledger import Ledger, VolunteerRow
from services.gateway.reports.policy import Period, Policy, day_date, wib_day

COUNTS = ("offers", "accepted", "declined", "expired", "withdrawn", "late_answers", "deployments")


def unit_label(unit: str) -> str:
    try:
        return Unit(unit).label
    except ValueError:
        return unit.replace("_", " ").title()


@dataclass
class _Share:
    """One volunteer's figures within one unit."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    days: set[int] = field(default_factory=set)
    en_route_s: float = 0.0
    on_scene_s: float = 0.0


def duty_report(ledger: Ledger, month: str, period: Period, policy: Policy, now: float) -> dict[str, Any]:
    shares: dict[str, dict[str, _Share]] = defaultdict(lambda: defaultdict(_Share))
    first_unit_of_day: dict[tuple[str, int], tuple[float, str]] = {}
    earliest = period.start - policy.max_deployment_s
    ends = {i.incident_id: (i.cancelled_at, i.ended_at) for i in ledger.incidents.values()}
    month_days = range(wib_day(period.start), wib_day(period.end - 1) + 1)
    for offer in ledger.offers.values():
        if offer.offered_at is None or not offer.volunteer_id or offer.offered_at >= period.end:
            continue
        in_month = offer.offered_at >= period.start
        if not in_month and (offer.accepted_at is None or offer.accepted_at < earliest):
            continue
        cancelled, ended = ends.get(offer.incident_id, (None, None))
        deployment = deployment_with(offer, cancelled, ended, policy.max_deployment_s, now)
        share = shares[offer.volunteer_id][offer.unit]
        if in_month:
            _count(share, offer.outcome, offer.late_answer, deployment)
        if deployment is not None:
            _days(offer.volunteer_id, offer.unit, deployment, month_days, first_unit_of_day)
    for (volunteer_id, day), (_, unit) in first_unit_of_day.items():
        shares[volunteer_id][unit].days.add(day)

    volunteers = [_volunteer(vid, ledger.volunteers.get(vid), units, policy) for vid, units in shares.items()]
    volunteers = [v for v in volunteers if v["offers"] or v["deployment_days"] or v["deployments"]]
    volunteers.sort(
        key=lambda v: (v["units"][0] if v["units"] else "~", v["name"].lower(), v["volunteer_id"])
    )
    return {
        "month": month,
        "period": {"label": period.label, "start": period.start, "end": period.end},
        "allowance_rule": {
            "kind": policy.allowance.kind,
            "rupiah": policy.allowance.rupiah,
            "label": policy.allowance.label,
        },
        "max_deployment_hours": round(policy.max_deployment_s / 3600, 2),
        "volunteers": volunteers,
        "totals": _totals(volunteers, shares, policy),
    }


def _count(share: _Share, outcome: str, late: bool, deployment: Deployment | None) -> None:
    c = share.counts
    c["offers"] += 1
    if outcome in ("accepted", "declined", "expired", "withdrawn"):
        c[outcome] += 1
    c["late_answers"] += late
    if deployment is not None:
        c["deployments"] += 1
        share.en_route_s += deployment.en_route_s
        share.on_scene_s += deployment.on_scene_s


def _days(
    volunteer_id: str,
    unit: str,
    deployment: Deployment,
    month_days: range,
    first_unit_of_day: dict[tuple[str, int], tuple[float, str]],
) -> None:
    for day in deployment.days():
        if day not in month_days:
            continue
        key = (volunteer_id, day)
        seen = first_unit_of_day.get(key)
        if seen is None or (deployment.start, unit) < seen:
            first_unit_of_day[key] = (deployment.start, unit)


def _amount(share: _Share, policy: Policy) -> int:
    hours = (share.en_route_s + share.on_scene_s) / 3600
    return policy.allowance.amount(share.counts["deployments"], len(share.days), hours)


def _volunteer(
    volunteer_id: str, profile: VolunteerRow | None, units: dict[str, _Share], policy: Policy
) -> dict[str, Any]:
    counts = dict.fromkeys(COUNTS, 0)
    days: set[int] = set()
    en_route_s = on_scene_s = 0.0
    allowance = 0
    for share in units.values():  # one pass: this runs once per volunteer of a 100,000 roster
        for name, n in share.counts.items():
            counts[name] += n
        days |= share.days
        en_route_s += share.en_route_s
        on_scene_s += share.on_scene_s
        allowance += _amount(share, policy)
    own_units = list(profile.units) if profile and profile.units else sorted(u for u in units if u)
    return {
        "volunteer_id": volunteer_id,
        "name": profile.name if profile and profile.name else volunteer_id,
        "units": own_units,
        **counts,
        "deployment_days": len(days),
        "deployment_dates": [day_date(d).isoformat() for d in sorted(days)],
        "hours_en_route": round(en_route_s / 3600, 2),
        "hours_on_scene": round(on_scene_s / 3600, 2),
        "allowance": allowance,
    }


_UNIT_SUMS = (*COUNTS, "deployment_days", "en_route_s", "on_scene_s", "allowance")


def _totals(
    volunteers: list[dict[str, Any]], shares: dict[str, dict[str, _Share]], policy: Policy
) -> dict[str, Any]:
    by_unit: dict[str, dict[str, Any]] = {}
    for volunteer in volunteers:
        for unit, share in shares[volunteer["volunteer_id"]].items():
            t = by_unit.get(unit)
            if t is None:
                t = by_unit[unit] = {"unit": unit, "label": unit_label(unit), "volunteers": 0}
                t.update(dict.fromkeys(_UNIT_SUMS, 0))
            t["volunteers"] += 1
            for name, n in share.counts.items():
                t[name] += n
            t["deployment_days"] += len(share.days)
            t["en_route_s"] += share.en_route_s
            t["on_scene_s"] += share.on_scene_s
            t["allowance"] += _amount(share, policy)
    unit_rows: list[dict[str, Any]] = []
    en_route_s = on_scene_s = 0.0
    for t in sorted(by_unit.values(), key=lambda t: t["unit"]):
        en_route_s += t["en_route_s"]
        on_scene_s += t["on_scene_s"]
        t["hours_en_route"] = round(t.pop("en_route_s") / 3600, 2)
        t["hours_on_scene"] = round(t.pop("on_scene_s") / 3600, 2)
        unit_rows.append(t)
    totals: dict[str, Any] = {"volunteers": len(volunteers)}
    for name in (*COUNTS, "deployment_days", "allowance"):
        totals[name] = sum(t[name] for t in unit_rows)
    totals["hours_en_route"] = round(en_route_s / 3600, 2)
    totals["hours_on_scene"] = round(on_scene_s / 3600, 2)
    totals["by_unit"] = unit_rows
    return totals
