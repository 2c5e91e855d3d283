"""The dispatcher's matching step alone: `services.dispatcher.matching.find_and_reserve` (ring search,
eligibility, ranking and the atomic Lua reservation) called in a loop against the roster the dispatcher
materialised in Redis, each reservation released again (`Roster.free`) so the roster never runs out.

Runs after the services have stopped, so it measures the step itself rather than the step competing with
the rest of the pipeline; the pipeline's figures are the fixed-rate stages.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import time
import uuid
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis

from bench import roster as bench_roster
from bench.stats import summarise_ms
from schemas.envelope import make_event
from schemas.events import Need, VolunteerRegistered
from schemas.fields import GeoPoint, utcnow
from schemas.reference import all_kelurahan
from schemas.vocabulary import AssignmentStatus, Unit
from services.common.readmodels import Keys
from services.dispatcher.commands import FindCandidates
from services.dispatcher.matching import find_and_reserve
from services.dispatcher.roster import Roster
from services.dispatcher.runcards import load_runcards
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.volunteers import apply_records


async def measure(
    redis: Redis,
    keys: Keys,
    *,
    iterations: int,
    seed: int = 11,
    rings_km: tuple[float, ...] | None = None,
) -> dict[str, Any]:
    own = DispatcherSettings()
    runcards = load_runcards(own.runcards_file)
    if rings_km is not None:
        runcards = dataclasses.replace(runcards, rings_km=rings_km)
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
        "rings_km": list(runcards.rings(own.max_radius_km)),
        **summary,
        "reserved": found,
        "examined_per_call": round(examined / max(iterations, 1), 1),
        "release": summarise_ms(free_s),
    }


async def _standalone(
    size: int, iterations: int, rings: list[tuple[float, ...] | None], redis_url: str
) -> Any:
    """Load a roster straight into Redis with the dispatcher's own batched feed, then measure the
    matching step with each ring configuration (None: the run-card file's)."""
    keys = Keys(f"bench:match{uuid.uuid4().hex[:6]}:")
    redis = Redis.from_url(redis_url, decode_responses=True)
    roster = Roster(redis, keys.prefix)
    try:
        batch: list[tuple[bytes | None, bytes | None]] = []
        for profile in bench_roster.generate(size):
            event = make_event(VolunteerRegistered(profile=profile), source="bench")
            batch.append((profile.volunteer_id.encode(), event.to_json()))
            if len(batch) == 2000:
                await apply_records(roster, batch, utcnow())
                batch = []
        if batch:
            await apply_records(roster, batch, utcnow())
        return [await measure(redis, keys, iterations=iterations, rings_km=r) for r in rings]
    finally:
        async for key in redis.scan_iter(match=keys.prefix + "*", count=5000):
            await redis.unlink(key)
        await redis.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.matching")
    parser.add_argument("--roster", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--rings", action="append", default=[], help="e.g. 0.25,0.5,1,2,5,10,20 (repeatable)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    rings: list[tuple[float, ...] | None] = [None]
    rings += [tuple(float(x) for x in r.split(",")) for r in args.rings]
    results = asyncio.run(_standalone(args.roster, args.iterations, rings, args.redis_url))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
