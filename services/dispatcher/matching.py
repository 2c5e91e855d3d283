"""Find and reserve candidates for one need (rules 2–4): widening rings, eligibility, rank, reserve.

Each ring is three round trips. `search.lua`: `GEOSEARCH … BYRADIUS r km ASC COUNT n` on the geo key
of the need's unit and skill, which holds only available volunteers; the first ring is searched from a
small disc (`[matching] min_step_km`) outwards, doubling, until a disc holds COUNT volunteers, so the
work per search stays bounded by COUNT and the density of the roster, not by its size. Then the
volunteers' hashes, read in one pipeline. Then `ranking.py` — the one place the eligibility and order
rules (DESIGN §3, rules 2 and 3) live — filters and ranks them here, and `reserve_ranked.lua`
reserves, in that order, the first ones still free for the open offers in one atomic script: one taken
by another incident or worker since the read is passed over, never double-booked (rule 4). Three trips,
not one, because a script may touch only the keys it declares, and a volunteer's keys are known only
once the search has found them (bench/PROFILE.md §10).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from schemas.times import parse_time
from services.dispatcher.commands import CandidatesFound, FindCandidates, Reservation
from services.dispatcher.ranking import Candidate, ineligibility, rank
from services.dispatcher.roster import Ring, Roster
from services.dispatcher.runcards import RunCards

log = logging.getLogger(__name__)

MAX_COUNT = 1024
"""Never ask one ring for more than this many volunteers: beyond it, widen instead."""


class Unsearched(Enum):
    """Why `find_and_reserve` searched nothing (a result, not an exception: this is the hot path)."""

    STATE_EXISTS = "state_exists"
    """the incident's state, which the caller had not loaded (`unless_state`), exists: load it"""


async def find_and_reserve(
    roster: Roster,
    command: FindCandidates,
    now: datetime,
    *,
    runcards: RunCards,
    max_radius_km: float,
    profiles: dict[str, str] | None = None,
    unless_state: str | None = None,
) -> CandidatesFound | Unsearched:
    """Search and reserve for one need. The profile JSON of each volunteer reserved goes into
    `profiles` when given (read with the search, so telling them costs no extra round trip).
    `unless_state`: the incident's state key, when the caller has not loaded the state; the first
    search checks that it does not exist (answering `Unsearched.STATE_EXISTS`, before anything
    changed, if it does)."""
    need = command.need
    pending = list(command.offer_ids)
    reservations: list[Reservation] = []
    seen: set[str] = set(command.exclude)
    rings = runcards.rings(max_radius_km)
    count = min(2 * len(pending) + 6, MAX_COUNT)

    # The first ring's search also tells whether a redelivered event already reserved under these
    # offer ids; if so, it searched nothing, and those reservations are taken up first.
    first: Ring | None = None
    if pending:
        first = await roster.nearest(
            need.unit,
            need.skill,
            command.location,
            rings[0],
            count=count,
            skip=sorted(seen),
            from_km=runcards.min_step_km,
            unless_offered=pending,
            unless_state=unless_state,
        )
    if first is not None and first.state_exists:
        return Unsearched.STATE_EXISTS
    if first is not None and first.offers_exist:
        await _take_up_reservations(roster, command, pending, reservations, seen)
        first = None

    skipped: Counter[str] = Counter()
    examined = 0
    radius = 0.0
    for radius in rings:
        if not pending:
            break
        count = min(2 * len(pending) + 6, MAX_COUNT)
        # a later ring follows one that held too few: no smaller disc of it can hold enough
        from_km = runcards.min_step_km if radius == rings[0] else radius
        while pending:
            if first is not None:
                ring, first = first, None
            else:
                ring = await roster.nearest(
                    need.unit,
                    need.skill,
                    command.location,
                    radius,
                    count=count,
                    skip=sorted(seen),
                    from_km=from_km,
                )
            candidates, found_in_ring = ring.candidates, ring.found
            seen.update(c.volunteer_id for c in candidates)
            examined += len(candidates)
            eligible = []
            for candidate in candidates:
                reason = ineligibility(
                    candidate,
                    need,
                    now,
                    certification_required=runcards.certification_required,
                    excluded=command.exclude,
                )
                if reason is None:
                    eligible.append(candidate)
                else:
                    skipped[reason.split(" (")[0]] += 1
            ranked = rank(eligible, now, runcards.distance_resolution_km)
            wanted = _Wanted(command, pending, reservations, profiles, now)
            taken = await _reserve_ranked(roster, ring, ranked, wanted)
            if taken:
                skipped["taken by another incident"] += taken
            if found_in_ring < count or count >= MAX_COUNT:
                break  # this ring is exhausted (or we looked at enough of it): widen
            count = min(count * 4, MAX_COUNT)

    if pending:
        log.info(
            "incident %s need %d (%s/%s): %d of %d found within %.0f km (%d examined, skipped %s)",
            command.incident_id,
            command.need_index,
            need.unit,
            need.skill,
            len(reservations),
            len(command.offer_ids),
            radius,
            examined,
            dict(skipped),
        )
    return CandidatesFound(
        need_index=command.need_index,
        reservations=tuple(reservations),
        exhausted=bool(pending),
        searched_km=radius,
        examined=examined,
        skipped=dict(skipped),
    )


