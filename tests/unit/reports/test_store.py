"""The SQLite store gives each report the same rows the pure fold does, across batches and a restart."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from services.gateway.reports.daily import daily_report
from services.gateway.reports.duty import duty_report
from services.gateway.reports.events import ReportEvent
from services.gateway.reports.ledger import Ledger
from services.gateway.reports.policy import Policy, day_period, month_period, range_period
from services.gateway.reports.response_times import response_times
from services.gateway.reports.store import MARGIN_S, ReportStore
from tests.unit.reports.month import NOW, known_month, needs_for, t

POLICY = Policy()


def _store(path: Path, events: list[ReportEvent], batch: int = 7) -> ReportStore:
    store = ReportStore(path, needs_for)
    for k in range(0, len(events), batch):
        store.apply(events[k : k + batch], {("dispatch-log", 0): k + batch})
    return store


def test_reports_from_the_store_equal_the_pure_fold(tmp_path: Path) -> None:
    events = known_month()
    pure = Ledger(needs_for=needs_for)
    for e in events:
        pure.apply(e)
    _store(tmp_path / "r.sqlite3", events).close()
    store = ReportStore(tmp_path / "r.sqlite3", needs_for)  # reopened: a restarted gateway
    assert store.positions() == {("dispatch-log", 0): len(events) - len(events) % 7 + 7}
    assert store.counts() == {"incidents": 5, "offers": 10, "volunteers": 4, "assessments": 3}

    month = month_period("2026-11")
    ledger = store.for_offers_between(month.start - POLICY.max_deployment_s - MARGIN_S, month.end)
    assert duty_report(ledger, "2026-11", month, POLICY, t(NOW)) == duty_report(
        pure, "2026-11", month, POLICY, t(NOW)
    )

    period = range_period("2026-11-01", "2026-11-30")
    ledger = store.for_incidents_reported(period.start, period.end)
    assert set(ledger.incidents) == {"INC-A", "INC-B", "INC-C", "INC-D"}
    assert response_times(ledger, period, POLICY, "a", "b") == response_times(pure, period, POLICY, "a", "b")

    for day in ("2026-11-03", "2026-11-11", "2026-11-20"):
        period = day_period(day)
        ledger = store.for_incidents_active(period.start, period.end)
        when = date.fromisoformat(day)
        assert daily_report(ledger, when, period, POLICY, t(NOW)) == daily_report(
            pure, when, period, POLICY, t(NOW)
        )
    one = store.for_incidents_active(period.start, period.end, "INC-A")
    assert set(one.incidents) == {"INC-A"} and len(one.assessments) == 3


def test_an_unreadable_event_is_skipped_and_the_batch_kept(tmp_path: Path) -> None:
    store = ReportStore(tmp_path / "r.sqlite3", needs_for)
    good, *_ = [e for e in known_month() if e.event_type == "offer.made"]
    bad = ReportEvent("dispatch-log", "bad-1", "offer.made", good.at, {"offer_id": "of-X", "incident_id": 7})
    used, skipped = store.apply([bad, good], {("dispatch-log", 0): 2})
    assert (used, skipped) == (1, 1)
    assert store.counts()["offers"] == 1
