"""The incident state machine's steps (`_Step`) and its handling of offers and their answers: the
search for open slots, the incident's status after each change (`_settle`), accepted, declined,
expired, reclaimed, en route / on scene / released, and the end of a hold (rest included). Pure, like
`services.dispatcher.incident`, whose `decide` calls these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.api import TimelineEntry
from schemas.events import (
    AssignmentStatusChanged,
    IncidentStatusChanged,
    Need,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferWithdrawn,
    Payload,
    ResponseVia,
)
from schemas.vocabulary import AssignmentStatus, ChannelType, IncidentStatus, NotificationKind
from services.common.wording import decimal
from services.dispatcher.commands import (
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
from services.dispatcher.incident_state import (
    _PROGRESS,
    MAX_TIMELINE,
    A,
    Assignment,
    IncidentState,
    Policy,
    offer_id_for,
)


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