@dataclass(frozen=True, slots=True)
class _Wanted:
    """One need's search in progress: the offers still open (`pending`, taken from the front) and
    what was reserved so far."""

    command: FindCandidates
    pending: list[str]
    reservations: list[Reservation]
    profiles: dict[str, str] | None
    now: datetime

    def take(self, offer_id: str, candidate: Candidate, ring: Ring) -> None:
        """Record `candidate` reserved under `offer_id` (the front of `pending`), with the profile the
        search read for them."""
        self.pending.remove(offer_id)
        self.reservations.append(_reservation(offer_id, candidate, self.command))
        if self.profiles is not None and candidate.volunteer_id in ring.profiles:
            self.profiles[candidate.volunteer_id] = ring.profiles[candidate.volunteer_id]


def _reservation(offer_id: str, candidate: Candidate, command: FindCandidates) -> Reservation:
    return Reservation(
        offer_id, candidate.volunteer_id, candidate.name, candidate.distance_km, command.expires_at
    )


async def _reserve_ranked(roster: Roster, ring: Ring, ranked: list[Candidate], wanted: _Wanted) -> int:
    """Reserve for the open offers, in order, the first of the ranked candidates still free (one
    script); how many of those walked past were taken meanwhile."""
    pending = wanted.pending
    if not pending or not ranked:
        return 0
    reserved = await roster.reserve_ranked(
        ranked,
        ring,
        offer_ids=tuple(pending),
        incident_id=wanted.command.incident_id,
        expires_at=wanted.command.expires_at,
        now=wanted.now,
    )
    by_id = {c.volunteer_id: c for c in ranked}
    for volunteer_id in reserved:
        wanted.take(pending[0], by_id[volunteer_id], ring)
    # the script walks the ranked list until the offers are filled: all of it when some stay open
    walked = len(ranked) if pending else [c.volunteer_id for c in ranked].index(reserved[-1]) + 1
    return walked - len(reserved)


async def _take_up_reservations(
    roster: Roster,
    command: FindCandidates,
    pending: list[str],
    reservations: list[Reservation],
    seen: set[str],
) -> None:
    """A redelivered event meets the reservations it already made under the same offer ids: keep each
    that still stands (moving it from `pending` to `reservations`)."""
    for offer_id in list(pending):
        offer = await roster.offer(offer_id)
        volunteer_id = offer["volunteer_id"]
        if offer["status"] != "offered" or offer["incident_id"] != command.incident_id or not volunteer_id:
            continue
        hold = await roster.hold(volunteer_id)
        if hold.offer_id != offer_id:
            continue
        found = await roster.candidates([volunteer_id], command.location)
        name = found[0].name if found else volunteer_id
        distance = found[0].distance_km if found else 0.0
        reservations.append(
            Reservation(offer_id, volunteer_id, name, distance, parse_time(offer["expires_at"]))
        )
        seen.add(volunteer_id)
        pending.remove(offer_id)
