"""Carrying out the incident state machine: load state, `decide`, execute commands with the adapters,
produce the outputs, save. One `Dispatch` per worker; the agents call it. The timers call its
`followups` (`services.dispatcher.followups`: offer expiry, retries, the end of rests).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from schemas.envelope import Envelope, decode_event
from schemas.events import (
    IncidentReported,
    NotificationDelivered,
    NotificationFailed,
    OfferMade,
    Payload,
    Recipient,
)
from services.common.autopipe import coalescing
from services.common.base_settings import CommonSettings
from services.common.clock import Clock, system_clock
from services.common.topics import DISPATCH_LOG, NOTIFICATIONS
from services.dispatcher import metrics, notices
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
from services.dispatcher.followups import FollowUps
from services.dispatcher.incident import IncidentState, Input, Policy, decide
from services.dispatcher.matching import Unsearched, find_and_reserve
from services.dispatcher.outputs import Batch, Record, Sender, send_all
from services.dispatcher.roster import Roster
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import IncidentStore
from services.dispatcher.telling import Telling

log = logging.getLogger(__name__)

MAX_STEPS = 200
"""Command results fed back per input; a bound that a correct machine never reaches."""


def _only_noted_as_processed(
    event: Envelope[Payload], before: IncidentState | None, after: IncidentState
) -> bool:
    """A delivery report that changed nothing but the list of processed event ids (the report of a
    withdrawal, or of an offer already marked delivered). Its save is skipped: whether a delivery
    report changes anything depends only on facts that never revert (the offer exists, it is no longer
    outstanding, its delivery is already recorded), so the same report handled again later is again a
    no-op and need not be remembered."""
    return (
        isinstance(event.payload, NotificationDelivered | NotificationFailed)
        and before is not None
        and after.updated_at == before.updated_at
        and after.timeline == before.timeline
        and after.status == before.status
    )


@dataclass
class _Run:
    """What carrying out one input gathers: its outputs, retry requests, and the profiles of the
    volunteers it reserved or released (read in the same round trips, for telling them)."""

    batch: Batch
    retries: list[RetryUnderstaffed] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)
    unless_state: str | None = None
    """the state key the next candidate search must find absent (the state was not loaded)"""
    state_checked: bool = False
    """a search found that state absent"""
    state_exists: bool = False
    """a search found that state present: nothing was searched, the run stopped; load the state"""


@dataclass
class _Group:
    """One incident's events of a batch, carried out in memory: the state as loaded and as left, the
    outputs to send before that state may be saved."""

    incident_id: str
    version: int = 0
    """the saved version the state was loaded at (the save's compare-and-set)"""
    current: IncidentState | None = None
    changed: bool = False
    """some event changed more than the list of processed event ids: save"""
    records: list[Record] = field(default_factory=list)
    retries: list[RetryUnderstaffed] = field(default_factory=list)
    first_offers: list[Envelope[Payload]] = field(default_factory=list)
    """reports whose first offers are among the records"""
    parked: list[Envelope[Payload]] = field(default_factory=list)
    """answers to offers of an incident whose state is not there yet (`Dispatch._carry_out_group`)"""


PARKED_FOR_S = 24 * 3600
"""How long an answer waits for its incident's state (`Dispatch._park`)."""


def _answers_an_offer(event: Envelope[Payload]) -> bool:
    """An answer or report about one offer (accepted, declined, released, expired, delivered…)."""
    return not isinstance(event.payload, IncidentReported) and bool(getattr(event.payload, "offer_id", None))


@dataclass
class Dispatch:
    roster: Roster
    incidents: IncidentStore
    sender: Sender
    policy: Policy
    settings: CommonSettings
    own: DispatcherSettings
    coordinators: list[Recipient]
    clock: Clock = system_clock
    """the worker's clock (the timers and agents read it and pass `now` in; only metrics read it here)"""
    followups: FollowUps = field(init=False, repr=False)
    """the dispatcher's own producers of `responses` (offer expiry, retries, the end of rests)"""
    telling: Telling = field(init=False, repr=False)
    """what volunteers are told about their offers (`services.dispatcher.telling`)"""

    def __post_init__(self) -> None:
        self.followups = FollowUps(self.roster, self.incidents, self.sender, self.settings, self.own)
        self.telling = Telling(self.roster, self.settings, self.own)

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    # --- incident events ----------------------------------------------------------------------

    async def handle(self, event: Envelope[Payload], now: datetime) -> IncidentState | None:
        """Process one event of the `incidents` or `responses` topic, in its incident's order.

        Outputs are acknowledged by the broker before the state is saved: the saved state records the
        event as processed, so it must not exist without them (a crash in between redelivers the
        event, which produces the same outputs under the same ids)."""
        incident_id = getattr(event.payload, "incident_id", None)
        if not incident_id:
            log.info("%s %s names no incident; ignored", event.event_type, event.event_id)
            return None
        started = time.perf_counter()
        group = await self._carry_out_group(incident_id, [event], now)
        await send_all(self.sender, group.records)
        self._observe_offers(group)
        await self._save(group, now)
        metrics.EVENT_SECONDS.observe(time.perf_counter() - started)
        return group.current

    async def handle_batch(self, events: Sequence[Envelope[Payload]], now: datetime) -> list[int]:
        """Process a batch of events (several incidents, each incident's in their order) with the
        round trips shared: every incident's events are carried out in memory concurrently, then all
        their outputs are sent and awaited together, then every changed state is saved.

        The same guarantee as `handle`, batch-wide: no state is saved before every output of the
        batch is acknowledged. Returns the positions of the events not handled — every event of an
        incident whose carrying out or save failed (or all of them, if sending failed) — for the
        caller to handle one at a time with `handle`, in their order, after this batch."""
        started = time.perf_counter()
        groups: dict[str, list[int]] = {}
        for index, event in enumerate(events):
            incident_id = getattr(event.payload, "incident_id", None)
            if not incident_id:
                log.info("%s %s names no incident; ignored", event.event_type, event.event_id)
                continue
            groups.setdefault(incident_id, []).append(index)
        together = len(groups) > 1  # several incidents: their Redis commands go as one pipeline
        with coalescing(together):
            outcomes = await asyncio.gather(
                *(
                    self._carry_out_group(incident_id, [events[i] for i in positions], now)
                    for incident_id, positions in groups.items()
                ),
                return_exceptions=True,
            )
        left: list[int] = []
        carried: list[tuple[_Group, list[int]]] = []
        for (incident_id, positions), outcome in zip(groups.items(), outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome  # cancelled: nothing of this batch is saved
                self._set_aside(incident_id, outcome, "carrying out")
                left.extend(positions)
            else:
                carried.append((outcome, positions))
        try:
            await send_all(self.sender, [record for group, _ in carried for record in group.records])
        except Exception as exc:
            log.warning("batch of %d events: sending failed (%r); one at a time", len(events), exc)
            for group, _ in carried:
                self.incidents.forget(group.incident_id)
            return sorted(i for positions in groups.values() for i in positions)
        with coalescing(together):
            saved = await asyncio.gather(
                *(self._save(group, now) for group, _ in carried), return_exceptions=True
            )
        elapsed = time.perf_counter() - started
        for (group, positions), result in zip(carried, saved, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                self._set_aside(group.incident_id, result, "saving")
                left.extend(positions)
                continue
            self._observe_offers(group)
            for _ in positions:
                metrics.EVENT_SECONDS.observe(elapsed)
        return sorted(left)

    def _set_aside(self, incident_id: str, exc: Exception, stage: str) -> None:
        self.incidents.forget(incident_id)
        log.info("incident %s: %s its batch failed (%r); its events one at a time", incident_id, stage, exc)

    async def _carry_out_group(
        self, incident_id: str, events: Sequence[Envelope[Payload]], now: datetime
    ) -> _Group:
        """Carry out one incident's events in their order, each on the state the one before left: the
        outputs gathered, nothing sent, nothing saved."""
        group = _Group(incident_id)
        for position, event in enumerate(events):
            state = group.current
            run: _Run | None = None
            if position == 0:
                # A report not in memory is almost always of a new incident: its state is not loaded
                # first; the first candidate search checks in its own round trip that none exists
                # (`unless_state`). Until that search, carrying out the report only gathers outputs.
                if isinstance(event.payload, IncidentReported) and not self.incidents.remembers(incident_id):
                    current, run = await self._carry_out(
                        event, None, now, self.incidents.state_key(incident_id)
                    )
                    if run.state_exists:
                        run = None
                    if run is None or not run.state_checked:  # no search said whether the state exists
                        state, group.version = await self.incidents.load(incident_id)
                        if state is not None:
                            run = None
                else:
                    state, group.version = await self.incidents.load(incident_id)
                group.current = state
            if state is None and _answers_an_offer(event):
                group.parked.append(event)
                continue
            if run is None:
                current, run = await self._carry_out(event, state, now, None)
            if (
                current is not None
                and current is not state
                and not _only_noted_as_processed(event, state, current)
            ):
                group.changed = True
            group.current = current
            group.records.extend(run.batch.records)
            group.retries.extend(run.retries)
            if isinstance(event.payload, IncidentReported) and any(
                isinstance(e.payload, OfferMade) for _, _, e in run.batch.records
            ):
                group.first_offers.append(event)
        return group

    # --- answers that overtook their offer ----------------------------------------------------
    #
    # A worker killed after its outputs were acknowledged but before it saved the incident's state
    # leaves the offer on `dispatch-log` and with the volunteer, but not in the state; the next owner
    # gets the input again (its offset was not committed) and makes the same offer again. The
    # volunteer's answer, though, is on `responses` and the input on `incidents`: the next owner may
    # take the answer first, and found no incident to apply it to (it was dropped: an acceptance in
    # time, turned into an expiry; seen in `make faults-smoke`, dispatcher_kill). Such an answer is
    # parked in Redis under the incident and carried out once the incident's state exists. Its offset
    # is committed then, so Redis holds its only copy: a rebuild (a lost, restarted or failed-over
    # Redis) derives it again from the topics — acknowledged, applied by no recorded decision — and
    # puts it back on `responses` (`services.dispatcher.unapplied`).

    async def _park(self, incident_id: str, events: Sequence[Envelope[Payload]]) -> None:
        key = self.incidents.parked_key(incident_id)
        async with self.incidents.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, *(e.to_json() for e in events))
            pipe.expire(key, PARKED_FOR_S)
            await pipe.execute()
        for event in events:
            log.warning(
                "%s %s for incident %s, whose state is not there yet: parked until it is",
                event.event_type,
                event.event_id,
                incident_id,
            )

    def _observe_offers(self, group: _Group) -> None:
        at = self.clock()
        for event in group.first_offers:
            metrics.REPORT_TO_OFFER_SECONDS.observe(max(0.0, (at - event.occurred_at).total_seconds()))

    async def _save(self, group: _Group, now: datetime) -> None:
        """Save what the group's events left (if they changed anything), then ask for the retries
        they requested. Answers parked by the group are parked now; a state saved for the first time
        takes up the answers parked for it, handed back by the save (and carries them out, in their
        order)."""
        if group.parked:
            await self._park(group.incident_id, group.parked)
        if group.changed and group.current is not None:
            saved = await self.incidents.save(group.current, group.version)
            for parked in saved.parked:
                await self.handle(decode_event(parked), now)
        if group.retries:
            await self.followups.wake_understaffed(
                "; ".join(r.reason for r in group.retries),
                [v for r in group.retries for v in r.volunteer_ids],
                now,
                exclude=(group.incident_id,),
            )

    async def _carry_out(
        self, event: Envelope[Payload], state: IncidentState | None, now: datetime, unless_state: str | None
    ) -> tuple[IncidentState | None, _Run]:
        """Decide and execute until no command answers with a result; the outputs gathered, not sent."""
        run = _Run(Batch(event.event_id), unless_state=unless_state)
        current = state
        pending: list[Input] = [event]
        steps = 0
        while pending:
            steps += 1
            if steps > MAX_STEPS:
                raise RuntimeError(f"incident {event.event_id}: more than {MAX_STEPS} steps for one event")
            current, commands = decide(current, pending.pop(0), now, self.policy)
            for command in commands:
                result = await self._execute(command, current, run, now)
                if run.state_exists:  # decided on a state that was not loaded: the caller starts over
                    return current, run
                if result is not None:
                    pending.append(result)
        return current, run

    async def _execute(
        self, command: Command, state: IncidentState | None, run: _Run, now: datetime
    ) -> CandidatesFound | Reclaimed | None:
        roster, batch = self.roster, run.batch
        if run.unless_state is not None and not isinstance(command, Emit | FindCandidates):
            raise RuntimeError(f"{command!r} before the search that tells whether the incident is known")
        match command:
            case FindCandidates():
                started = time.perf_counter()
                unless_state, run.unless_state = run.unless_state, None  # the first search checks
                found = await find_and_reserve(
                    roster,
                    command,
                    now,
                    runcards=self.policy.runcards,
                    max_radius_km=self.policy.max_radius_km,
                    profiles=run.profiles,
                    unless_state=unless_state,
                )
                if found is Unsearched.STATE_EXISTS:
                    run.state_exists = True
                    return None
                run.state_checked = run.state_checked or unless_state is not None
                metrics.MATCH_SECONDS.observe(time.perf_counter() - started)
                return found
            case ConfirmAssignment():
                await roster.confirm(command.volunteer_id, command.offer_id, command.at)
            case Reclaim():
                ok = await roster.reclaim(
                    command.volunteer_id, command.offer_id, command.incident_id, command.at
                )
                return Reclaimed(command.offer_id, ok)
            case FreeVolunteer():
                await roster.free(
                    command.volunteer_id,
                    command.offer_id,
                    command.offer_status,
                    now,
                    command.resting_until,
                    profiles=run.profiles,
                )
            case SetOfferStatus():
                await roster.set_offer_status(command.offer_id, command.status)
            case ForgetDeadline():
                await roster.forget_deadline(command.offer_id)
            case Emit():
                incident_id = getattr(command.payload, "incident_id", None)
                batch.add(self.topic(DISPATCH_LOG), command.payload, key=incident_id)
                if isinstance(command.payload, OfferMade):
                    metrics.OFFERS.inc()
            case Notify():
                notice = await self.telling.notice(command, state, run.profiles)
                if notice is not None:
                    batch.add(self.topic(NOTIFICATIONS), notice, key=notice.incident_id)
                    metrics.NOTIFICATIONS.labels(notice.kind.value).inc()
            case NotifyCoordinators():
                if state is not None:
                    metrics.UNDERSTAFFED.inc()
                    for notice in notices.understaffed_notices(
                        state,
                        self.coordinators,
                        episode=command.episode,
                        open_slots=command.open_slots,
                        reason=command.reason,
                    ):
                        batch.add(self.topic(NOTIFICATIONS), notice, key=state.incident_id)
                        metrics.NOTIFICATIONS.labels(notice.kind.value).inc()
            case MarkUnderstaffed():
                await self.incidents.mark_understaffed(command.incident_id, command.since, command.kinds)
            case ClearUnderstaffed():
                await self.incidents.clear_understaffed(command.incident_id)
            case ClearRetry():
                await self.incidents.clear_retry(command.incident_id)
            case RetryUnderstaffed():
                run.retries.append(command)
        return None
