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
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from schemas.api import AssessmentView, TimelineEntry
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
    Need,
    NeedChange,
    NotificationDelivered,
    NotificationFailed,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferMade,
    OfferMode,
    OfferWithdrawn,
    Payload,
    ResponseVia,
)
from schemas.fields import GeoPoint
from schemas.vocabulary import (
    AssignmentStatus,
    ChannelType,
    IncidentStatus,
    IncidentType,
    NotificationKind,
    Severity,
    Skill,
    Unit,
)
from services.common.wording import assessment_summary, decimal, km, need_change, pukul, role
from services.dispatcher.assessment import AssessmentRules, needs_for
from services.dispatcher.commands import (
    CandidatesFound,
    ClearRetry,
    ClearUnderstaffed,
    Command,
    ConfirmAssignment,
    Emit,
    FindCandidates,
    ForgetDeadline,
    FreeVolunteer,
    MarkUnderstaffed,
    Notify,
    NotifyCoordinators,
    Reclaim,
    Reclaimed,
    RetryUnderstaffed,
    SetOfferStatus,
)
from services.dispatcher.runcards import RunCards

MAX_PROCESSED = 300
"""Event ids remembered per incident (rule 9); far more than one incident's redelivery window."""
MAX_TIMELINE = 2000

A = AssignmentStatus
FILLED = frozenset({A.ACCEPTED, A.EN_ROUTE, A.ON_SCENE, A.RELEASED})
HOLDING = frozenset({A.OFFERED, A.ACCEPTED, A.EN_ROUTE, A.ON_SCENE})
_PROGRESS = {A.ACCEPTED: 0, A.EN_ROUTE: 1, A.ON_SCENE: 2, A.RELEASED: 3}


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules `decide` applies, read once at start (run-card file + settings)."""

    runcards: RunCards
    max_radius_km: float = 25.0
    offer_ttl_override_s: float | None = None
    rest_after: timedelta = timedelta(hours=4)
    rest_for: timedelta = timedelta(hours=8)
    assessment: AssessmentRules | None = None
    """what a kaji cepat adds to the needs (None: an assessment is recorded, the needs stay)"""

    def offer_ttl(self, severity: Severity) -> timedelta:
        seconds = self.offer_ttl_override_s or self.runcards.offer_ttl_s[severity]
        return timedelta(seconds=seconds)


# --- state ------------------------------------------------------------------------------------


class NeedState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: Unit
    skill: Skill | None = None
    count: int
    exhausted: bool = Field(default=False, description="the last search ran out of candidates")
    base: int | None = Field(
        default=None, description="the run card's (or posted) count once an assessment changed it"
    )

    def as_need(self) -> Need:
        return Need(unit=self.unit, skill=self.skill, count=self.count)

    def describe(self) -> str:
        return f"{self.unit.value}/{self.skill.value}" if self.skill else self.unit.value

    def role(self) -> str:
        """`Tagana — Penyelamatan di air`: the need as the ops room reads it."""
        return role(self.unit, self.skill)

    @property
    def kind(self) -> str:
        """`unit` or `unit:skill`: the suffix of the roster's geo index this need searches."""
        return f"{self.unit.value}:{self.skill.value}" if self.skill else self.unit.value


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offer_id: str
    volunteer_id: str
    volunteer_name: str = ""
    need_index: int
    unit: Unit
    skill: Skill | None = None
    status: AssignmentStatus = A.OFFERED
    distance_km: float
    offered_at: datetime
    expires_at: datetime
    responded_at: datetime | None = None
    accepted_at: datetime | None = None
    delivered_at: datetime | None = None
    updated_at: datetime
    via: str | None = None


class NeedCounts(NamedTuple):
    filled: int
    offered: int
    open: int


