"""The incident state machine: `decide(state, event, now, policy) -> (new_state, commands)`.

Incident: reported → dispatching → staffed | understaffed → closed; cancelled from any open state.
Offer (assignment): offered → accepted | declined | expired | withdrawn; accepted → en_route →
on_scene → released. Pure: no I/O, no clock; `now` is passed in and `Policy` holds the rules.

Rules of DESIGN.md §3 and where they live here:
1 run cards → `_on_reported`; 4 one at a time → `FindCandidates` reserves atomically (roster);
5 offers expire / next candidate at once / no re-offer → `_on_declined_or_expired`, `excluded`;
6 never overstaffed → `open_slots` bounds every search; 7 understaffed → `_settle`;
8 cancel/close → `_on_ended`; 9 idempotent → `processed` event ids, deterministic offer ids;
10 everything recorded → `Emit` + the timeline.

The state (`IncidentState`, `Policy`) lives in `incident_state`, re-exported here; the steps and the
handling of offers and their answers (`_settle`, `_on_declined_or_expired`, …) in `incident_offers`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from schemas.api import AssessmentView
from schemas.envelope import Envelope
from schemas.events import (
    MAX_NEEDS,
    AssignmentStatusChanged,
    DispatchRetry,
    IncidentAssessed,
    IncidentCancelled,
    IncidentClosed,
    IncidentNeedsChanged,
    IncidentReported,
    IncidentStatusChanged,
    NeedChange,
    NotificationDelivered,
    NotificationFailed,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferMade,
    OfferWithdrawn,
    Payload,
)
from schemas.vocabulary import IncidentStatus, NotificationKind
from services.common.wording import assessment_summary, decimal, km, need_change, pukul
from services.dispatcher.assessment import AssessmentRules, needs_for
from services.dispatcher.commands import (
    CandidatesFound,
    ClearRetry,
    Command,
    ForgetDeadline,
    FreeVolunteer,
    Notify,
    Reclaimed,
    RetryUnderstaffed,
)
from services.dispatcher.incident_offers import (
    _end_hold,
    _on_accepted,
    _on_declined_or_expired,
    _on_progress,
    _on_reclaimed,
    _rest_until,
    _search_open_needs,
    _set_status,
    _settle,
    _Step,
)

# the state lives in `incident_state`; importers keep importing its names from here
from services.dispatcher.incident_state import FILLED as FILLED
from services.dispatcher.incident_state import HOLDING as HOLDING
from services.dispatcher.incident_state import MAX_PROCESSED as MAX_PROCESSED
from services.dispatcher.incident_state import MAX_TIMELINE as MAX_TIMELINE
from services.dispatcher.incident_state import A as A
from services.dispatcher.incident_state import Assignment as Assignment
from services.dispatcher.incident_state import IncidentState as IncidentState
from services.dispatcher.incident_state import NeedCounts as NeedCounts
from services.dispatcher.incident_state import NeedState as NeedState
from services.dispatcher.incident_state import Policy as Policy
from services.dispatcher.incident_state import offer_id_for as offer_id_for

# --- the machine ------------------------------------------------------------------------------

Input = Envelope[Payload] | CandidatesFound | Reclaimed
Decision = tuple[IncidentState | None, list[Command]]


def decide(state: IncidentState | None, event: Input, now: datetime, policy: Policy) -> Decision:
    """Apply one event (or the result of a command) to an incident; return the new state and what to do.

    The given state is never mutated. An event whose `event_id` was already processed changes nothing.
    """
    if isinstance(event, CandidatesFound | Reclaimed):
        if state is None:
            return None, []
        step = _Step(_thaw(state), now, policy)
        if isinstance(event, CandidatesFound):
            _on_found(step, event)
        else:
            _on_reclaimed(step, event)
        step.state.updated_at = now
        return step.state, step.commands

    payload = event.payload
    if state is None:
        if isinstance(payload, IncidentReported):
            return _on_reported(payload, event, now, policy)
        return None, _orphan(payload)
    if event.event_id in state.processed:
        return state, []
    step = _Step(_thaw(state), now, policy)
    handler = _HANDLERS.get(type(payload))
    if handler is not None:
        handler(step, payload)
    if step.commands or step.state.timeline != state.timeline:
        step.state.updated_at = now
    step.state.processed.append(event.event_id)
    del step.state.processed[:-MAX_PROCESSED]
    return step.state, step.commands


def _thaw(state: IncidentState) -> IncidentState:
    """A copy of `state` that the handlers may change without changing `state`: new lists, and new
    needs and assignments (the only nested models they change); timeline entries and the location are
    never changed in place, so they are shared. Far cheaper than a deep copy of the whole state."""
    copy = state.model_copy()
    copy.needs = [n.model_copy() for n in state.needs]
    copy.assignments = [a.model_copy() for a in state.assignments]
    copy.timeline = list(state.timeline)
    copy.processed = list(state.processed)
    return copy


def _orphan(payload: Payload) -> list[Command]:
    """An event for an incident this worker has no state for. An expiry of an offer nobody knows (a
    crash between reserving and saving) still frees the volunteer held by exactly that offer."""
    if isinstance(payload, OfferExpired):
        return [
            FreeVolunteer(payload.volunteer_id, payload.offer_id, A.EXPIRED),
            ForgetDeadline(payload.offer_id),
        ]
    return []


def _on_reported(
    payload: IncidentReported, event: Envelope[Payload], now: datetime, policy: Policy
) -> Decision:
    needs = payload.needs or policy.runcards.needs(payload.type, payload.severity)
    mode = payload.offer_mode or policy.runcards.offer_mode(payload.type, payload.severity)
    state = IncidentState(
        incident_id=payload.incident_id,
        type=payload.type,
        severity=payload.severity,
        title=payload.title,
        description=payload.description,
        location=payload.location,
        kelurahan_code=payload.kelurahan_code,
        affected_people=payload.affected_people,
        from_alert_id=payload.from_alert_id,
        status=IncidentStatus.REPORTED,
        reported_at=event.occurred_at,
        updated_at=now,
        needs=[NeedState(unit=n.unit, skill=n.skill, count=n.count) for n in needs],
        processed=[event.event_id],
        offer_mode=mode,
        broadcast_factor=policy.runcards.broadcast_factor if mode == "broadcast" else 1.0,
    )
    step = _Step(state, now, policy)
    source = (
        "kebutuhan sesuai laporan"
        if payload.needs
        else f"kartu tugas {payload.type.label} / {payload.severity.label.lower()}"
    )
    if mode == "broadcast":
        source += f", panggilan serentak ×{state.broadcast_factor:g}".replace(".", ",")
    step.note("reported", f"{payload.title} — {source}", at=event.occurred_at)
    step.emit(
        IncidentStatusChanged(
            incident_id=state.incident_id,
            status=IncidentStatus.REPORTED,
            reason=source,
            needs=list(needs),  # the decision, on the log: a rebuild never consults the run card again
        )
    )
    _set_status(step, IncidentStatus.DISPATCHING, "mencari relawan")
    _search_open_needs(step)
    return step.state, step.commands


def _on_found(step: _Step, found: CandidatesFound) -> None:
    state = step.state
    need = state.needs[found.need_index]
    for r in found.reservations:
        if state.assignment(r.offer_id) is not None:
            continue  # a redelivered event met its own earlier reservation
        if not state.status.is_open or state.offer_room(found.need_index) == 0:
            step.commands.append(FreeVolunteer(r.volunteer_id, r.offer_id, A.WITHDRAWN))  # never overstaffed
            continue
        expires_at = r.expires_at or step.now + step.policy.offer_ttl(state.severity)
        state.assignments.append(
            Assignment(
                offer_id=r.offer_id,
                volunteer_id=r.volunteer_id,
                volunteer_name=r.volunteer_name,
                need_index=found.need_index,
                unit=need.unit,
                skill=need.skill,
                distance_km=round(r.distance_km, 3),
                offered_at=step.now,
                expires_at=expires_at,
                updated_at=step.now,
            )
        )
        step.note("matched", f"{r.volunteer_name} ({r.volunteer_id}), {km(r.distance_km)}, {need.role()}")
        step.emit(
            OfferMade(
                offer_id=r.offer_id,
                incident_id=state.incident_id,
                volunteer_id=r.volunteer_id,
                need_index=found.need_index,
                unit=need.unit,
                skill=need.skill,
                distance_km=round(r.distance_km, 3),
                expires_at=expires_at,
            )
        )
        step.commands.append(Notify(NotificationKind.OFFER, r.volunteer_id, r.offer_id))
        step.note("offered", f"{r.volunteer_name}: {need.role()}, jawab sebelum {pukul(expires_at)}")
    need.exhausted = found.exhausted and state.offer_room(found.need_index) > 0
    _settle(step)


def _on_ended(step: _Step, p: IncidentCancelled | IncidentClosed) -> None:
    """Cancel or close: withdraw open offers, release assigned volunteers, tell each of them (rule 8)."""
    state = step.state
    if not state.status.is_open:
        return
    cancelled = isinstance(p, IncidentCancelled)
    status = IncidentStatus.CANCELLED if cancelled else IncidentStatus.CLOSED
    text = p.reason if isinstance(p, IncidentCancelled) else p.note
    freed: list[str] = []
    for a in state.assignments:
        if a.status == A.OFFERED:
            a.status = A.WITHDRAWN
            a.updated_at = step.now
            step.note("withdrawn", a.volunteer_name)
            withdrawn = OfferWithdrawn(
                offer_id=a.offer_id,
                incident_id=state.incident_id,
                volunteer_id=a.volunteer_id,
                reason="cancelled" if cancelled else "closed",
            )
            _end_hold(step, a, withdrawn)
            step.commands.append(
                Notify(NotificationKind.WITHDRAWAL, a.volunteer_id, a.offer_id, text or status.value)
            )
            freed.append(a.volunteer_id)
        elif a.status in HOLDING:
            a.status = A.RELEASED
            a.updated_at = step.now
            step.note("released", a.volunteer_name)
            released = AssignmentStatusChanged(
                offer_id=a.offer_id,
                incident_id=state.incident_id,
                volunteer_id=a.volunteer_id,
                status=A.RELEASED,
                via="system",
                by=p.by,
            )
            _end_hold(step, a, released, _rest_until(step, a))
            step.commands.append(
                Notify(NotificationKind.CANCELLATION, a.volunteer_id, a.offer_id, text or status.value)
            )
            freed.append(a.volunteer_id)
    for need in state.needs:
        need.exhausted = False
    _set_status(step, status, text or status.label)
    if freed:
        step.commands.append(RetryUnderstaffed(f"incident {state.incident_id} {status.value}", tuple(freed)))


def _on_retry(step: _Step, p: DispatchRetry) -> None:
    step.commands.append(ClearRetry(step.state.incident_id))
    state = step.state
    if state.status.is_open and any(state.offer_room(i) for i in range(len(state.needs))):
        _search_open_needs(step)
        _settle(step)


def _on_assessed(step: _Step, p: IncidentAssessed) -> None:
    """A kaji cepat: the needs follow the latest assessment (the larger of the run card and the
    assessment rules), never below what is already offered or assigned; new offers go out at once."""
    state = step.state
    by = p.by or ("TRC" if p.via == "link" else "")
    step.note("assessed", assessment_summary(p.assessment) + (f" — {by}" if by else ""))
    changes: list[NeedChange] = []
    if state.status.is_open and step.policy.assessment is not None:
        changes = _follow_assessment(step, p, step.policy.assessment)
    state.assessment = AssessmentView(
        report=p.assessment,
        received_at=step.now,
        via=p.via,
        by=p.by,
        volunteer_id=p.volunteer_id,
        changes=changes,
    )
    state.assessments += 1
    if not changes:
        return
    added = ", ".join(need_change(c) for c in changes)
    step.note("needs_changed", added)
    step.emit(
        IncidentNeedsChanged(
            incident_id=state.incident_id,
            changes=changes,
            reason=f"kaji cepat: {assessment_summary(p.assessment)}"[:1000],
            assessment_event_id=None,
        )
    )
    _search_open_needs(step)
    _settle(step)


def _follow_assessment(step: _Step, p: IncidentAssessed, rules: AssessmentRules) -> list[NeedChange]:
    state = step.state
    wanted = {(w.unit, w.skill): w.count for w in needs_for(rules, state.type, p.assessment)}
    changes: list[NeedChange] = []
    for index, need in enumerate(state.needs):
        if need.base is None:
            need.base = need.count
        counts = state.counts(index)
        target = max(need.base, wanted.pop((need.unit, need.skill), 0))
        count = max(target, counts.filled + counts.offered)
        if count != need.count:
            changes.append(NeedChange(unit=need.unit, skill=need.skill, count=count, previous=need.count))
            need.count = count
            need.exhausted = False  # its new slots are searched now
    for (unit, skill), count in wanted.items():
        if len(state.needs) >= MAX_NEEDS:
            step.note(
                "needs_changed", f"batas {MAX_NEEDS} jenis kebutuhan tercapai; sisanya tidak ditambahkan"
            )
            break
        state.needs.append(NeedState(unit=unit, skill=skill, count=count, base=0))
        changes.append(NeedChange(unit=unit, skill=skill, count=count, previous=0))
    return changes


def _on_delivered(step: _Step, p: NotificationDelivered) -> None:
    a = step.state.assignment(p.offer_id) if p.offer_id else None
    if a is None or a.delivered_at is not None or a.status != A.OFFERED:
        return
    a.delivered_at = step.now
    seconds = decimal(p.latency_ms / 1000, 2)
    step.note("delivered", f"{a.volunteer_name}: terkirim lewat {p.channel.label} dalam {seconds} detik")


def _on_failed(step: _Step, p: NotificationFailed) -> None:
    a = step.state.assignment(p.offer_id) if p.offer_id else None
    if a is None or a.status != A.OFFERED or p.retriable:
        return
    channel = p.channel.label if p.channel else "semua saluran"
    step.note("notification failed", f"{a.volunteer_name}: gagal terkirim lewat {channel} ({p.reason[:200]})")


_HANDLERS: dict[type[Payload], Callable[[_Step, Any], None]] = {
    IncidentReported: lambda step, p: None,  # a second report of a known incident: nothing new
    IncidentAssessed: _on_assessed,
    OfferAccepted: _on_accepted,
    OfferDeclined: _on_declined_or_expired,
    OfferExpired: _on_declined_or_expired,
    AssignmentStatusChanged: _on_progress,
    IncidentCancelled: _on_ended,
    IncidentClosed: _on_ended,
    DispatchRetry: _on_retry,
    NotificationDelivered: _on_delivered,
    NotificationFailed: _on_failed,
}
HANDLED_EVENT_TYPES = frozenset(cls.EVENT_TYPE for cls in _HANDLERS)
