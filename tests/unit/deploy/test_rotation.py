"""Separate link and session secrets, each rotatable with a grace period (pure: no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from services.common.config import Settings
from services.common.keyring import Keyring
from services.common.links import InvalidToken, LinkClaims, sign, verify
from services.gateway.auth import CSRF_COOKIE, SESSION_COOKIE, Authenticator

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
OLD, NEW = "o" * 40, "n" * 40
KEYS = "operator:op-key-1234,admin:admin-key-5678"


def claims(expires: datetime) -> LinkClaims:
    return LinkClaims(kind="offer", volunteer_id="v1", offer_id="o1", incident_id="i1", expires_at=expires)


def test_keyring_accepts_the_previous_secret_only_until_its_grace_ends() -> None:
    ring = Keyring(NEW, OLD, NOW + timedelta(hours=24))
    assert ring.signing() == NEW
    assert ring.verifying(NOW) == (NEW, OLD)
    assert ring.verifying(NOW + timedelta(hours=24)) == (NEW,)
    assert Keyring(NEW).verifying(NOW) == (NEW,)


def test_link_signed_before_a_rotation_verifies_during_the_grace_period_only() -> None:
    token = sign(claims(NOW + timedelta(days=3)), OLD)
    rotated = Settings(
        link_secret=NEW, link_secret_previous=OLD, link_secret_previous_until=NOW + timedelta(days=1)
    )
    ring = rotated.link_keys()
    assert verify(token, ring.verifying(NOW), NOW).offer_id == "o1"
    with pytest.raises(InvalidToken) as late:
        verify(token, ring.verifying(NOW + timedelta(days=1)), NOW + timedelta(days=1))
    assert late.value.reason == "forged"
    fresh = sign(claims(NOW + timedelta(days=3)), ring.signing())
    assert verify(fresh, ring.verifying(NOW + timedelta(days=2)), NOW + timedelta(days=2)).offer_id == "o1"
    with pytest.raises(InvalidToken):
        verify(fresh, OLD, NOW)  # the old secret does not verify what the new one signed


def _request(cookies: dict[str, str]) -> SimpleNamespace:
    return SimpleNamespace(cookies=cookies)


def test_board_session_survives_a_session_secret_rotation_until_the_grace_ends() -> None:
    clock = {"now": NOW}
    before = Authenticator(
        Settings(api_keys=KEYS, link_secret="l" * 40, session_secret=OLD), lambda: clock["now"]
    )
    cookie = before.new_session("op-key-1234", NOW)
    assert cookie is not None
    csrf = before.csrf_for(cookie)
    after = Authenticator(
        Settings(
            api_keys=KEYS,
            link_secret="l" * 40,
            session_secret=NEW,
            session_secret_previous=OLD,
            session_secret_previous_until=NOW + timedelta(hours=2),
        ),
        lambda: clock["now"],
    )
    principal = after.by_session(cookie, NOW + timedelta(hours=1))
    assert principal is not None and principal.role == "operator"
    clock["now"] = NOW + timedelta(hours=1)
    assert after.csrf_ok(_request({CSRF_COOKIE: csrf, SESSION_COOKIE: cookie}), csrf)  # type: ignore[arg-type]
    assert after.by_session(cookie, NOW + timedelta(hours=2)) is None  # grace over: sign in again
    clock["now"] = NOW + timedelta(hours=2)
    assert not after.csrf_ok(_request({CSRF_COOKIE: csrf, SESSION_COOKIE: cookie}), csrf)  # type: ignore[arg-type]
    fresh = after.new_session("op-key-1234", NOW + timedelta(hours=2))
    assert fresh is not None and after.by_session(fresh, NOW + timedelta(hours=3)) is not None
    without_grace = Authenticator(Settings(api_keys=KEYS, link_secret="l" * 40, session_secret=NEW))
    assert without_grace.by_session(cookie, NOW) is None


def test_rotating_one_secret_leaves_the_other_alone() -> None:
    base = {"api_keys": KEYS, "session_secret": "s" * 40}
    auth = Authenticator(Settings(link_secret=OLD, **base))
    cookie = auth.new_session("op-key-1234", NOW)
    assert cookie is not None
    assert Authenticator(Settings(link_secret=NEW, **base)).by_session(cookie, NOW) is not None
    token = sign(claims(NOW + timedelta(days=1)), OLD)
    rotated = Settings(link_secret=OLD, api_keys=KEYS, session_secret="t" * 40)
    assert verify(token, rotated.link_keys().verifying(NOW), NOW).volunteer_id == "v1"


PRODUCTION = {
    "env": "production",
    "api_keys": "operator:a-real-operator-key,admin:a-real-admin-key",
    "link_secret": "L" * 40,
    "session_secret": "S" * 40,
}


def test_production_needs_a_separate_session_secret() -> None:
    assert Settings(**PRODUCTION).session_keys().current == "S" * 40
    for bad in ("", "short", "L" * 40):
        with pytest.raises(ValidationError, match="SIGAP_SESSION_SECRET"):
            Settings(**{**PRODUCTION, "session_secret": bad})
    assert Settings(link_secret="x" * 40).session_keys().current == "x" * 40  # local: derived, as before


def test_previous_secret_and_its_end_go_together(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="SIGAP_LINK_SECRET_PREVIOUS_UNTIL"):
        Settings(link_secret_previous=OLD)
    with pytest.raises(ValidationError, match="time zone"):
        Settings(session_secret_previous=OLD, session_secret_previous_until=datetime(2026, 12, 3))  # noqa: DTZ001
    monkeypatch.setenv("SIGAP_LINK_SECRET_PREVIOUS", "")
    monkeypatch.setenv("SIGAP_LINK_SECRET_PREVIOUS_UNTIL", "")  # Compose passes unset values as empty
    assert Settings().link_keys() == Keyring(Settings().link_secret)
    monkeypatch.setenv("SIGAP_LINK_SECRET_PREVIOUS", OLD)
    monkeypatch.setenv("SIGAP_LINK_SECRET_PREVIOUS_UNTIL", "2026-12-03T00:00:00+07:00")
    assert Settings().link_keys().previous_until == datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
