"""What the gateway starts for reports: the policy from the settings, the store, the projection, and
the three reports read from the store (in a worker thread: SQLite and the computation never hold the
event loop)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from services.common.kafka import security_options
from services.gateway.reports.daily import daily_report
from services.gateway.reports.duty import duty_report
from services.gateway.reports.ledger import NeedsFor
from services.gateway.reports.policy import Office, Period, Policy
from services.gateway.reports.projection import ReportProjection
from services.gateway.reports.response_times import response_times
from services.gateway.reports.store import MARGIN_S, ReportStore
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


def policy_from(settings: GatewaySettings) -> Policy:
    """The report settings, validated (a bad value stops the gateway at start, naming the variable)."""
    return Policy(
        allowance=settings.report_allowance,
        max_deployment_s=settings.report_max_deployment_hours * 3600,
        targets=dict(settings.report_targets),
        target_share=settings.report_target_share,
        office=Office(
            name=settings.report_office_name,
            address=settings.report_office_address,
            signatory_title=settings.report_signatory_title,
            signatory_name=settings.report_signatory_name,
            signatory_nip=settings.report_signatory_nip,
        ),
    )


def store_path(settings: GatewaySettings) -> str:
    """`SIGAP_REPORTS_DB`; else in memory under `SIGAP_ENV=test` (each test gateway its own), else
    `$SIGAP_DATA_DIR/reports/<topic prefix>.sqlite3`."""
    if settings.reports_db:
        return settings.reports_db
    if settings.env == "test":
        return ":memory:"
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", settings.topic_prefix.rstrip(".")) or "default"
    return str(Path(settings.data_dir) / "reports" / f"{name}.sqlite3")


def run_card_needs() -> NeedsFor | None:
    """The dispatcher's run cards (`SIGAP_RUNCARDS_FILE`), for incidents posted without needs."""
    from schemas.vocabulary import IncidentType, Severity
    from services.dispatcher.runcards import RunCardError, load_runcards
    from services.dispatcher.settings import DispatcherSettings

    try:
        cards = load_runcards(DispatcherSettings().runcards_file)
    except RunCardError:
        log.exception("reports: run cards unreadable; incidents without explicit needs show none")
        return None

    def needs_for(incident_type: str, severity: str) -> list[tuple[str, str | None, int]]:
        needs = cards.needs(IncidentType(incident_type), Severity(severity))
        return [(n.unit.value, n.skill.value if n.skill else None, n.count) for n in needs]

    return needs_for


class Reports:
    def __init__(self, settings: GatewaySettings, clock: Callable[[], datetime]) -> None:
        self.policy = policy_from(settings)
        self.clock = clock
        self.store = ReportStore(store_path(settings), run_card_needs())
        self.projection = ReportProjection(
            self.store, settings.kafka_bootstrap, settings.topic_prefix, security_options(settings)
        )
        self.lazy = settings.env == "test"
        self.enabled = settings.reports_projection  # off: the store is served as it is
        self._started = False

    def start(self) -> None:
        """With the gateway; under `SIGAP_ENV=test` only at the first report asked for (`ensure_started`):
        the many test gateways that never ask for one then run no consumer beside the test."""
        if not self.lazy:
            self.ensure_started()

    def ensure_started(self) -> None:
        if self.enabled and not self._started:
            self._started = True
            self.projection.start()

    async def stop(self) -> None:
        """Stop reading the topics. The store stays open (it closes with the process): an app whose
        lifespan runs again, as the in-process test clients do, goes on with the same store."""
        await self.projection.stop()
        self._started = False

    def _now(self) -> float:
        return self.clock().timestamp()

    async def duty(self, month: str, period: Period) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            ledger = self.store.for_offers_between(
                period.start - self.policy.max_deployment_s - MARGIN_S, period.end
            )
            return duty_report(ledger, month, period, self.policy, self._now())

        return await asyncio.to_thread(work)

    async def response_times(self, period: Period, start: str, end: str) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            ledger = self.store.for_incidents_reported(period.start, period.end)
            return response_times(ledger, period, self.policy, start, end)

        return await asyncio.to_thread(work)

    async def daily(self, day: date, period: Period, incident_id: str | None) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            ledger = self.store.for_incidents_active(period.start, period.end, incident_id)
            return daily_report(ledger, day, period, self.policy, self._now(), incident_id=incident_id)

        return await asyncio.to_thread(work)

    def status(self) -> dict[str, Any]:
        p = self.projection.progress
        return {
            "store": self.store.path,
            "records": p.records,
            "used": p.used,
            "skipped": p.skipped,
            "lag": p.lag(),
            "caught_up": p.caught_up,
            "last_event_at": p.last_event_at,
            "error": p.error,
            "rows": self.store.counts(),
        }