class IncidentState(BaseModel):
    """Everything the dispatcher knows of one incident; kept per incident by its partition's owner."""

    model_config = ConfigDict(extra="forbid")

    incident_id: str
    type: IncidentType
    severity: Severity
    title: str
    description: str = ""
    location: GeoPoint
    kelurahan_code: str
    affected_people: int | None = None
    from_alert_id: str | None = None
    status: IncidentStatus
    reported_at: datetime
    updated_at: datetime
    needs: list[NeedState]
    assignments: list[Assignment] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    offer_seq: int = 0
    offer_mode: OfferMode = "one_per_slot"
    broadcast_factor: float = 1.0
    understaffed_episode: int = 0
    processed: list[str] = Field(default_factory=list)
    version: int = 0
    assessment: AssessmentView | None = None
    assessments: int = 0

    def counts(self, need_index: int) -> NeedCounts:
        filled = offered = 0
        for a in self.assignments:
            if a.need_index == need_index:
                filled += a.status in FILLED
                offered += a.status == A.OFFERED
        return NeedCounts(filled, offered, max(0, self.needs[need_index].count - filled - offered))

    def open_slots(self) -> int:
        return sum(self.counts(i).open for i in range(len(self.needs)))

    def offer_room(self, need_index: int) -> int:
        """How many more offers a need may have out now. One per slot: its open slots (rule 6). A
        broadcast (issue 18): up to `broadcast_factor` × its unfilled slots outstanding at once; the first
        answers fill the slots, the rest are withdrawn as filled, so accepted never exceed the count."""
        c = self.counts(need_index)
        if self.offer_mode != "broadcast":
            return c.open
        unfilled = self.needs[need_index].count - c.filled
        if unfilled <= 0:
            return 0
        return max(0, math.ceil(unfilled * self.broadcast_factor - 1e-9) - c.offered)

    def assignment(self, offer_id: str) -> Assignment | None:
        return next((a for a in self.assignments if a.offer_id == offer_id), None)

    @property
    def excluded(self) -> frozenset[str]:
        """Everyone already offered this incident: never offered it again (rule 5)."""
        return frozenset(a.volunteer_id for a in self.assignments)


def offer_id_for(incident_id: str, seq: int) -> str:
    """Deterministic, so a redelivered event reserves under the same ids (rule 9)."""
    return "of-" + hashlib.blake2b(f"{incident_id}/{seq}".encode(), digest_size=10).hexdigest()


# --- the machine ------------------------------------------------------------------------------

Input = Envelope[Payload] | CandidatesFound | Reclaimed
Decision = tuple[IncidentState | None, list[Command]]


@dataclass
class _Step:
    state: IncidentState
    now: datetime
    policy: Policy
    commands: list[Command] = field(default_factory=list)

    def emit(self, payload: Payload) -> None:
        self.commands.append(Emit(payload))

    def note(self, event: str, detail: str = "", at: datetime | None = None) -> None:
        timeline = self.state.timeline
        timeline.append(TimelineEntry(at=at or self.now, event=event, detail=detail))
        if len(timeline) > MAX_TIMELINE:
            del timeline[1 : len(timeline) - MAX_TIMELINE + 1]  # keep "reported"


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


def _search_open_needs(step: _Step, only: int | None = None) -> None:
    state = step.state
    for index, need in enumerate(state.needs):
        if only is not None and index != only:
            continue
        open_slots = state.offer_room(index)
        if open_slots == 0:
            need.exhausted = False
            continue
        offer_ids = tuple(offer_id_for(state.incident_id, state.offer_seq + k) for k in range(open_slots))
        state.offer_seq += open_slots
        step.commands.append(
            FindCandidates(
                incident_id=state.incident_id,
                need_index=index,
                need=Need(unit=need.unit, skill=need.skill, count=open_slots),
                location=state.location,
                offer_ids=offer_ids,
                expires_at=step.now + step.policy.offer_ttl(state.severity),
                exclude=state.excluded,
            )
        )


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


def _settle(step: _Step) -> None:
    """Staffed when every need is filled; understaffed when a need has open slots nobody within the
    maximum radius can fill; dispatching otherwise."""
    state = step.state
    if not state.status.is_open:
        return
    counts = [state.counts(i) for i in range(len(state.needs))]
    shortfall = [(n, c) for n, c in zip(state.needs, counts, strict=True) if n.exhausted and c.open]
    short = [f"{n.role()} ×{c.open}" for n, c in shortfall]
    if all(c.filled >= n.count for n, c in zip(state.needs, counts, strict=True)):
        _set_status(step, IncidentStatus.STAFFED, "semua kebutuhan terisi")
    elif shortfall:
        radius = decimal(step.policy.max_radius_km).removesuffix(",0")
        reason = f"tidak ada lagi relawan dalam radius {radius} km: " + ", ".join(short)
        _set_status(step, IncidentStatus.UNDERSTAFFED, reason)
        kinds = tuple(dict.fromkeys(n.kind for n, _ in shortfall))
        step.commands.append(MarkUnderstaffed(state.incident_id, state.reported_at, kinds))
    else:
        _set_status(step, IncidentStatus.DISPATCHING, "menunggu jawaban relawan")


