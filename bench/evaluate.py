"""Turning what a stage sent and what came out into numbers: latency percentiles, completion, backlog."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Protocol

from bench.load import Sends
from bench.stats import percentile, summarise_ms


class Arrival(Protocol):
    @property
    def stored_at(self) -> float: ...


async def wait_drain(sends: Sends, arrivals: Mapping[str, Arrival], timeout_s: float) -> float:
    """Wait until every sent incident has arrived (or `timeout_s`); return the seconds waited."""
    started = time.perf_counter()
    deadline = started + timeout_s
    while time.perf_counter() < deadline:
        if all(i in arrivals for i in sends.incidents):
            break
        await asyncio.sleep(0.1)
    return round(time.perf_counter() - started, 2)


def latencies(sends: Sends, arrivals: Mapping[str, Arrival], *, from_ack: bool = False) -> list[float]:
    out = []
    for incident_id, sent in sends.incidents.items():
        arrival = arrivals.get(incident_id)
        if arrival is None:
            continue
        start = sent.acked_at if from_ack and sent.acked_at is not None else sent.sent_at
        out.append(arrival.stored_at - start)
    return out


def stage_result(sends: Sends, arrivals: Mapping[str, Arrival]) -> dict[str, Any]:
    """The figures of one fixed-rate stage. Latency as issue 7 defines it: from the incident posted — the
    gateway's 202 — to the first offer handed to a channel (`p50_ms` … `p99_ms`); `from_post` also
    counts the HTTP request itself, from the moment it left the load generator."""
    from_post = summarise_ms(latencies(sends, arrivals))
    lat = summarise_ms(latencies(sends, arrivals, from_ack=True))
    acks = sorted(s.acked_at - s.sent_at for s in sends.incidents.values() if s.acked_at is not None)
    duration = max(sends.finished_at - sends.started_at, 1e-9)
    return {
        "scheduled": sends.scheduled,
        "sent": len(sends.incidents),
        "completed": int(from_post["n"] or 0),
        "p50_ms": lat["p50_ms"],
        "p95_ms": lat["p95_ms"],
        "p99_ms": lat["p99_ms"],
        "max_ms": lat["max_ms"],
        "from_post": {k: from_post[k] for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")},
        "ack_p50_ms": _ms(percentile(acks, 50)),
        "ack_p99_ms": _ms(percentile(acks, 99)),
        "achieved_send_rate_per_s": round(len(sends.incidents) / duration, 1),
        "sender_lag_max_ms": round(sends.lag_max_s * 1000, 1),
        "dropped": sends.dropped,
        "statuses": dict(sends.statuses),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def sustained_step(
    sends: Sends, arrivals: Mapping[str, Arrival], rate: float, *, grace_s: float = 2.0
) -> dict[str, Any]:
    """Did the system keep up with `rate`? Completed ≈ sent, completions during the stage kept pace with
    sends, and latency did not grow from the stage's first quarter to its last (a growing backlog makes
    the last incidents wait longer than the first)."""
    sent = len(sends.incidents)
    ordered = sorted(sends.incidents.items(), key=lambda item: item[1].sent_at)
    quarter = max(1, len(ordered) // 4)

    def pct_of(items: list[tuple[str, Any]], q: float) -> float | None:
        values = sorted(arrivals[i].stored_at - s.sent_at for i, s in items if i in arrivals)
        return _ms(percentile(values, q))

    first, last = ordered[:quarter], ordered[-quarter:]
    first_p99, last_p99 = pct_of(first, 99), pct_of(last, 99)
    first_p90, last_p90 = pct_of(first, 90), pct_of(last, 90)
    lat = summarise_ms(latencies(sends, arrivals))
    completed = int(lat["n"] or 0)
    in_time = sum(
        1 for i in sends.incidents if i in arrivals and arrivals[i].stored_at <= sends.finished_at + grace_s
    )
    checks = {
        "completed_ge_99pct": sent > 0 and completed >= 0.99 * sent,
        "kept_pace": sent > 0 and in_time >= 0.95 * sent,
        # a backlog that grows makes most of the last quarter late, not one straggler: compare p90s
        "latency_not_growing": first_p90 is not None
        and last_p90 is not None
        and last_p90 <= 2 * first_p90 + 1000
        and (last_p99 or 0) <= 10_000,
        "sender_on_time": sends.lag_max_s < 1.0,
    }
    return {
        "rate_per_s": rate,
        "duration_s": round(sends.finished_at - sends.started_at, 2),
        "sent": sent,
        "completed": completed,
        "completed_within_stage": in_time,
        "p50_ms": lat["p50_ms"],
        "p99_ms": lat["p99_ms"],
        "p99_first_quarter_ms": first_p99,
        "p99_last_quarter_ms": last_p99,
        "p90_first_quarter_ms": first_p90,
        "p90_last_quarter_ms": last_p90,
        "sender_lag_max_ms": round(sends.lag_max_s * 1000, 1),
        "checks": checks,
        "ok": all(checks.values()),
    }
