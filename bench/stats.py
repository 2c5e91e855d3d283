"""Percentiles and small summaries of latency samples."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks; None when empty."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    rank = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    frac = rank - low
    return float(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * frac)


def summarise_ms(samples_s: Sequence[float]) -> dict[str, float | int | None]:
    """p50/p95/p99/max (milliseconds) and the count of latency samples given in seconds."""
    values = sorted(samples_s)
    out: dict[str, float | int | None] = {"n": len(values)}
    for name, q in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)):
        p = percentile(values, q)
        out[name] = None if p is None else round(p * 1000, 2)
    out["max_ms"] = round(values[-1] * 1000, 2) if values else None
    return out


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return round(numerator / denominator, 3)
