"""The garbage collector of a long-running service.

CPython's full (generation 2) collection walks every tracked object, and a service's heap is mostly
what it built at start: imported modules, pydantic and faust internals, the app. In the dispatcher's
hot path a full collection pauses every event in flight (measured in `bench/PROFILE.md` §7), which
is what a p99 is made of. `gc.freeze()` moves everything alive at that moment into a permanent
generation that collections skip; the objects made while handling events are collected as before
(young generations untouched, so no pause grows).

`tune_collector` sets the thresholds (see `DEFAULT_THRESHOLDS`), and `CollectorPauses` measures what
the collector costs a running service: every collection's pause, by generation, on `/metrics`
(`sigap_gc_collections_total`, `sigap_gc_pause_seconds_total`, `sigap_gc_pause_longest_seconds`)."""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.common.base_settings import DEFAULT_GC_THRESHOLDS

log = logging.getLogger(__name__)


def freeze_startup_heap() -> int:
    """Collect once, then exempt every surviving object from future collections. Returns how many
    objects were frozen. Call when a service has built what it keeps for its whole life."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("heap: %d startup objects frozen out of garbage collection", frozen)
    return frozen


DEFAULT_THRESHOLDS = DEFAULT_GC_THRESHOLDS
"""CPython's young collections, with full ones ten times rarer than CPython's (700, 10, 10): the
objects of a batch in flight outlive a few young collections, get promoted, and every promotion brings
the next full collection of the whole heap nearer. Why these and not others — the drain, the
collector's cost and the pauses of each setting, measured — is in `bench/PROFILE.md` §7."""


def tune_collector(thresholds: tuple[int, int, int] | None = None) -> tuple[int, int, int]:
    """Set the collector's thresholds (a service passes its settings' `gc_thresholds`; None reads
    `SIGAP_GC_THRESHOLDS` through the shared settings, which refuse a bad value at start, naming the
    variable); returns them."""
    if thresholds is None:
        from services.common.base_settings import common_settings

        thresholds = common_settings().gc_thresholds
    gc.set_threshold(*thresholds)
    return thresholds


class CollectorPauses(Collector):
    """Counts and times the collector's pauses from `gc.callbacks`, in plain numbers: a collection can
    start inside any allocation — also inside a metric's update, holding that metric's lock — so the
    callback touches no metric and no lock; the numbers become metrics when scraped."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        generation = info["generation"]
        self.collections[generation] += 1
        self.seconds[generation] += took
        self.longest[generation] = max(self.longest[generation], took)

    def collect(self) -> Iterator[Metric]:
        count = CounterMetricFamily(
            "sigap_gc_collections", "Garbage collections by generation", labels=["generation"]
        )
        paused = CounterMetricFamily(
            "sigap_gc_pause_seconds", "Time the garbage collector paused the process", labels=["generation"]
        )
        longest = GaugeMetricFamily(
            "sigap_gc_pause_longest_seconds", "The longest pause of each generation", labels=["generation"]
        )
        for generation in range(3):
            label = [str(generation)]
            count.add_metric(label, self.collections[generation])
            paused.add_metric(label, self.seconds[generation])
            longest.add_metric(label, self.longest[generation])
        yield from (count, paused, longest)


PAUSES = CollectorPauses()
"""The process's one watcher (a callback is added at most once)."""


def watch_collector(registry: CollectorRegistry = REGISTRY) -> CollectorPauses:
    """Time the collector's pauses (once per process) and export them in `registry`."""
    if PAUSES not in gc.callbacks:
        gc.callbacks.append(PAUSES)
    with contextlib.suppress(ValueError):  # already there: the same registry asked twice
        registry.register(PAUSES)
    return PAUSES
