"""Waktu tanggap: how fast Sigap and the volunteers answer, per step, against the targets. Pure.

Incidents reported in the period. Per incident: reported → first offer, → first accept, → fully
staffed (the first time every need was filled). Per assignment: accept → en route, en route → on
scene. Percentiles by the nearest rank (the value at rank ⌈q·n⌉ of the sorted values), so every figure
is one of the measured times and can be checked by hand.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from schemas import reference
from schemas.vocabulary import IncidentType
from services.gateway.reports.ledger import IncidentRow, Ledger, OfferRow
from services.gateway.reports.policy import STEP_LABELS, STEPS, Period, Policy, wib_date, wib_midnight

UNKNOWN_KECAMATAN = "Tidak diketahui"
BUCKETS: tuple[tuple[float, str], ...] = (
    (15, "≤ 15 dtk"),
    (30, "15–30 dtk"),
    (60, "30–60 dtk"),
    (120, "1–2 mnt"),
    (300, "2–5 mnt"),
    (600, "5–10 mnt"),
    (math.inf, "> 10 mnt"),
)


def nearest_rank(sorted_values: list[float], q: float) -> float:
    return sorted_values[max(1, math.ceil(q * len(sorted_values))) - 1]


def type_label(value: str) -> str:
    try:
        return IncidentType(value).label
    except ValueError:
        return value.replace("_", " ").capitalize()


def kecamatan_of(code: str) -> str:
    try:
        return reference.kelurahan(code).kecamatan_name
    except KeyError:
        return UNKNOWN_KECAMATAN


def durations(incident: IncidentRow, offers: Iterable[OfferRow]) -> dict[str, list[float]]:
    """Each step's measured seconds for one incident (per assignment for the two middle steps)."""
    out: dict[str, list[float]] = {step: [] for step in STEPS}
    reported = incident.reported_at
    assert reported is not None  # noqa: S101 - callers pass reported incidents only
    offered = [o.offered_at for o in offers if o.offered_at is not None]
    accepted = [o for o in offers if o.accepted_at is not None]
    if offered:
        out["reported_to_first_offer"].append(max(0.0, min(offered) - reported))
    if accepted:
        out["reported_to_first_accept"].append(max(0.0, min(o.accepted_at or 0 for o in accepted) - reported))
    for o in accepted:
        if o.en_route_at is not None and o.accepted_at is not None:
            out["accept_to_en_route"].append(max(0.0, o.en_route_at - o.accepted_at))
        if o.on_scene_at is not None and o.en_route_at is not None:
            out["en_route_to_on_scene"].append(max(0.0, o.on_scene_at - o.en_route_at))
    staffed = incident.staffed_at
    if staffed is not None:
        out["reported_to_staffed"].append(max(0.0, staffed - reported))
    return out


def step_stats(step: str, values: list[float], policy: Policy) -> dict[str, Any]:
    ordered = sorted(values)
    target = policy.targets.get(step)
    within = round(sum(v <= target for v in ordered) / len(ordered), 4) if target and ordered else None
    return {
        "step": step,
        "label": STEP_LABELS[step],
        "count": len(ordered),
        "p50_s": round(nearest_rank(ordered, 0.5), 1) if ordered else None,
        "p90_s": round(nearest_rank(ordered, 0.9), 1) if ordered else None,
        "max_s": round(ordered[-1], 1) if ordered else None,
        "target_s": target,
        "within_target_share": within,
        "target_share": policy.target_share if target else None,
        "met": (within >= policy.target_share) if within is not None else None,
    }


def _merge(into: dict[str, list[float]], more: dict[str, list[float]]) -> None:
    for step, values in more.items():
        into[step].extend(values)


def _steps(values: dict[str, list[float]], policy: Policy) -> list[dict[str, Any]]:
    return [step_stats(step, values[step], policy) for step in STEPS]


def _histogram(values: list[float]) -> list[dict[str, Any]]:
    counts = [0] * len(BUCKETS)
    for v in values:
        counts[next(i for i, (edge, _) in enumerate(BUCKETS) if v <= edge)] += 1
    return [{"label": label, "count": n} for (_, label), n in zip(BUCKETS, counts, strict=True)]


def _week_start(moment: float) -> date:
    day = wib_date(moment)
    return day - timedelta(days=day.weekday())


def response_times(ledger: Ledger, period: Period, policy: Policy, start: str, end: str) -> dict[str, Any]:
    incidents = sorted(
        (
            i
            for i in ledger.incidents.values()
            if i.reported_at is not None and period.start <= i.reported_at < period.end
        ),
        key=lambda i: (i.reported_at or 0, i.incident_id),
    )
    offers_by: dict[str, list[OfferRow]] = defaultdict(list)
    wanted = {i.incident_id for i in incidents}
    for o in ledger.offers.values():
        if o.incident_id in wanted:
            offers_by[o.incident_id].append(o)

    every: dict[str, list[float]] = {step: [] for step in STEPS}
    by_type: dict[str, dict[str, list[float]]] = defaultdict(lambda: {s: [] for s in STEPS})
    by_kec: dict[str, dict[str, list[float]]] = defaultdict(lambda: {s: [] for s in STEPS})
    by_week: dict[date, dict[str, list[float]]] = defaultdict(lambda: {s: [] for s in STEPS})
    counts_type: dict[str, int] = defaultdict(int)
    counts_kec: dict[str, int] = defaultdict(int)
    counts_week: dict[date, int] = defaultdict(int)
    for incident in incidents:
        d = durations(incident, offers_by[incident.incident_id])
        kec = kecamatan_of(incident.kelurahan_code)
        week = _week_start(incident.reported_at or 0)
        for target, counts, key in (
            (by_type, counts_type, incident.type),
            (by_kec, counts_kec, kec),
        ):
            _merge(target[key], d)
            counts[key] += 1
        _merge(by_week[week], d)
        counts_week[week] += 1
        _merge(every, d)

    weeks = []
    if incidents:
        week = _week_start(period.start)
        while wib_midnight(week) < period.end:
            values = by_week.get(week, {s: [] for s in STEPS})
            first = step_stats("reported_to_first_offer", values["reported_to_first_offer"], policy)
            accept = step_stats("reported_to_first_accept", values["reported_to_first_accept"], policy)
            weeks.append(
                {
                    "week_start": week.isoformat(),
                    "incidents": counts_week.get(week, 0),
                    "first_offer_p50_s": first["p50_s"],
                    "first_offer_p90_s": first["p90_s"],
                    "first_offer_within_target_share": first["within_target_share"],
                    "first_accept_p50_s": accept["p50_s"],
                    "first_accept_p90_s": accept["p90_s"],
                }
            )
            week += timedelta(days=7)
    return {
        "from": start,
        "to": end,
        "period": {"label": period.label, "start": period.start, "end": period.end},
        "incidents": len(incidents),
        "steps": _steps(every, policy),
        "by_type": [
            {
                "type": t,
                "label": type_label(t),
                "incidents": counts_type[t],
                "steps": _steps(by_type[t], policy),
            }
            for t in sorted(by_type)
        ],
        "by_kecamatan": [
            {"kecamatan": k, "incidents": counts_kec[k], "steps": _steps(by_kec[k], policy)}
            for k in sorted(by_kec)
        ],
        "weekly": weeks,
        "distribution": {
            "reported_to_first_offer": _histogram(every["reported_to_first_offer"]),
            "reported_to_first_accept": _histogram(every["reported_to_first_accept"]),
        },
    }
