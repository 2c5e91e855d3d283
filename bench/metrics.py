"""Reading the services' own Prometheus metrics around a stage: how many events the dispatcher had in
flight and how long one event took inside it, and how late the notifier handed notifications over —
which tells a saturated worker from a slow path, and which service is the queue."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)

Snapshot = dict[str, float]

WANTED = (
    "sigap_dispatcher_event_seconds_sum",
    "sigap_dispatcher_event_seconds_count",
    "sigap_dispatcher_match_seconds_sum",
    "sigap_dispatcher_match_seconds_count",
    "sigap_dispatcher_events_total",
    "sigap_dispatcher_notifications_total",
    "sigap_dispatcher_understaffed_total",
    "sigap_dispatcher_errors_total",
    "sigap_notifier_notifications_total",
    "sigap_notifier_provider_call_seconds_sum",
    "sigap_notifier_provider_call_seconds_count",
    "sigap_notifier_handoff_seconds_sum",
    "sigap_notifier_handoff_seconds_count",
)


GC = ("sigap_gc_collections_total", "sigap_gc_pause_seconds_total", "sigap_gc_pause_longest_seconds")
"""`services.common.heap.CollectorPauses`: the same names in every service, kept apart by service."""


def parse(text: str) -> Snapshot:
    """Prometheus text → metric name → value summed over its labels (only the names in WANTED); the
    garbage collector's as `gc|{service}|{name}|{generation}`."""
    out: Snapshot = {}
    service = next((s for s in ("dispatcher", "notifier", "gateway") if f"sigap_{s}_" in text), "other")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        name, _, labels = name_part.partition("{")
        if name in GC:
            with contextlib.suppress(ValueError):
                out[f"gc|{service}|{name}|{_label(labels, 'generation')}"] = float(value)
            continue
        if name not in WANTED:
            continue
        try:
            number = float(value)
        except ValueError:
            continue
        out[name] = out.get(name, 0.0) + number
        if name == "sigap_dispatcher_events_total":
            event_type = _label(labels, "event_type")
            key = f"{name}|{event_type}"
            out[key] = out.get(key, 0.0) + number
    return out


def _label(labels: str, wanted: str) -> str:
    for part in labels.rstrip("}").split(","):
        name, _, value = part.partition("=")
        if name.strip() == wanted:
            return value.strip().strip('"')
    return ""


async def scrape(urls: list[str]) -> Snapshot:
    merged: Snapshot = {}
    async with httpx.AsyncClient(timeout=5.0) as client:
        for url in urls:
            try:
                response = await client.get(url)
                merged |= parse(response.text)
            except httpx.HTTPError as exc:
                log.warning("could not read %s: %s", url, exc)
    return merged


async def scrape_sum(urls: list[str]) -> Snapshot:
    """Like `scrape`, but each metric summed over the URLs (several workers of one service)."""
    total: Snapshot = {}
    for url in urls:
        for name, value in (await scrape([url])).items():
            total[name] = total.get(name, 0.0) + value
    return total


def _mean_ms(delta: Snapshot, name: str) -> float | None:
    count = delta.get(f"{name}_count", 0.0)
    return round(1000 * delta.get(f"{name}_sum", 0.0) / count, 2) if count else None


def difference(before: Snapshot, after: Snapshot, wall_s: float) -> dict[str, Any]:
    """What happened between two snapshots taken `wall_s` apart."""
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    busy = delta.get("sigap_dispatcher_event_seconds_sum", 0.0)
    by_type = {
        k.split("|", 1)[1]: int(v)
        for k, v in delta.items()
        if k.startswith("sigap_dispatcher_events_total|") and v
    }
    return {
        "dispatcher_events": int(delta.get("sigap_dispatcher_events_total", 0)),
        "dispatcher_events_by_type": by_type,
        "dispatcher_event_ms_mean": _mean_ms(delta, "sigap_dispatcher_event_seconds"),
        "dispatcher_match_ms_mean": _mean_ms(delta, "sigap_dispatcher_match_seconds"),
        # seconds spent handling events per second of wall time: the agent's busy share while it handled
        # one event at a time, the mean number of events in flight since it handles incidents in lanes
        "dispatcher_events_in_flight_mean": round(busy / wall_s, 3) if wall_s > 0 else None,
        "dispatcher_understaffed": int(delta.get("sigap_dispatcher_understaffed_total", 0)),
        "dispatcher_errors": int(delta.get("sigap_dispatcher_errors_total", 0)),
        "notifier_notifications": int(delta.get("sigap_notifier_notifications_total", 0)),
        "notifier_provider_ms_mean": _mean_ms(delta, "sigap_notifier_provider_call_seconds"),
        "notifier_handoff_ms_mean": _mean_ms(delta, "sigap_notifier_handoff_seconds"),
        "gc": collector(delta, after, wall_s),
    }


def collector(delta: Snapshot, after: Snapshot, wall_s: float) -> dict[str, Any]:
    """Per service: how long the garbage collector paused it per second of wall time, how many
    collections of each generation ran, and the longest pause of each since the service started."""
    out: dict[str, Any] = {}
    for key, value in delta.items():
        if not key.startswith("gc|"):
            continue
        _, service, name, generation = key.split("|")
        entry = out.setdefault(service, {"pause_ms_per_s": 0.0, "collections": {}, "longest_ms": {}})
        if name == "sigap_gc_pause_seconds_total" and wall_s > 0:
            entry["pause_ms_per_s"] = round(entry["pause_ms_per_s"] + 1000 * value / wall_s, 2)
        elif name == "sigap_gc_collections_total":
            entry["collections"][generation] = int(value)
        elif name == "sigap_gc_pause_longest_seconds":
            entry["longest_ms"][generation] = round(1000 * after[key], 1)
    return out
