"""An incident's state replayed from the log: its report (`incidents`) and the dispatcher's recorded
decisions (`dispatch-log`), with delivery times from the notifier's reports. Pure.

A replay never decides: needs are the ones the `reported` status change recorded (the run card is
consulted only for a log written before that field existed), offers are the `offer.made` records
with their own deadlines, answers and releases are the records the dispatcher made of them, a rest is
the one a release recorded. `sigap rebuild` (`services.dispatcher.rebuild`) folds every incident this
way and materialises the roster holds, deadlines and registries from the result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from schemas.api import TimelineEntry
from schemas.envelope import Envelope
from schemas.events import (
    AssignmentStatusChanged,
    IncidentReported,
    IncidentStatusChanged,
    Need,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferMade,
    OfferWithdrawn,
    Payload,
)
from schemas.times import WIB
from schemas.vocabulary import AssignmentStatus, IncidentStatus
from services.dispatcher.incident import (
    MAX_TIMELINE,
    Assignment,
    IncidentState,
    NeedState,
    offer_id_for,
)

A = AssignmentStatus
OFFER_SEQ_SCAN_LIMIT = 1_000_000
"""How far `next_offer_seq` looks for the sequence numbers of the offers known."""


@dataclass
class Replayed:
    """An incident as the log has it, and the rests its releases gave (volunteer → until)."""

    state: IncidentState
    rests: dict[str, datetime] = field(default_factory=dict)


def next_offer_seq(incident_id: str, offer_ids: Iterable[str]) -> int:
    """The first offer sequence number after every known offer's (offer ids are a hash of the
    incident id and the number, `offer_id_for`): new offers after a rebuild never reuse an id.
    Numbers a search took without reserving anyone were never used anywhere, so reusing them is safe."""
    wanted = set(offer_ids)
    seq = highest = 0
    while wanted and seq < OFFER_SEQ_SCAN_LIMIT:
        found = offer_id_for(incident_id, seq)
        if found in wanted:
            wanted.discard(found)
            highest = seq + 1
        seq += 1
    if wanted:  # not ours (a hand-made id): start well clear of anything this incident could have
        return OFFER_SEQ_SCAN_LIMIT + int(
            hashlib.blake2b(incident_id.encode(), digest_size=2).hexdigest(), 16
        )
    return highest


def replay(
    report: IncidentReported,
    reported_at: datetime,
    records: Iterable[Envelope[Payload]],
    *,
    names: Mapping[str, str],
    delivered: Mapping[str, datetime],
    fallback_needs: Callable[[IncidentReported], list[Need]],
) -> Replayed:
    """Fold one incident's `dispatch-log` records (in their order) into its state. `names`: volunteer
    id → name (the roster); `delivered`: offer id → when its offer notification was delivered."""
    log = _dedupe(records)
    reported = next(
        (
            r.payload
            for r in log
            if isinstance(r.payload, IncidentStatusChanged) and r.payload.status == IncidentStatus.REPORTED
        ),
        None,
    )
    needs = (reported.needs if reported is not None else []) or report.needs or fallback_needs(report)
    state = IncidentState(
        incident_id=report.incident_id,
        type=report.type,
        severity=report.severity,
        title=report.title,
        description=report.description,
        location=report.location,
        kelurahan_code=report.kelurahan_code,
        affected_people=report.affected_people,
        from_alert_id=report.from_alert_id,
        status=IncidentStatus.REPORTED,
        reported_at=reported_at,
        updated_at=reported_at,
        needs=[NeedState(unit=n.unit, skill=n.skill, count=n.count) for n in needs],
    )
    source = reported.reason if reported is not None else ""
    state.timeline.append(
        TimelineEntry(at=reported_at, event="reported", detail=f"{report.title} — {source}".rstrip(" —"))
    )
    out = Replayed(state)
    for record in log:
        _apply(out, record, names)
        state.updated_at = max(state.updated_at, record.occurred_at)
    for a in state.assignments:
        a.delivered_at = delivered.get(a.offer_id)
    if state.status.is_open:  # at rest, a need still open was searched and ran out of candidates
        for index, need in enumerate(state.needs):
            need.exhausted = state.counts(index).open > 0
    state.offer_seq = next_offer_seq(state.incident_id, (a.offer_id for a in state.assignments))
    if len(state.timeline) > MAX_TIMELINE:
        del state.timeline[1 : len(state.timeline) - MAX_TIMELINE + 1]
    return out


def _dedupe(records: Iterable[Envelope[Payload]]) -> list[Envelope[Payload]]:
    """A redelivered input produces its outputs again under the same event ids: keep the first."""
    seen: set[str] = set()
    out = []
    for record in records:
        if record.event_id not in seen:
            seen.add(record.event_id)
            out.append(record)
    return out


def _note(state: IncidentState, at: datetime, event: str, detail: str = "") -> None:
    state.timeline.append(TimelineEntry(at=at, event=event, detail=detail))


def _apply(out: Replayed, record: Envelope[Payload], names: Mapping[str, str]) -> None:
    state, p, at = out.state, record.payload, record.occurred_at
    if isinstance(p, IncidentStatusChanged):
        if p.status == IncidentStatus.REPORTED:
            return
        state.status = p.status
        if p.status == IncidentStatus.UNDERSTAFFED:
            state.understaffed_episode += 1
        _note(state, at, p.status.value, p.reason)
        return
    if isinstance(p, OfferMade):
        if state.assignment(p.offer_id) is not None or p.need_index >= len(state.needs):
            return
        name = names.get(p.volunteer_id, p.volunteer_id)
        a = Assignment(
            offer_id=p.offer_id,
            volunteer_id=p.volunteer_id,
            volunteer_name=name,
            need_index=p.need_index,
            unit=p.unit,
            skill=p.skill,
            distance_km=p.distance_km,
            offered_at=at,
            expires_at=p.expires_at,
            updated_at=at,
        )
        state.assignments.append(a)
        need = state.needs[p.need_index].describe()
        _note(state, at, "matched", f"{name} ({p.volunteer_id}), {p.distance_km:.1f} km, {need}")
        _note(state, at, "offered", f"{name}: {need}, until {p.expires_at.astimezone(WIB):%H:%M:%S} WIB")
        return
    offer_id = getattr(p, "offer_id", None)
    held = state.assignment(offer_id) if isinstance(offer_id, str) else None
    if held is None or held.volunteer_id != getattr(p, "volunteer_id", None):
        return
    _answer(out, held, p, at)


def _answer(out: Replayed, a: Assignment, p: Payload, at: datetime) -> None:
    state = out.state
    a.updated_at = at
    if isinstance(p, OfferAccepted):
        a.status = A.ACCEPTED
        a.responded_at = a.accepted_at = at
        a.via = p.via
        who = f" (recorded by {p.by})" if p.by else (" (ops room)" if p.via == "ops_room" else "")
        _note(state, at, "accepted", f"{a.volunteer_name}{who}")
    elif isinstance(p, OfferDeclined | OfferExpired | OfferWithdrawn):
        a.status = A.DECLINED if isinstance(p, OfferDeclined) else A.EXPIRED
        if isinstance(p, OfferWithdrawn):
            a.status = A.WITHDRAWN
        if isinstance(p, OfferDeclined):
            a.responded_at = at
            a.via = p.via
        _note(state, at, a.status.value, a.volunteer_name)
    elif isinstance(p, AssignmentStatusChanged):
        a.status = AssignmentStatus(p.status)
        _note(state, at, a.status.value, a.volunteer_name)
        if p.resting_until is not None:
            out.rests[a.volunteer_id] = max(p.resting_until, out.rests.get(a.volunteer_id, p.resting_until))
