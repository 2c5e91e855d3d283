"""Signed response links (DESIGN.md §5): `/r/{token}` bound to one offer and one volunteer, expiring.

A token is `base64url(json claims).base64url(hmac-sha256)`; claims are
`{"k": kind, "o": offer_id, "v": volunteer_id, "i": incident_id, "e": expiry unix seconds}`.
Kind `offer` is a link in an offer message; kind `self` is a volunteer's personal self-service link
(no offer, long-lived, revocable by bumping the volunteer's link generation `g`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal


class InvalidToken(ValueError):
    """A forged, malformed or expired link; `reason` is `forged`, `malformed` or `expired`."""

    def __init__(self, reason: Literal["forged", "malformed", "expired"]) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LinkClaims:
    kind: Literal["offer", "self"]
    volunteer_id: str
    expires_at: datetime
    offer_id: str | None = None
    incident_id: str | None = None
    generation: int = 0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()[:20])


def sign(claims: LinkClaims, secret: str) -> str:
    data = {"k": claims.kind, "v": claims.volunteer_id, "e": int(claims.expires_at.timestamp())}
    if claims.offer_id:
        data["o"] = claims.offer_id
    if claims.incident_id:
        data["i"] = claims.incident_id
    if claims.generation:
        data["g"] = claims.generation
    body = _b64(json.dumps(data, separators=(",", ":")).encode())
    return f"{body}.{_mac(secret, body)}"


def verify(token: str, secret: str | Sequence[str], now: datetime) -> LinkClaims:
    """The claims of a genuine, unexpired token; InvalidToken otherwise. `secret` may be several
    (`Keyring.verifying`: the current secret and, during a rotation, the previous one)."""
    body, sep, mac = token.partition(".")
    if not sep or not body or not mac or len(token) > 1000 or not token.isascii():
        raise InvalidToken("malformed")  # (compare_digest refuses non-ASCII text: never reach it)
    secrets = (secret,) if isinstance(secret, str) else secret
    if not any(hmac.compare_digest(mac, _mac(s, body)) for s in secrets):
        raise InvalidToken("forged")
    try:
        data = json.loads(_unb64(body))
        claims = LinkClaims(
            kind=data["k"],
            volunteer_id=str(data["v"]),
            expires_at=datetime.fromtimestamp(int(data["e"]), UTC),
            offer_id=data.get("o"),
            incident_id=data.get("i"),
            generation=int(data.get("g", 0)),
        )
    except (ValueError, KeyError, TypeError):
        raise InvalidToken("malformed") from None
    if claims.kind not in ("offer", "self"):
        raise InvalidToken("malformed")
    if now >= claims.expires_at:
        raise InvalidToken("expired")
    return claims


def response_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/r/{token}"
