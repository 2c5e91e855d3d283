"""Benchmark of the reports (issue 20): a month with 2,000 incidents, with 130 and with 100,000
volunteers in the roster; seconds per report through the real HTTP endpoint.

    .venv/bin/python -m bench.reports [--incidents 2000] [--rosters 130,100000] [--repeat 5]
                                      [--kafka] [--out bench/reports.json]

For each roster: a synthetic month of events (incidents spread over November 2026, 1–4 needs each,
offers answered yes 70 % / no 15 % / not at all 15 %, en route, on scene, released, ~5 % cancelled)
is folded into a report store (the fold's rate is reported), a gateway is started in this process on
that store (port 17510, its projection off), and each report is fetched `--repeat` times as
JSON and as CSV: the median and the slowest answer are reported. With `--kafka` the month is also
produced onto fresh topics and a second store rebuilt from them by the real projection (rebuild time).
Nothing is asserted: the numbers go to the README.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bench.machine import REPO, cpu_gauge_s, git_commit, load_average
from schemas import reference
from schemas.times import WIB
from services.common.config import Settings
from services.gateway.reports.events import ReportEvent, encode
from services.gateway.reports.store import ReportStore

PORT = 17510
COORDINATOR = {"Authorization": "Bearer dev-coordinator-key"}
MONTH_START = datetime(2026, 11, 1, tzinfo=WIB).timestamp()
DAY = 86400.0
UNITS = ("tagana", "tagana", "tagana", "trc", "karang_taruna", "psm")
TYPES = ("flood", "flood", "fire", "whirlwind", "extreme_weather", "social_emergency", "landslide")
SEVERITIES = ("minor", "moderate", "severe", "extreme")


class Month:
    def __init__(self, incidents: int, volunteers: int, seed: int = 20) -> None:
        self.rng = random.Random(seed)
        self.events: list[ReportEvent] = []
        self.n = 0
        self.kelurahan = list(reference.all_kelurahan().values())
        self.volunteers = volunteers
        for k in range(volunteers):
            unit = UNITS[k % len(UNITS)]
            self.add(
                "volunteers",
                "volunteer.registered",
                MONTH_START - 30 * DAY,
                {"profile": self.profile(k, unit)},
            )
        for k in range(incidents):
            self.incident(k)

    def add(self, topic: str, kind: str, at: float, payload: dict[str, Any]) -> None:
        self.n += 1
        self.events.append(ReportEvent(topic, f"b{self.n:08d}", kind, at, payload))

    def profile(self, k: int, unit: str) -> dict[str, Any]:
        kel = self.kelurahan[k % len(self.kelurahan)]
        return {
            "volunteer_id": f"V-{k:06d}",
            "name": f"Relawan {k:06d}",
            "phone": f"+62812{k:08d}",
            "unit": unit,
            "skills": ["evacuation"],
            "home_kelurahan_code": kel.code,
            "channels": [{"type": "outbox", "address": f"V-{k:06d}"}],
            "on_duty": True,
        }

    def incident(self, k: int) -> None:
        rng = self.rng
        iid = f"INC-B{k:06d}"
        reported = MONTH_START + rng.uniform(0, 29.5 * DAY)
        kel = rng.choice(self.kelurahan)
        needs = [(rng.choice(UNITS), None, rng.randint(1, 3)) for _ in range(rng.randint(1, 4))]
        self.add(
            "incidents",
            "incident.reported",
            reported,
            {
                "incident_id": iid,
                "type": rng.choice(TYPES),
                "severity": rng.choice(SEVERITIES),
                "title": f"Kejadian {k}",
                "location": {"lat": kel.lat, "lon": kel.lon},
                "kelurahan_code": kel.code,
                "needs": [{"unit": u, "skill": s, "count": c} for u, s, c in needs],
            },
        )
        self.add(
            "dispatch-log",
            "incident.status_changed",
            reported + 0.01,
            {"incident_id": iid, "status": "dispatching"},
        )
        cancelled = rng.random() < 0.05
        seq, last_fill, ends = 0, reported, [reported]
        for index, (unit, _, count) in enumerate(needs):
            for _ in range(count):
                at = reported + rng.uniform(2, 40)
                for _try in range(4):
                    seq += 1
                    oid, vid = f"of-{iid}-{seq}", f"V-{rng.randrange(self.volunteers):06d}"
                    ids = {"offer_id": oid, "incident_id": iid, "volunteer_id": vid}
                    self.add(
                        "dispatch-log",
                        "offer.made",
                        at,
                        {
                            **ids,
                            "need_index": index,
                            "unit": unit,
                            "distance_km": 2.0,
                            "expires_at": "2026-12-01T00:00:00+07:00",
                        },
                    )
                    roll = rng.random()
                    if roll < 0.7:
                        accepted = at + rng.uniform(10, 170)
                        self.add("responses", "offer.accepted", accepted - 0.05, {**ids, "via": "link"})
                        self.add("dispatch-log", "offer.accepted", accepted, {**ids, "via": "link"})
                        en_route = accepted + rng.uniform(60, 600)
                        on_scene = en_route + rng.uniform(300, 1800)
                        self.add(
                            "dispatch-log",
                            "assignment.status_changed",
                            en_route,
                            {**ids, "status": "en_route"},
                        )
                        self.add(
                            "dispatch-log",
                            "assignment.status_changed",
                            on_scene,
                            {**ids, "status": "on_scene"},
                        )
                        if rng.random() < 0.9:
                            released = on_scene + rng.uniform(3600, 6 * 3600)
                            self.add(
                                "dispatch-log",
                                "assignment.status_changed",
                                released,
                                {**ids, "status": "released"},
                            )
                            ends.append(released)
                        last_fill = max(last_fill, accepted)
                        break
                    if roll < 0.85:
                        self.add(
                            "dispatch-log", "offer.declined", at + rng.uniform(5, 100), {**ids, "via": "link"}
                        )
                        at += 60
                    else:
                        self.add("dispatch-log", "offer.expired", at + 180, ids)
                        at += 181
        self.add(
            "dispatch-log", "incident.status_changed", last_fill, {"incident_id": iid, "status": "staffed"}
        )
        end = max(ends) + 1800
        self.add(
            "dispatch-log",
            "incident.status_changed",
            end,
            {"incident_id": iid, "status": "cancelled" if cancelled else "closed"},
        )


def fold(events: list[ReportEvent], path: Path) -> float:
    store = ReportStore(path)
    started = time.perf_counter()
    for k in range(0, len(events), 2000):
        store.apply(events[k : k + 2000], {("dispatch-log", 0): k + 2000})
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed


async def serve(settings: Settings) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    from services.gateway.app import create_app

    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=PORT, log_level="error", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    return server, task


async def timed(client: httpx.AsyncClient, path: str, params: dict[str, str], repeat: int) -> dict[str, Any]:
    samples, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        answer = await client.get(path, params=params, headers=COORDINATOR)
        samples.append(time.perf_counter() - started)
        answer.raise_for_status()
        size = len(answer.content)
    return {"median_s": round(statistics.median(samples), 3), "max_s": round(max(samples), 3), "bytes": size}


async def measure(month: Month, repeat: int, workdir: Path) -> dict[str, Any]:
    db = workdir / f"reports-{month.volunteers}.sqlite3"
    fold_s = fold(month.events, db)
    settings = Settings(
        env="test",
        http_port=PORT,
        topic_prefix=f"benchrpt-{uuid.uuid4().hex[:8]}.",  # no topics: the store is served as folded
        redis_prefix="benchrpt:",
        reports_db=str(db),
        reports_projection=False,  # the folded store is served as it is
    )
    server, task = await serve(settings)
    busiest = max(
        {
            datetime.fromtimestamp(e.at, WIB).date()
            for e in month.events
            if e.event_type == "incident.reported"
        },
        key=lambda d: sum(
            1
            for e in month.events
            if e.event_type == "incident.reported" and datetime.fromtimestamp(e.at, WIB).date() == d
        ),
    )
    one = next(e for e in month.events if e.payload.get("incident_id") == "INC-B000001")
    one_day = datetime.fromtimestamp(one.at, WIB).date().isoformat()
    results: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", timeout=120) as client:
            cases = {
                "duty": ("/api/v1/reports/duty", {"month": "2026-11"}),
                "response_times": (
                    "/api/v1/reports/response-times",
                    {"from": "2026-11-01", "to": "2026-11-30"},
                ),
                "daily": ("/api/v1/reports/daily", {"date": busiest.isoformat()}),
                "daily_one_incident": (
                    "/api/v1/reports/daily",
                    {"date": one_day, "incident_id": "INC-B000001"},
                ),
            }
            for name, (path, params) in cases.items():
                results[name] = await timed(client, path, params, repeat)
                results[name + "_csv"] = await timed(client, path, {**params, "format": "csv"}, repeat)
            duty = (
                await client.get("/api/v1/reports/duty", params={"month": "2026-11"}, headers=COORDINATOR)
            ).json()
    finally:
        server.should_exit = True
        await task
    return {
        "volunteers_in_roster": month.volunteers,
        "events": len(month.events),
        "offers": sum(1 for e in month.events if e.event_type == "offer.made"),
        "volunteers_in_duty_report": len(duty["volunteers"]),
        "fold_s": round(fold_s, 2),
        "fold_events_per_s": round(len(month.events) / fold_s),
        "store_mb": round(db.stat().st_size / 2**20, 1),
        "reports": results,
    }


async def rebuild_from_kafka(month: Month, workdir: Path) -> dict[str, Any]:
    """The month produced onto fresh topics; the real projection rebuilds a store from them."""
    from aiokafka import AIOKafkaProducer

    from services.common.topics import create_topics, delete_topics
    from services.gateway.reports.projection import ReportProjection

    prefix = f"benchrpt-{uuid.uuid4().hex[:8]}."
    bootstrap = Settings().kafka_bootstrap
    await create_topics(bootstrap, prefix)
    try:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=262144)
        await producer.start()
        try:
            pending = [
                await producer.send(
                    prefix + e.topic,
                    encode(e),
                    key=(e.payload.get("incident_id") or e.payload["profile"]["volunteer_id"]).encode(),
                )
                for e in month.events
            ]
            await asyncio.gather(*pending)
        finally:
            await producer.stop()
        store = ReportStore(workdir / "rebuilt.sqlite3")
        projection = ReportProjection(store, bootstrap, prefix)
        started = time.perf_counter()
        projection.start()
        deadline = started + 600
        progress = projection.progress
        while not progress.caught_up or progress.records < sum(progress.end_offsets.values()):
            if time.perf_counter() > deadline:
                raise RuntimeError(f"the rebuild did not finish in 600 s: {projection.progress}")
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started
        await projection.stop()
        rows = store.counts()
        store.close()
        return {
            "produced": len(month.events),
            "records_in_topics": sum(progress.end_offsets.values()),
            "records": progress.records,
            "rebuild_s": round(elapsed, 2),
            "records_per_s": round(progress.records / elapsed),
            "rows": rows,
        }
    finally:
        await delete_topics(bootstrap, prefix)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--rosters", default="130,100000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--kafka", action="store_true", help="also rebuild a store from the topics")
    parser.add_argument("--out", default=str(REPO / "bench" / "reports.json"))
    args = parser.parse_args()
    report: dict[str, Any] = {
        "started_at": datetime.now(WIB).isoformat(timespec="seconds"),
        "git": git_commit(),
        "load_average_start": load_average(),
        "cpu_gauge_s_start": cpu_gauge_s(),
        "incidents": args.incidents,
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="sigap-bench-reports-") as tmp:
        for roster in (int(r) for r in args.rosters.split(",")):
            month = Month(args.incidents, roster)
            run = await measure(month, args.repeat, Path(tmp))
            if args.kafka:
                run["kafka_rebuild"] = await rebuild_from_kafka(month, Path(tmp))
            report["runs"].append(run)
            print(json.dumps(run, indent=1))
    report["load_average_end"] = load_average()
    report["cpu_gauge_s_end"] = cpu_gauge_s()
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(markdown(report))


COLUMNS = (
    ("duty", "duty (s)"),
    ("duty_csv", "duty CSV (s)"),
    ("response_times", "response times (s)"),
    ("response_times_csv", "response times CSV (s)"),
    ("daily", "daily, busiest day (s)"),
    ("daily_one_incident", "daily, one incident (s)"),
)


def markdown(report: dict[str, Any]) -> str:
    """Median / slowest seconds per report, one row per roster."""
    head = ["Roster", "Events", "Offers", "Volunteers in duty report", *(title for _, title in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for run in report["runs"]:
        r = run["reports"]
        cells = [
            f"{run['volunteers_in_roster']:,}",
            f"{run['events']:,}",
            f"{run['offers']:,}",
            f"{run['volunteers_in_duty_report']:,}",
            *(f"{r[key]['median_s']} / {r[key]['max_s']}" for key, _ in COLUMNS),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    asyncio.run(main())
