"""A Kafka record as a `ReportEvent`: the envelope's id, type and time, and the payload as a dict.

Lenient on purpose: reports read a few fields of each event, also of event types this branch does not
validate yet (`incident.assessed`, issue 19) or of vocabulary added later (units, incident types); a
record that is not a JSON envelope is skipped and counted (the services that own the topics already
send it to `dead-letters`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import orjson

from schemas.errors import SigapError


class ReportEvent(NamedTuple):
    topic: str
    """the topic's name without the prefix (`dispatch-log`, …)"""
    event_id: str
    event_type: str
    at: float
    """`occurred_at`, seconds since the epoch (UTC)"""
    payload: dict[str, Any]


class Unreadable(SigapError, ValueError):
    """A record reports cannot read; the reason names what is wrong."""


def epoch_seconds(value: Any) -> float:
    """An ISO 8601 time with an offset (or `Z`) as epoch seconds."""
    if not isinstance(value, str):
        raise Unreadable(f"not a time: {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Unreadable(f"not a time: {value!r}") from None
    if moment.tzinfo is None:
        raise Unreadable(f"a time without offset: {value!r}")
    return moment.timestamp()


def decode(topic: str, raw: bytes | str | None) -> ReportEvent:
    """The record as a `ReportEvent`; `Unreadable` when it is not a Sigap envelope."""
    if raw is None:
        raise Unreadable("a tombstone")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Unreadable(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise Unreadable("not a JSON object")
    event_id, event_type, payload = doc.get("event_id"), doc.get("event_type"), doc.get("payload")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
        raise Unreadable("event_id or event_type missing")
    if not isinstance(payload, dict):
        raise Unreadable("payload is not an object")
    return ReportEvent(topic, event_id, event_type, epoch_seconds(doc.get("occurred_at")), payload)


def encode(event: ReportEvent) -> bytes:
    """The event as an envelope again (tests and the benchmark produce records with it)."""
    from datetime import UTC

    return orjson.dumps(
        {
            "event_id": event.event_id,
            "event_type": event.event_type,
            "schema_version": 1,
            "occurred_at": datetime.fromtimestamp(event.at, UTC).isoformat().replace("+00:00", "Z"),
            "source": "reports-test",
            "correlation_id": event.payload.get("incident_id"),
            "payload": event.payload,
        }
    )
