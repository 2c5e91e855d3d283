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

from schemas.errors import SigapError


class InvalidToken(SigapError, ValueError):
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


# --- answer buttons and SMS short codes (issue 18) ---------------------------------------------
#
# A chat button carries an opaque, signed reference to one answer to one offer of one volunteer:
# `{answer}.{offer_id}.{mac}` where `mac` is an HMAC (with the link secret, under its own label so it can
# never be mistaken for a link's) of the answer, the offer id and the volunteer id. The volunteer id is
# bound by the MAC but not spelled out: it fits Telegram's 64-byte `callback_data`, and the gateway checks
# it against the offer's own volunteer. Never a bare offer id.

AnswerCode = Literal["y", "n"]
"""`y`: the volunteer accepts (SIAP); `n`: declines (TIDAK BISA)."""
MAX_REF_BYTES = 64


def _answer_mac(secret: str, answer: str, offer_id: str, volunteer_id: str) -> str:
    key = hmac.new(secret.encode(), b"sigap-answer-button-v1", hashlib.sha256).digest()
    body = f"{answer}|{offer_id}|{volunteer_id}".encode()
    return _b64(hmac.new(key, body, hashlib.sha256).digest()[:15])


def sign_answer(answer: AnswerCode, offer_id: str, volunteer_id: str, secret: str) -> str | None:
    """The button reference, or None when the offer id is too long to fit 64 bytes (no buttons then)."""
    ref = f"{answer}.{offer_id}.{_answer_mac(secret, answer, offer_id, volunteer_id)}"
    return ref if len(ref.encode()) <= MAX_REF_BYTES else None


@dataclass(frozen=True, slots=True)
class AnswerRef:
    answer: AnswerCode
    offer_id: str
    mac: str

    def genuine_for(self, volunteer_id: str, secret: str) -> bool:
        """True when this reference was signed for `volunteer_id` (constant-time comparison)."""
        return hmac.compare_digest(self.mac, _answer_mac(secret, self.answer, self.offer_id, volunteer_id))


def parse_answer(ref: str) -> AnswerRef:
    """The parts of a button reference (not yet checked: that needs the offer's volunteer)."""
    if not ref.isascii() or len(ref) > MAX_REF_BYTES:
        raise InvalidToken("malformed")
    answer, _, rest = ref.partition(".")
    offer_id, _, mac = rest.rpartition(".")
    if answer not in ("y", "n") or not offer_id or len(mac) != 20:
        raise InvalidToken("malformed")
    return AnswerRef("y" if answer == "y" else "n", offer_id, mac)


def short_code(offer_id: str) -> str:
    """The 4-digit code an offer SMS carries ("SIAP 1234"): derived from the offer id alone, so the
    notifier that writes it and the gateway that reads a reply agree without sharing state. A volunteer
    holds at most one open offer (DESIGN.md §3 rule 4), so it is unique among their open offers; the
    gateway compares it only with the sender's own offer."""
    digest = hashlib.blake2b(offer_id.encode(), digest_size=8, person=b"sigap-sms-code").digest()
    return f"{int.from_bytes(digest, 'big') % 10000:04d}"
