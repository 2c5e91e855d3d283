"""Find and reserve candidates for one need (rules 2–4): widening rings, eligibility, rank, reserve.

Each ring is one `GEOSEARCH … BYRADIUS r km ASC COUNT n` on the geo key of the need's unit and skill,
which holds only available volunteers, so the work per search stays bounded by COUNT and the ring
size, not the roster size. Reservation is one Lua script per volunteer (`reserve.lua`); losing a race
to another worker just moves on to the next candidate.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from services.dispatcher.commands import CandidatesFound, FindCandidates, Reservation
from services.dispatcher.ranking import ineligibility, rank
from services.dispatcher.roster import Roster, parse_time
from services.dispatcher.runcards import RunCards

log = logging.getLogger(__name__)

MAX_COUNT = 1024
"""Never ask one ring for more than this many volunteers: beyond it, widen instead."""


async def find_and_reserve(
    roster: Roster, command: FindCandidates, now: datetime, *, runcards: RunCards, max_radius_km: float
) -> CandidatesFound:
    need = command.need
    pending = list(command.offer_ids)
    reservations: list[Reservation] = []
    seen: set[str] = set(command.exclude)

    # A redelivered event meets the reservations it already made under the same offer ids.
    reused = pending if await roster.redis.exists(*(roster.keys.offer(o) for o in pending)) else []
    for offer_id in list(reused):
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

    skipped: Counter[str] = Counter()
    examined = 0
    radius = 0.0
    for radius in runcards.rings(max_radius_km):
        if not pending:
            break
        count = min(2 * len(pending) + 6, MAX_COUNT)
        while pending:
            candidates, found_in_ring = await roster.nearest(
                need.unit, need.skill, command.location, radius, count=count, skip=sorted(seen)
            )
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
            for candidate in rank(eligible, now, runcards.distance_resolution_km):
                if not pending:
                    break
                offer_id = pending[0]
                if await roster.reserve(
                    candidate.volunteer_id, offer_id, command.incident_id, command.expires_at, now
                ):
                    pending.pop(0)
                    reservations.append(
                        Reservation(
                            offer_id,
                            candidate.volunteer_id,
                            candidate.name,
                            candidate.distance_km,
                            command.expires_at,
                        )
                    )
                else:
                    skipped["taken by another incident"] += 1
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
