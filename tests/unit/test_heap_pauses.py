"""The garbage collector's pauses on /metrics (`services.common.heap`), and how the bench reads them."""

from __future__ import annotations

import gc

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from bench import metrics
from services.common.base_settings import CommonSettings
from services.common.heap import DEFAULT_THRESHOLDS, PAUSES, CollectorPauses, tune_collector, watch_collector


def test_every_collection_is_counted_and_timed_by_generation() -> None:
    pauses = CollectorPauses()
    gc.callbacks.append(pauses)
    try:
        garbage = [[i] for i in range(50_000)]
        del garbage
        gc.collect(1)
        gc.collect()
    finally:
        gc.callbacks.remove(pauses)
    assert pauses.collections[1] >= 1 and pauses.collections[2] >= 1
    assert pauses.seconds[2] > 0 and pauses.longest[2] <= pauses.seconds[2]
    assert all(longest <= total for longest, total in zip(pauses.longest, pauses.seconds, strict=True))


def test_one_watcher_per_process_exported_in_each_registry_asked() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    assert watch_collector(first) is watch_collector(first) is watch_collector(second) is PAUSES
    assert gc.callbacks.count(PAUSES) == 1
    gc.collect()
    text = generate_latest(second).decode()
    assert 'sigap_gc_collections_total{generation="2"}' in text
    assert 'sigap_gc_pause_seconds_total{generation="2"}' in text
    assert 'sigap_gc_pause_longest_seconds{generation="0"}' in text


def test_the_bench_keeps_each_services_collector_apart() -> None:
    def page(service: str, full: int, seconds: float) -> str:
        return (
            f'sigap_{service}_events_total{{topic="t",event_type="x"}} 1.0\n'
            f'sigap_gc_collections_total{{generation="2"}} {full}\n'
            f'sigap_gc_pause_seconds_total{{generation="2"}} {seconds}\n'
            f'sigap_gc_pause_longest_seconds{{generation="2"}} 0.25\n'
        )

    before = metrics.parse(page("dispatcher", 1, 0.5)) | metrics.parse(page("notifier", 4, 1.0))
    after = metrics.parse(page("dispatcher", 3, 0.9)) | metrics.parse(page("notifier", 4, 1.0))
    gc_part = metrics.difference(before, after, wall_s=2.0)["gc"]
    assert gc_part["dispatcher"] == {
        "pause_ms_per_s": 200.0,
        "collections": {"2": 2},
        "longest_ms": {"2": 250.0},
    }
    assert gc_part["notifier"]["pause_ms_per_s"] == 0.0 and gc_part["notifier"]["collections"] == {"2": 0}


def test_thresholds_come_from_the_environment_or_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    before = gc.get_threshold()
    try:
        monkeypatch.delenv("SIGAP_GC_THRESHOLDS", raising=False)
        assert tune_collector(CommonSettings().gc_thresholds) == DEFAULT_THRESHOLDS == gc.get_threshold()
        monkeypatch.setenv("SIGAP_GC_THRESHOLDS", "700,10,10")
        assert tune_collector(CommonSettings().gc_thresholds) == (700, 10, 10) == gc.get_threshold()
        for bad in ("700,10", "a,b,c", "0,10,10", "700,-1,10"):
            monkeypatch.setenv("SIGAP_GC_THRESHOLDS", bad)
            with pytest.raises(ValueError, match="SIGAP_GC_THRESHOLDS"):
                CommonSettings()  # refused when the settings are read, before any threshold is set
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)
