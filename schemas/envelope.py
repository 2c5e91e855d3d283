"""The JSON envelope every Sigap message travels in (DESIGN.md §5), and its strict decoder."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.errors import SigapError
from schemas.events import ALL_PAYLOADS, Payload
from schemas.fields import UtcDatetime, utcnow

P = TypeVar("P", bound=Payload)

EVENT_TYPES: dict[str, type[Payload]] = {cls.EVENT_TYPE: cls for cls in ALL_PAYLOADS}


class Envelope(BaseModel, Generic[P]):
    """`{event_id, event_type, schema_version, occurred_at, source, correlation_id, payload}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(min_length=1, max_length=64)
    event_type: str = Field(min_length=1, max_length=64)
    schema_version: int = Field(ge=1)
    occurred_at: UtcDatetime
    source: str = Field(min_length=1, max_length=64)
    correlation_id: str | None = Field(default=None, max_length=64)
    payload: P

    def to_json(self) -> bytes:
        return self.model_dump_json(serialize_as_any=True).encode()


class _RawEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=64)
    event_type: str = Field(min_length=1, max_length=64)
    schema_version: int = Field(ge=1)
    occurred_at: UtcDatetime
    source: str = Field(min_length=1, max_length=64)
    correlation_id: str | None = Field(default=None, max_length=64)
    payload: dict[str, Any]


class InvalidEvent(SigapError, ValueError):
    """A record that is not a valid Sigap event; `reason` says why, for the dead-letter topic."""

    def __init__(self, reason: str, event_type: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.event_type = event_type


def new_event_id() -> str:
    return uuid.uuid4().hex


def make_event(
    payload: P,
    *,
    source: str,
    correlation_id: str | None = None,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope[P]:
    """Wrap a payload in an envelope; `event_id` defaults to a fresh one."""
    return Envelope(
        event_id=event_id or new_event_id(),
        event_type=payload.EVENT_TYPE,
        schema_version=payload.SCHEMA_VERSION,
        occurred_at=occurred_at or utcnow(),
        source=source,
        correlation_id=correlation_id,
        payload=payload,
    )


def _describe(error: ValidationError, prefix: str = "") -> str:
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in (prefix, *item["loc"]) if p != "")
        parts.append(f"{where or '(root)'}: {item['msg']}")
    return "; ".join(parts)


_ANY_ENVELOPE = Envelope[Payload]
"""made once: subscripting a generic model costs a lookup on every call"""


def decode_event(raw: bytes | str) -> Envelope[Payload]:
    """Parse and validate a record value; raise InvalidEvent naming the failing fields."""
    try:
        head = _RawEnvelope.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidEvent(_describe(exc)) from None
    cls = EVENT_TYPES.get(head.event_type)
    if cls is None:
        raise InvalidEvent(f"event_type: unknown event type {head.event_type!r}", head.event_type)
    if head.schema_version > cls.SCHEMA_VERSION:
        raise InvalidEvent(
            f"schema_version: {head.schema_version} is newer than this service knows ({cls.SCHEMA_VERSION})",
            head.event_type,
        )
    try:
        payload = cls.model_validate(head.payload)
    except ValidationError as exc:
        raise InvalidEvent(_describe(exc, "payload"), head.event_type) from None
    return _ANY_ENVELOPE.model_construct(
        event_id=head.event_id,
        event_type=head.event_type,
        schema_version=head.schema_version,
        occurred_at=head.occurred_at,
        source=head.source,
        correlation_id=head.correlation_id,
        payload=payload,
    )
