"""The backlog-drain arithmetic of `bench.capacity` (no servers: the figures come from samples)."""

from __future__ import annotations

import json

from bench.capacity import backlog, drain_rates
from schemas.envelope import decode_event


def test_rate_is_taken_over_the_middle_of_the_drain() -> None:
    # 1,000 incidents = 2,000 events; a slow start (100 events in the first 2 s), then 400 events/s
    samples = (
        [(0.0, 0.0), (2.0, 100.0)] + [(2.0 + n, 100.0 + 400.0 * n) for n in range(1, 5)] + [(6.75, 2000.0)]
    )
    rates = drain_rates(samples, 2000, 2)
    # 10 % (200 events) at 2.25 s, 90 % (1,800) at 6.25 s: 800 incidents in 4 s
    assert rates["incidents_per_s"] == 200.0
    assert rates["drain_s"] == 6.75
    assert rates["incidents_per_s_whole_drain"] == round(1000 / 6.75, 1)


def test_an_unfinished_drain_has_no_overall_rate() -> None:
    rates = drain_rates([(0.0, 0.0), (1.0, 500.0), (2.0, 1000.0)], 2000, 2)
    assert rates["drain_s"] is None
    assert rates["incidents_per_s_whole_drain"] is None
    assert rates["incidents_per_s"] is None  # 90 % never reached


def test_backlog_is_each_incident_reported_then_closed_on_its_key() -> None:
    records = backlog(3, seed=1, tag="t")
    assert len(records) == 6
    for (key1, reported), (key2, closed) in zip(records[::2], records[1::2], strict=True):
        assert key1 == key2
        first, second = decode_event(reported), decode_event(closed)
        assert (first.event_type, second.event_type) == ("incident.reported", "incident.closed")
        assert first.payload.incident_id == second.payload.incident_id == key1.decode()
        assert json.loads(reported)["correlation_id"] == key1.decode()
