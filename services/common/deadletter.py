"""Poison records become `dead_letter` events with the reason and the original bytes."""

from __future__ import annotations

import base64

from schemas.envelope import Envelope, InvalidEvent, decode_event, make_event
from schemas.events import DeadLetter, Payload


def dead_letter_for(
    raw: bytes | None,
    reason: str,
    *,
    topic: str,
    consumer: str,
    partition: int | None = None,
    offset: int | None = None,
    key: bytes | str | None = None,
    event_type: str | None = None,
) -> Envelope[DeadLetter]:
    """The dead-letter event for a record that could not be processed."""
    key_text = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
    return make_event(
        DeadLetter(
            topic=topic,
            partition=partition,
            offset=offset,
            key=key_text,
            reason=reason[:4000],
            original_base64=base64.b64encode(raw or b"").decode(),
            original_event_type=event_type,
            consumer=consumer,
        ),
        source=consumer,
    )


def decode_or_dead_letter(
    raw: bytes | None,
    *,
    topic: str,
    consumer: str,
    partition: int | None = None,
    offset: int | None = None,
    key: bytes | str | None = None,
) -> tuple[Envelope[Payload] | None, Envelope[DeadLetter] | None]:
    """Decode a record; on failure return the dead letter to publish instead."""
    if raw is None:
        return None, dead_letter_for(
            raw,
            "empty record value",
            topic=topic,
            consumer=consumer,
            partition=partition,
            offset=offset,
            key=key,
        )
    try:
        return decode_event(raw), None
    except InvalidEvent as exc:
        return None, dead_letter_for(
            raw,
            exc.reason,
            topic=topic,
            consumer=consumer,
            partition=partition,
            offset=offset,
            key=key,
            event_type=exc.event_type,
        )
