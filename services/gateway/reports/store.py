"""The report projection's store: SQLite, one file owned by the projection (`SIGAP_REPORTS_DB`).

Rows are the ledger's (`ledger.py`) as JSON, with the columns reports select by; the consumer's next
offset per topic partition is saved in the same transaction as the rows it produced, so a restart
resumes exactly where the last saved batch ended (and a batch applied twice changes nothing anyway).
It is a view: delete the file and the projection reads the topics again from their beginning.

One connection, used from worker threads under a lock (`asyncio.to_thread`): the event loop never
waits on the disk.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import orjson

from services.gateway.reports.events import Unreadable
from services.gateway.reports.ledger import (
    AssessmentRow,
    IncidentRow,
    Ledger,
    NeedsFor,
    OfferRow,
    VolunteerRow,
    row_from_dict,
)
from services.gateway.reports.policy import DAY_S

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (topic TEXT NOT NULL, partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL, PRIMARY KEY (topic, partition));
CREATE TABLE IF NOT EXISTS incidents (incident_id TEXT PRIMARY KEY, reported_at REAL, ended_at REAL,
    data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS incidents_reported ON incidents (reported_at);
CREATE TABLE IF NOT EXISTS offers (offer_id TEXT PRIMARY KEY, incident_id TEXT, offered_at REAL,
    data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS offers_incident ON offers (incident_id);
CREATE INDEX IF NOT EXISTS offers_offered ON offers (offered_at);
CREATE TABLE IF NOT EXISTS volunteers (volunteer_id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS assessments (event_id TEXT PRIMARY KEY, incident_id TEXT, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS assessments_incident ON assessments (incident_id);
"""
_CHUNK = 500  # ids per IN (...) query: under SQLite's variable limit


_TABLES = frozenset({"incidents", "offers", "volunteers", "assessments"})
_COLUMNS = frozenset({"incident_id", "offer_id", "volunteer_id", "event_id"})


def _in_query(table: str, column: str, count: int) -> str:
    """`SELECT data FROM <table> WHERE <column> IN (?, …)` for fixed table and column names."""
    if table not in _TABLES or column not in _COLUMNS:
        raise ValueError(f"unknown table or column {table}.{column}")
    return f"SELECT data FROM {table} WHERE {column} IN ({','.join('?' * count)})"  # noqa: S608 - names checked above


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for k in range(0, len(ids), _CHUNK):
        yield ids[k : k + _CHUNK]