def _set_status(step: _Step, status: IncidentStatus, reason: str) -> None:
    state = step.state
    previous = state.status
    if status == previous:
        return
    state.status = status
    step.note(status.value, reason)
    step.emit(
        IncidentStatusChanged(
            incident_id=state.incident_id, status=status, previous_status=previous, reason=reason
        )
    )
    if status == IncidentStatus.UNDERSTAFFED:
        state.understaffed_episode += 1
        step.commands.append(NotifyCoordinators(state.understaffed_episode, state.open_slots(), reason))
    elif previous == IncidentStatus.UNDERSTAFFED:
        step.commands.append(ClearUnderstaffed(state.incident_id))


def _on_accepted(step: _Step, p: OfferAccepted) -> None:
    state = step.state
    a = state.assignment(p.offer_id)
    if a is None or a.volunteer_id != p.volunteer_id or not state.status.is_open:
        return
    if a.status == A.OFFERED and state.counts(a.need_index).filled >= state.needs[a.need_index].count:
        _withdraw_as_filled(step, a, p)  # a broadcast need filled by earlier answers
        _settle(step)
    elif a.status == A.OFFERED:
        _accept(step, a, p.via, p.by, p.channel)
        step.commands.append(ConfirmAssignment(a.volunteer_id, a.offer_id, step.now))
        _reply(step, a, p, "accepted")
        if state.counts(a.need_index).filled >= state.needs[a.need_index].count:
            for other in state.assignments:
                if other.need_index == a.need_index and other.status == A.OFFERED:
                    _withdraw_as_filled(step, other)
        _settle(step)
    elif a.status in (A.WITHDRAWN, A.EXPIRED) and p.channel is not None:
        # a chat answer that crossed the offer's end: tell them (the places were filled, or time ran out)
        _reply(step, a, p, "filled" if a.status == A.WITHDRAWN else "expired")
    elif a.status in (A.DECLINED, A.EXPIRED) and p.via == "ops_room" and state.counts(a.need_index).open > 0:
        # "the ops room can still record an answer for them" (rule 5): take them if they are free
        step.commands.append(Reclaim(a.volunteer_id, a.offer_id, state.incident_id, step.now))


def _withdraw_as_filled(step: _Step, a: Assignment, answer: OfferAccepted | None = None) -> None:
    """A broadcast need is full: the offer is withdrawn and its volunteer is free again (issue 18). One
    who said yes too late hears "Sudah terpenuhi" on the channel they answered on; the others get the
    withdrawal notice ("tempat sudah terisi")."""
    a.status = A.WITHDRAWN
    a.updated_at = step.now
    if answer is not None:
        a.responded_at = step.now
    step.note("withdrawn", f"{a.volunteer_name}: already filled")
    withdrawn = OfferWithdrawn(
        offer_id=a.offer_id,
        incident_id=step.state.incident_id,
        volunteer_id=a.volunteer_id,
        reason="reassigned",
    )
    _end_hold(step, a, withdrawn)
    if answer is not None and answer.channel is not None:
        _reply(step, a, answer, "filled")
    else:
        step.commands.append(Notify(NotificationKind.WITHDRAWAL, a.volunteer_id, a.offer_id, "reassigned"))
    step.commands.append(RetryUnderstaffed(f"{a.volunteer_id} not needed (filled)", (a.volunteer_id,)))


def _reply(step: _Step, a: Assignment, p: OfferAccepted | OfferDeclined, outcome: str) -> None:
    """The outcome of an answer given on a chat channel, told back on that channel (issue 18)."""
    if p.channel is not None:
        step.commands.append(
            Notify(NotificationKind.REPLY, a.volunteer_id, a.offer_id, outcome, p.channel, p.channel_ref)
        )


