"""The dispatcher's matching step alone: `services.dispatcher.matching.find_and_reserve` (ring search,
eligibility, ranking and the atomic Lua reservation) called in a loop against the roster the dispatcher
materialised in Redis, each reservation released again (`Roster.free`) so the roster never runs out.

Runs after the services have stopped, so it measures the step itself rather than the step competing with
the rest of the pipeline; the pipeline's figures are the fixed-rate stages.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis

from bench.stats import summarise_ms
from schemas.events import Need
from schemas.fields import GeoPoint, utcnow
from schemas.reference import all_kelurahan
from schemas.vocabulary import AssignmentStatus, Unit
from services.common.readmodels import Keys
from services.dispatcher.commands import FindCandidates
from services.dispatcher.matching import find_and_reserve
from services.dispatcher.roster import Roster
from services.dispatcher.runcards import load_runcards
from services.dispatcher.settings import DispatcherSettings


async def measure(redis: Redis, keys: Keys, *, iterations: int, seed: int = 11) -> dict[str, Any]:
    own = DispatcherSettings()
    runcards = load_runcards(own.runcards_file)
    roster = Roster(redis, keys.prefix)
    rng = random.Random(seed)
    places = list(all_kelurahan().values())
    match_s: list[float] = []
    free_s: list[float] = []
    found = examined = 0
    for i in range(iterations):
        place = rng.choice(places)
        now = utcnow()
        command = FindCandidates(
            incident_id=f"BM-{i:06d}",
            need_index=0,
            need=Need(unit=Unit.TAGANA, count=1),
            location=GeoPoint(
                lat=place.lat + rng.uniform(-0.004, 0.004), lon=place.lon + rng.uniform(-0.004, 0.004)
            ),
            offer_ids=(f"BMO-{seed}-{i:06d}",),
            expires_at=now + timedelta(minutes=10),
        )
        started = time.perf_counter()
        result = await find_and_reserve(
            roster, command, now, runcards=runcards, max_radius_km=own.max_radius_km
        )
        match_s.append(time.perf_counter() - started)
        examined += result.examined
        for reservation in result.reservations:
            found += 1
            started = time.perf_counter()
            await roster.free(reservation.volunteer_id, reservation.offer_id, AssignmentStatus.WITHDRAWN, now)
            free_s.append(time.perf_counter() - started)
    summary = summarise_ms(match_s)
    return {
        "function": "services.dispatcher.matching.find_and_reserve",
        **summary,
        "reserved": found,
        "examined_per_call": round(examined / max(iterations, 1), 1),
        "release": summarise_ms(free_s),
    }
