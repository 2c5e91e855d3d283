"""A faust codec so faust topics carry Sigap envelopes: `value_serializer="sigap"`.

Loading returns a validated `Envelope` or raises `InvalidEvent`; agents that must dead-letter bad
records consume raw bytes and call `decode_event` themselves (see services.common.deadletter).
"""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs

from schemas.envelope import Envelope, decode_event

CODEC_NAME = "sigap"


class SigapCodec(codecs.Codec):
    """Envelope ⇄ JSON bytes."""

    def _dumps(self, obj: Any) -> bytes:
        if isinstance(obj, Envelope):
            return obj.to_json()
        if isinstance(obj, bytes):
            return obj
        raise TypeError(f"the sigap codec carries Envelope objects, not {type(obj).__name__}")

    def _loads(self, s: bytes) -> Any:
        return decode_event(s)


def register() -> None:
    """Register the codec with faust (idempotent)."""
    codecs.register(CODEC_NAME, SigapCodec())
