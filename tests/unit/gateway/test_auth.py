"""Keys, board sessions, CSRF tokens and the sign-in throttle (pure: no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from services.common.config import Settings
from services.gateway.auth import CSRF_COOKIE, SESSION_COOKIE, Authenticator, LoginThrottle

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def auth(keys: str = "operator:op-key-1234,admin:admin-key-5678") -> Authenticator:
    return Authenticator(Settings(api_keys=keys, link_secret="s" * 40))


def test_keys_map_to_roles() -> None:
    a = auth()
    operator = a.by_key("op-key-1234")
    assert operator is not None and operator.role == "operator" and operator.via == "bearer"
    assert operator.at_least("operator") and not operator.at_least("coordinator")
    admin = a.by_key("admin-key-5678")
    assert admin is not None and admin.at_least("coordinator")
    assert a.by_key("op-key-123") is None
    assert "op-key" not in operator.label and operator.label.startswith("operator#")


def test_sessions_expire_and_die_with_their_key() -> None:
    a = auth()
    cookie = a.new_session("op-key-1234", NOW)
    assert cookie is not None and "op-key-1234" not in cookie
    principal = a.by_session(cookie, NOW + timedelta(hours=1))
    assert principal is not None and principal.role == "operator" and principal.via == "session"
    assert a.by_session(cookie, NOW + timedelta(hours=13)) is None  # a shift is 12 hours
    assert a.by_session(cookie[:-2] + "00", NOW) is None  # tampered
    assert a.new_session("wrong-key-000", NOW) is None
    rotated = auth("operator:another-key-99,admin:admin-key-5678")  # the operator key was replaced
    assert rotated.by_session(cookie, NOW) is None
    other_secret = Authenticator(Settings(api_keys="operator:op-key-1234", link_secret="t" * 40))
    assert other_secret.by_session(cookie, NOW) is None


def _request(cookies: dict[str, str]) -> SimpleNamespace:
    return SimpleNamespace(cookies=cookies)


def test_double_submit_csrf_is_bound_to_the_session() -> None:
    a = auth()
    session = a.new_session("op-key-1234", NOW)
    assert session
    token = a.csrf_for(session)
    good = _request({SESSION_COOKIE: session, CSRF_COOKIE: token})
    assert a.csrf_ok(good, token)  # type: ignore[arg-type]
    assert not a.csrf_ok(good, "x" + token[1:])  # type: ignore[arg-type]
    assert not a.csrf_ok(good, None)  # type: ignore[arg-type]
    assert not a.csrf_ok(good, "é" * 32)  # type: ignore[arg-type]  # non-ASCII: refused, not a crash
    assert a.by_session("é.1.x." + "0" * 32, NOW) is None
    # an attacker who plants their own csrf cookie still cannot match the victim's session
    planted = _request({SESSION_COOKIE: session, CSRF_COOKIE: "planted"})
    assert not a.csrf_ok(planted, "planted")  # type: ignore[arg-type]


def test_login_csrf() -> None:
    a = auth()
    token = a.new_login_csrf()
    assert a.login_csrf_ok(_request({CSRF_COOKIE: token}), token)  # type: ignore[arg-type]
    assert not a.login_csrf_ok(_request({CSRF_COOKIE: "n.bad"}), "n.bad")  # type: ignore[arg-type]
    assert not a.login_csrf_ok(_request({}), token)  # type: ignore[arg-type]


def test_throttle() -> None:
    throttle = LoginThrottle(limit=3, window_s=60)
    for _ in range(3):
        assert not throttle.blocked("10.0.0.1")
        throttle.failed("10.0.0.1")
    assert throttle.blocked("10.0.0.1")
    assert not throttle.blocked("10.0.0.2")
    throttle.succeeded("10.0.0.1")
    assert not throttle.blocked("10.0.0.1")