class ReportStore:
    def __init__(self, path: str | Path, needs_for: NeedsFor | None = None) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.needs_for = needs_for
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        with self._lock:
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has report schema {row[0]}, this gateway writes {SCHEMA_VERSION}: "
                    "delete the file and the projection rebuilds it from the topics"
                )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- positions ------------------------------------------------------------------------------

    def positions(self) -> dict[tuple[str, int], int]:
        with self._lock:
            rows = self._db.execute("SELECT topic, partition, next_offset FROM positions").fetchall()
        return {(topic, partition): offset for topic, partition, offset in rows}

    # --- writing: a batch of events, with the positions after it --------------------------------

    def apply(self, events: Iterable[Any], positions: dict[tuple[str, int], int]) -> tuple[int, int]:
        """Fold `events` (`ReportEvent`s) into the rows they touch and save both, with `positions`,
        in one transaction. Returns how many events reports used and how many they could not read
        (skipped and logged)."""
        events = list(events)
        used = skipped = 0
        with self._tx() as db:
            ledger = self._load_touched(db, events)
            for event in events:
                try:
                    used += ledger.apply(event)
                except Unreadable as exc:
                    skipped += 1
                    log.warning("reports skip event %s (%s): %s", event.event_id, event.event_type, exc)
            self._save(db, ledger)
            db.executemany(
                "INSERT INTO positions VALUES (?, ?, ?) ON CONFLICT (topic, partition) "
                "DO UPDATE SET next_offset = max(next_offset, excluded.next_offset)",
                [(topic, partition, offset) for (topic, partition), offset in positions.items()],
            )
        return used, skipped

    def _load_touched(self, db: sqlite3.Connection, events: list[Any]) -> Ledger:
        incident_ids, offer_ids, volunteer_ids = set(), set(), set()
        for e in events:
            p = e.payload
            if "offer_id" in p and isinstance(p["offer_id"], str):
                offer_ids.add(p["offer_id"])
            elif "incident_id" in p and isinstance(p["incident_id"], str):
                incident_ids.add(p["incident_id"])
            elif isinstance(p.get("profile"), dict) and isinstance(p["profile"].get("volunteer_id"), str):
                volunteer_ids.add(p["profile"]["volunteer_id"])
        ledger = Ledger(needs_for=self.needs_for)
        self._fill(db, ledger, "incidents", "incident_id", sorted(incident_ids))
        self._fill(db, ledger, "offers", "offer_id", sorted(offer_ids))
        self._fill(db, ledger, "volunteers", "volunteer_id", sorted(volunteer_ids))
        ledger.touched.clear()
        return ledger

    def _save(self, db: sqlite3.Connection, ledger: Ledger) -> None:
        incidents, offers, volunteers, assessments = [], [], [], []
        for kind, key in ledger.touched:
            if kind == "incident":
                i = ledger.incidents[key]
                incidents.append((key, i.reported_at, i.ended_at, orjson.dumps(i)))
            elif kind == "offer":
                o = ledger.offers[key]
                offers.append((key, o.incident_id, o.offered_at, orjson.dumps(o)))
            elif kind == "volunteer":
                volunteers.append((key, orjson.dumps(ledger.volunteers[key])))
            else:
                a = ledger.assessments[key]
                assessments.append((key, a.incident_id, orjson.dumps(a)))
        db.executemany("INSERT OR REPLACE INTO incidents VALUES (?, ?, ?, ?)", incidents)
        db.executemany("INSERT OR REPLACE INTO offers VALUES (?, ?, ?, ?)", offers)
        db.executemany("INSERT OR REPLACE INTO volunteers VALUES (?, ?)", volunteers)
        db.executemany("INSERT OR REPLACE INTO assessments VALUES (?, ?, ?)", assessments)

    # --- reading: the rows a report needs -------------------------------------------------------

    _CLASSES: ClassVar[dict[str, tuple[type[Any], str]]] = {
        "incidents": (IncidentRow, "incidents"),
        "offers": (OfferRow, "offers"),
        "volunteers": (VolunteerRow, "volunteers"),
        "assessments": (AssessmentRow, "assessments"),
    }

    def _fill(self, db: sqlite3.Connection, ledger: Ledger, table: str, column: str, ids: list[str]) -> None:
        for chunk in _chunks(ids):
            rows = db.execute(_in_query(table, column, len(chunk)), chunk).fetchall()
            self._put(ledger, table, (r[0] for r in rows))

    def _put(self, ledger: Ledger, table: str, blobs: Iterable[bytes]) -> None:
        cls, attr = self._CLASSES[table]
        target: dict[str, Any] = getattr(ledger, attr)
        key = {"incidents": "incident_id", "offers": "offer_id", "volunteers": "volunteer_id"}.get(
            table, "event_id"
        )
        for blob in blobs:
            data = orjson.loads(blob)
            target[data[key]] = row_from_dict(cls, data)

    def _select(
        self, db: sqlite3.Connection, ledger: Ledger, table: str, sql: str, args: tuple[Any, ...]
    ) -> None:
        self._put(ledger, table, (r[0] for r in db.execute(sql, args)))

    def _with_people(self, db: sqlite3.Connection, ledger: Ledger) -> Ledger:
        """Add the incidents, volunteers and assessments the ledger's offers and incidents name."""
        missing = sorted({o.incident_id for o in ledger.offers.values()} - set(ledger.incidents))
        self._fill(db, ledger, "incidents", "incident_id", missing)
        self._fill(
            db, ledger, "volunteers", "volunteer_id", sorted({o.volunteer_id for o in ledger.offers.values()})
        )
        self._fill(db, ledger, "assessments", "incident_id", sorted(ledger.incidents))
        return ledger

    def for_offers_between(self, start: float, end: float) -> Ledger:
        """Offers made in [start, end), with their incidents and volunteers (the duty report)."""
        ledger = Ledger()
        with self._lock:
            self._select(
                self._db,
                ledger,
                "offers",
                "SELECT data FROM offers WHERE offered_at >= ? AND offered_at < ?",
                (start, end),
            )
            return self._with_people(self._db, ledger)

    def for_incidents_reported(self, start: float, end: float) -> Ledger:
        """Incidents reported in [start, end) and their offers (response times)."""
        ledger = Ledger()
        with self._lock:
            self._select(
                self._db,
                ledger,
                "incidents",
                "SELECT data FROM incidents WHERE reported_at >= ? AND reported_at < ?",
                (start, end),
            )
            self._offers_of(ledger)
            return self._with_people(self._db, ledger)

    def for_incidents_active(self, start: float, end: float, incident_id: str | None = None) -> Ledger:
        """Incidents open at some moment of [start, end) (or the one named) and their offers (daily)."""
        ledger = Ledger()
        with self._lock:
            if incident_id is not None:
                sql, args = "SELECT data FROM incidents WHERE incident_id = ?", (incident_id,)
            else:
                sql = (
                    "SELECT data FROM incidents WHERE reported_at < ? AND (ended_at IS NULL OR ended_at >= ?)"
                )
                args = (end, start)  # type: ignore[assignment]
            self._select(self._db, ledger, "incidents", sql, args)
            self._offers_of(ledger)
            return self._with_people(self._db, ledger)

    def _offers_of(self, ledger: Ledger) -> None:
        self._fill(self._db, ledger, "offers", "incident_id", sorted(ledger.incidents))

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                table: int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - fixed names
                for table in ("incidents", "offers", "volunteers", "assessments")
            }


MARGIN_S = DAY_S
"""offers are read from this long before a month, for deployments that run into it"""
