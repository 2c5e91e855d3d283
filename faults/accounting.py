"""What a fault did, read from the topics after the run (pure: tested without servers).

Every number comes from the event log, the system of record, plus the provider's own record of what
was handed to it:

- **lost**: an incident the gateway answered 202 for that has no dispatcher decision on `dispatch-log`.
- **double_booked**: volunteers given a hold, during the scenario, while an earlier one of theirs was
  still held (two offers or assignments at once). A hold starts at `offer.made`
  and ends at the first of `offer.declined`, `offer.expired`, `offer.withdrawn` or the assignment's
  `released`. Those end events are stamped before the dispatcher frees the volunteer (the answer, the
  expiry claim, the release are events the dispatcher then applies), and `offer.made` after it
  reserved the volunteer, so on one machine's clock two holds of one volunteer that overlap at all
  overlapped in Redis too.
- **overfilled**: incidents (each needs one volunteer) with two holds at once, or two acceptances. An
  acceptance is the dispatcher's (`offer.accepted` on `dispatch-log`): a volunteer's answer on
  `responses` that reached the log after the offer expired is turned away, and is no acceptance.
- **duplicate_handoffs**: the same notification (the Cloud API request's `biz_opaque_callback_data`
  is the notification id) handed to the WhatsApp provider for the same recipient more than once. The
  notifier never hands a notification to a channel twice, not even one it may have delivered (a
  stale claim moves on to the next channel), so every repeat counts.
- **unexpired_offers**: offers past their deadline (by the end of the run, with a margin for the
  expiry timer) for which the dispatcher recorded no outcome on `dispatch-log` (accepted, declined,
  expired or withdrawn).
- **resume_s**: after the fault, for each partition of `incidents` the first incident posted on it and
  the time of its first decision; the largest of those waits (None: some partition never resumed).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ENDS = {"offer.declined", "offer.expired", "offer.withdrawn"}


@dataclass
class Hold:
    offer_id: str
    incident_id: str
    volunteer_id: str
    made_at: float
    expires_at: float
    end_at: float | None = None
    answered: bool = False  # the dispatcher recorded it accepted, declined, expired or withdrawn
    accepted: bool = False  # the dispatcher recorded it accepted


@dataclass
class Log:
    """The facts of one run, by kind (times are unix seconds)."""

    decisions: dict[str, float] = field(default_factory=dict)  # incident → first dispatch-log event
    holds: dict[str, Hold] = field(default_factory=dict)  # offer id → hold
    handoffs: list[tuple[str, str, float]] = field(default_factory=list)  # (recipient, text, at)

    def add(
        self, event_type: str, at: float, payload: Mapping[str, object], *, on_dispatch_log: bool
    ) -> None:
        incident = str(payload.get("incident_id", ""))
        if on_dispatch_log and incident and (incident not in self.decisions or at < self.decisions[incident]):
            self.decisions[incident] = at
        offer = str(payload.get("offer_id", ""))
        if event_type == "offer.made":
            expires = payload.get("expires_at")
            deadline = float(expires) if isinstance(expires, int | float) else at
            self.holds.setdefault(offer, Hold(offer, incident, str(payload["volunteer_id"]), at, deadline))
            return
        hold = self.holds.get(offer)
        if hold is None:
            return
        ended = event_type in ENDS or (
            event_type == "assignment.status_changed" and payload.get("status") == "released"
        )
        if ended and (hold.end_at is None or at < hold.end_at):
            hold.end_at = at
        if not on_dispatch_log:  # an answer the dispatcher may yet turn away (too late, say)
            return
        if event_type in ENDS or event_type == "offer.accepted":
            hold.answered = True
        if event_type == "offer.accepted":
            hold.accepted = True


def _overlaps(holds: Iterable[Hold], start_at: float = float("-inf"), end_at: float = float("inf")) -> bool:
    """Whether a hold began, within [start_at, end_at), while an earlier one was still held."""
    ordered = sorted(holds, key=lambda h: h.made_at)
    busy_until = float("-inf")
    for hold in ordered:
        if hold.made_at < busy_until and start_at <= hold.made_at < end_at:
            return True
        end = hold.end_at if hold.end_at is not None else float("inf")
        busy_until = max(busy_until, end)
    return False


@dataclass(frozen=True)
class Window:
    """One scenario: the incidents it posted (id → sent at), when it began, its fault, its end (the
    next scenario's start), and the end of the whole run."""

    posted: Mapping[str, float]
    start_at: float
    fault_at: float
    end_at: float
    run_end_at: float


def count(
    log: Log, window: Window, partition_of: Mapping[str, int], expiry_margin_s: float = 5.0
) -> dict[str, object]:
    posted = set(window.posted)
    mine = [h for h in log.holds.values() if h.incident_id in posted]
    by_volunteer: dict[str, list[Hold]] = defaultdict(list)
    for hold in log.holds.values():  # a volunteer's holds on any incident of the run
        by_volunteer[hold.volunteer_id].append(hold)
    my_volunteers = {
        h.volunteer_id for h in log.holds.values() if window.start_at <= h.made_at < window.end_at
    }
    by_incident: dict[str, list[Hold]] = defaultdict(list)
    for hold in mine:
        by_incident[hold.incident_id].append(hold)
    first_after: dict[int, tuple[float, str]] = {}
    for incident, sent_at in window.posted.items():
        if sent_at < window.fault_at:
            continue
        p = partition_of[incident]
        if p not in first_after or sent_at < first_after[p][0]:
            first_after[p] = (sent_at, incident)
    waits = [log.decisions.get(incident) for _, incident in first_after.values()]
    resume_s = (
        round(max(at for at in waits if at is not None) - window.fault_at, 1)
        if waits and all(at is not None for at in waits)
        else None
    )
    return {
        "posted": len(posted),
        "lost": sum(1 for i in posted if i not in log.decisions),
        "double_booked": sum(
            1 for v in my_volunteers if _overlaps(by_volunteer[v], window.start_at, window.end_at)
        ),
        "overfilled": sum(
            1 for hs in by_incident.values() if _overlaps(hs) or sum(h.accepted for h in hs) > 1
        ),
        "unexpired_offers": sum(
            1 for h in mine if not h.answered and h.expires_at < window.run_end_at - expiry_margin_s
        ),
        "duplicate_handoffs": duplicate_handoffs(log.handoffs, window.start_at, window.end_at),
        "resume_s": resume_s,
    }


def handoff_key(body: Mapping[str, object]) -> str:
    """What makes two WhatsApp Cloud API requests the same hand-off, besides the recipient: the
    notification id the notifier puts in `biz_opaque_callback_data`, or else the whole message."""
    notification = body.get("biz_opaque_callback_data")
    if isinstance(notification, str) and notification:
        return notification
    return json.dumps({k: v for k, v in body.items() if k != "to"}, sort_keys=True)


def duplicate_handoffs(handoffs: Iterable[tuple[str, str, float]], start_at: float, end_at: float) -> int:
    """Hand-offs in [start_at, end_at) of a message (recipient and `handoff_key`) handed off before."""
    seen: set[tuple[str, str]] = set()
    duplicates = 0
    for recipient, text, at in sorted(handoffs, key=lambda h: h[2]):
        if (recipient, text) in seen and start_at <= at < end_at:
            duplicates += 1
        seen.add((recipient, text))
    return duplicates