def _accept(
    step: _Step, a: Assignment, via: ResponseVia, by: str | None, channel: ChannelType | None = None
) -> None:
    a.status = A.ACCEPTED
    a.responded_at = a.accepted_at = a.updated_at = step.now
    a.via = via
    who = f" (dicatat oleh {by})" if by else (" (dicatat Pusdalops)" if via == "ops_room" else "")
    if channel is not None:
        who += f" lewat {channel.label}"  # a chat button or reply (issue 18)
    step.note("accepted", f"{a.volunteer_name}{who}")
    step.emit(
        OfferAccepted(
            offer_id=a.offer_id,
            incident_id=step.state.incident_id,
            volunteer_id=a.volunteer_id,
            via=via,
            by=by,
            channel=channel,
        )
    )


def _on_reclaimed(step: _Step, result: Reclaimed) -> None:
    state = step.state
    a = state.assignment(result.offer_id)
    if a is None:
        return
    usable = (
        state.status.is_open and a.status in (A.DECLINED, A.EXPIRED) and state.counts(a.need_index).open > 0
    )
    if result.ok and usable:
        _accept(step, a, "ops_room", None)
        _settle(step)
    elif result.ok:
        step.commands.append(FreeVolunteer(a.volunteer_id, a.offer_id, a.status))
    else:
        step.note(
            "late answer",
            f"{a.volunteer_name} menjawab bersedia setelah waktu menjawab habis, tetapi sudah tidak bebas",
        )


def _on_declined_or_expired(step: _Step, p: OfferDeclined | OfferExpired) -> None:
    state = step.state
    expired = isinstance(p, OfferExpired)
    a = state.assignment(p.offer_id)
    if a is None or a.status != A.OFFERED:
        if expired:
            step.commands.append(ForgetDeadline(p.offer_id))
            if a is None:
                step.commands.append(FreeVolunteer(p.volunteer_id, p.offer_id, A.EXPIRED))
        return
    if a.volunteer_id != p.volunteer_id:
        return
    a.status = A.EXPIRED if expired else A.DECLINED
    a.updated_at = step.now
    if isinstance(p, OfferDeclined):
        a.responded_at = step.now
        a.via = p.via
        _reply(step, a, p, "declined")
    step.note(a.status.value, a.volunteer_name)
    _end_hold(step, a, p.model_copy())
    if state.status.is_open:
        _search_open_needs(step, only=a.need_index)  # the next candidate, at once
        _settle(step)
    step.commands.append(RetryUnderstaffed(f"{a.volunteer_id} {a.status.value} an offer", (a.volunteer_id,)))


def _on_progress(step: _Step, p: AssignmentStatusChanged) -> None:
    state = step.state
    a = state.assignment(p.offer_id)
    if a is None or a.volunteer_id != p.volunteer_id:
        return
    new = AssignmentStatus(p.status)
    if a.status not in _PROGRESS or _PROGRESS[new] <= _PROGRESS[a.status]:
        return
    a.status = new
    a.updated_at = step.now
    step.note(new.value, a.volunteer_name)
    if new == A.RELEASED:
        _end_hold(step, a, p.model_copy(), _rest_until(step, a))
        step.commands.append(RetryUnderstaffed(f"{a.volunteer_id} released", (a.volunteer_id,)))
    else:
        step.emit(p.model_copy())
        step.commands.append(SetOfferStatus(a.offer_id, new))


def _end_hold(step: _Step, a: Assignment, record: Payload, resting_until: datetime | None = None) -> None:
    """Record the end of an offer or assignment, then free the volunteer — in that order, so the
    dispatch log's time of the end always precedes any later offer to the same volunteer. A rest given
    on release is on the record too (a rebuild replays it)."""
    if resting_until is not None and isinstance(record, AssignmentStatusChanged):
        record = record.model_copy(update={"resting_until": resting_until})
    step.emit(record)
    step.commands.append(FreeVolunteer(a.volunteer_id, a.offer_id, a.status, resting_until))


def _rest_until(step: _Step, a: Assignment) -> datetime | None:
    """A long deployment earns a rest before the next offer."""
    if a.accepted_at is None or step.now - a.accepted_at < step.policy.rest_after:
        return None
    return step.now + step.policy.rest_for if step.policy.rest_for else None


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
