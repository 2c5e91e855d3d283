"""What the incident state machine asks the world to do: plain data, executed by the agent's adapters.

`incident.decide` returns these; `dispatch.Dispatch` carries them out with the adapters. Commands
whose outcome the state machine must know (finding and reserving candidates, taking back a volunteer)
answer with a result event (`CandidatesFound`, `Reclaimed`) that goes back into `decide`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.events import Need, Payload
from schemas.fields import GeoPoint
from schemas.vocabulary import AssignmentStatus, ChannelType, NotificationKind

# --- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FindCandidates:
    """Search the rings for `len(offer_ids)` eligible volunteers for one need and reserve each
    atomically under one of the given offer ids (rules 2–4). Answered by `CandidatesFound`."""

    incident_id: str
    need_index: int
    need: Need
    location: GeoPoint
    offer_ids: tuple[str, ...]
    expires_at: datetime
    exclude: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ConfirmAssignment:
    """An offer was accepted: the volunteer's hold becomes an assignment; record the deployment."""

    volunteer_id: str
    offer_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Reclaim:
    """The ops room recorded a late yes: take the volunteer back if they are free. Answered by
    `Reclaimed`."""

    volunteer_id: str
    offer_id: str
    incident_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class FreeVolunteer:
    """End the volunteer's hold on `offer_id` (only that one); they rest until `resting_until` when
    set. The offer's read model gets `offer_status`; its expiry deadline goes away."""

    volunteer_id: str
    offer_id: str
    offer_status: AssignmentStatus
    resting_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class SetOfferStatus:
    offer_id: str
    status: AssignmentStatus


@dataclass(frozen=True, slots=True)
class ForgetDeadline:
    """Drop an offer from the expiry schedule (an expiry that no longer applies)."""

    offer_id: str


@dataclass(frozen=True, slots=True)
class Emit:
    """Record a decision on the `dispatch-log` topic, keyed by the incident id."""

    payload: Payload


@dataclass(frozen=True, slots=True)
class Notify:
    """Ask the notifier to tell a volunteer something about an offer (offer, withdrawal, cancellation)."""

    kind: NotificationKind
    volunteer_id: str
    offer_id: str
    reason: str = ""
    channel: ChannelType | None = None
    """a `reply` goes back on the chat channel the volunteer answered on (issue 18)"""
    channel_ref: str = ""


@dataclass(frozen=True, slots=True)
class NotifyCoordinators:
    """Tell every coordinator the incident is understaffed (rule 7); `episode` numbers the warnings."""

    episode: int
    open_slots: int
    reason: str


@dataclass(frozen=True, slots=True)
class MarkUnderstaffed:
    """The incident is understaffed, short of these kinds of need (`unit` or `unit:skill`): a volunteer
    of one of them becoming free wakes it (rule 7). Repeated while it stays understaffed, so the kinds
    follow what it is short of."""

    incident_id: str
    since: datetime
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClearUnderstaffed:
    incident_id: str


@dataclass(frozen=True, slots=True)
class ClearRetry:
    """A retry of this incident is running: later frees must ask for another one."""

    incident_id: str


@dataclass(frozen=True, slots=True)
class RetryUnderstaffed:
    """Volunteers became free: ask the understaffed incidents they could help to look again (each in
    its own order)."""

    reason: str
    volunteer_ids: tuple[str, ...] = ()


Command = (
    FindCandidates
    | ConfirmAssignment
    | Reclaim
    | FreeVolunteer
    | SetOfferStatus
    | ForgetDeadline
    | Emit
    | Notify
    | NotifyCoordinators
    | MarkUnderstaffed
    | ClearUnderstaffed
    | ClearRetry
    | RetryUnderstaffed
)

# --- results fed back into the state machine ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reservation:
    offer_id: str
    volunteer_id: str
    volunteer_name: str
    distance_km: float
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CandidatesFound:
    """The outcome of `FindCandidates`: the reservations made, and whether the search ran out of
    candidates within the maximum radius before reserving every offer id."""

    need_index: int
    reservations: tuple[Reservation, ...] = ()
    exhausted: bool = False
    searched_km: float = 0.0
    examined: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reclaimed:
    offer_id: str
    ok: bool
