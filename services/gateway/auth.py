"""Who is calling: API keys (`Authorization: Bearer <key>`), board sessions and CSRF tokens.

Roles are ordered operator < coordinator < admin (DESIGN.md §5). The board signs in with a key once;
the browser then holds an HttpOnly, SameSite=Strict cookie carrying an HMAC of the key's id and the
sign-in time (never the key itself). Removing a key from `SIGAP_API_KEYS` ends its sessions. Unsafe
requests authenticated by the cookie must carry a double-submit CSRF token (a form field `csrf` or the
`X-CSRF-Token` header) equal to the `sigap_csrf` cookie and bound to the session by an HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.gateway.errors import ApiError
from services.gateway.settings import GatewaySettings

Role = Literal["operator", "coordinator", "admin"]
ROLE_RANK: dict[str, int] = {"operator": 1, "coordinator": 2, "admin": 3}

SESSION_COOKIE = "sigap_session"
CSRF_COOKIE = "sigap_csrf"
CSRF_HEADER = "x-csrf-token"
SESSION_TTL = timedelta(hours=12)  # one ops-room shift
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    key_id: str
    via: Literal["bearer", "session"]

    @property
    def label(self) -> str:
        """Who did it, for `by` fields and logs: the role and a short, non-secret key id."""
        return f"{self.role}#{self.key_id[:8]}"

    def at_least(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def same(a: str, b: str) -> bool:
    """Constant-time equality of two texts (any characters: `hmac.compare_digest` refuses non-ASCII str)."""
    return hmac.compare_digest(a.encode(), b.encode())


def _mac(secret: bytes, text: str, size: int = 32) -> str:
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()[:size]


def _session_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"sigap-gateway-session-v1", "sha256").digest()


class Authenticator:
    """Checks keys, issues and checks session cookies and CSRF tokens. Signs with the session secret
    (`SIGAP_SESSION_SECRET`); during its rotation also accepts what the previous one signed, until
    `SIGAP_SESSION_SECRET_PREVIOUS_UNTIL` (`clock` tells when that is)."""

    def __init__(self, settings: GatewaySettings, clock: Callable[[], datetime] | None = None) -> None:
        self._ring = settings.session_keys()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._secret = _session_key(self._ring.current)
        self._previous = _session_key(self._ring.previous) if self._ring.previous else None
        keys = settings.api_key_roles()
        # key ids are MACs under a secret: each secret has its own, so a previous-secret session still
        # finds its key's role
        self._roles_by_secret: dict[bytes, dict[str, Role]] = {
            secret: {_mac(secret, "key:" + key, 24): role for key, role in keys.items()}  # type: ignore[misc]
            for secret in (self._secret, self._previous)
            if secret is not None
        }
        self._roles = self._roles_by_secret[self._secret]
        self.secure_cookies = settings.public_url.startswith("https://")

    def _secrets(self, now: datetime | None = None) -> list[bytes]:
        """The secrets a cookie or token may be signed with at `now`: the current one first."""
        accepted = self._ring.verifying(now or self._clock())
        return [self._secret] + ([self._previous] if len(accepted) > 1 and self._previous else [])

    def key_id(self, key: str) -> str:
        """A stable, non-reversible id of a key (the HMAC makes it useless for guessing keys)."""
        return _mac(self._secret, "key:" + key, 24)

    def by_key(self, key: str) -> Principal | None:
        kid = self.key_id(key)
        role = self._roles.get(kid)
        return Principal(role, kid, "bearer") if role else None

    # --- sessions -----------------------------------------------------------------------------

    def new_session(self, key: str, now: datetime) -> str | None:
        """The cookie value for a sign-in with `key`, or None when the key is unknown."""
        if self.by_key(key) is None:
            return None
        body = f"{self.key_id(key)}.{int(now.timestamp())}.{secrets.token_hex(8)}"
        return f"{body}.{_mac(self._secret, 'session:' + body)}"

    def by_session(self, cookie: str | None, now: datetime) -> Principal | None:
        if not cookie or len(cookie) > 200:
            return None
        body, _, mac = cookie.rpartition(".")
        if not body:
            return None
        signer = next((s for s in self._secrets(now) if same(mac, _mac(s, "session:" + body))), None)
        if signer is None:
            return None
        kid, _, rest = body.partition(".")
        issued_text, _, _ = rest.partition(".")
        try:
            issued = int(issued_text)
        except ValueError:
            return None
        if not 0 <= now.timestamp() - issued <= SESSION_TTL.total_seconds():
            return None
        role = self._roles_by_secret[signer].get(kid)
        return Principal(role, kid, "session") if role else None

    def csrf_for(self, session_cookie: str, secret: bytes | None = None) -> str:
        """The CSRF token bound to a session (or to a pre-sign-in nonce)."""
        return _mac(self._secret if secret is None else secret, "csrf:" + session_cookie)

    def csrf_ok(self, request: Request, submitted: str | None) -> bool:
        """Double submit: the submitted token equals the cookie and is the session's own token."""
        cookie = request.cookies.get(CSRF_COOKIE, "")
        session = request.cookies.get(SESSION_COOKIE, "")
        if not submitted or not cookie or not session:
            return False
        return same(submitted, cookie) and any(
            same(submitted, self.csrf_for(session, secret)) for secret in self._secrets()
        )

    def login_csrf_ok(self, request: Request, submitted: str | None) -> bool:
        """Before sign-in there is no session: the token is a nonce cookie and its MAC."""
        cookie = request.cookies.get(CSRF_COOKIE, "")
        nonce, _, mac = cookie.partition(".")
        if not submitted or not nonce or not same(submitted, cookie):
            return False
        return any(same(mac, _mac(secret, "login:" + nonce)) for secret in self._secrets())

    def new_login_csrf(self) -> str:
        nonce = secrets.token_hex(12)
        return f"{nonce}.{_mac(self._secret, 'login:' + nonce)}"


class LoginThrottle:
    """At most `limit` failed sign-ins per client address in `window_s`: slows key guessing."""

    def __init__(self, limit: int = 10, window_s: float = 300.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        now = time.monotonic()
        failures = self._failures.setdefault(client, deque())
        while failures and now - failures[0] > self.window_s:
            failures.popleft()
        return failures

    def blocked(self, client: str) -> bool:
        return len(self._recent(client)) >= self.limit

    def failed(self, client: str) -> None:
        if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
            self._failures.clear()
        self._recent(client).append(time.monotonic())

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="`Authorization: Bearer <key>` with a key from SIGAP_API_KEYS (`role:key,…`)",
)


def _unauthorized(message: str, error: str | None = None) -> ApiError:
    challenge = 'Bearer realm="sigap"' + (f', error="{error}"' if error else "")
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": challenge})


def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None, now: datetime
) -> Principal:
    """The caller, from a bearer key or (for the board) a session cookie; 401 otherwise."""
    auth: Authenticator = request.app.state.gateway.auth
    if credentials is not None:
        principal = auth.by_key(credentials.credentials)
        if principal is None:
            raise _unauthorized("unknown API key", "invalid_token")
        return principal
    if request.headers.get("authorization"):
        raise _unauthorized("the Authorization header must be 'Bearer <key>'", "invalid_request")
    principal = auth.by_session(request.cookies.get(SESSION_COOKIE), now)
    if principal is None:
        raise _unauthorized("an API key is required (Authorization: Bearer <key>)")
    if request.method not in _SAFE_METHODS and not auth.csrf_ok(request, request.headers.get(CSRF_HEADER)):
        raise ApiError(403, "csrf_failed", "missing or wrong X-CSRF-Token for a cookie-authenticated request")
    return principal


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, who must hold at least `role`."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Principal:
        principal = authenticate(request, credentials, request.app.state.gateway.clock())
        if not principal.at_least(role):
            raise ApiError(
                403,
                "forbidden",
                f"this needs the {role} role; the key used has the {principal.role} role",
                {"required_role": role, "role": principal.role},
            )
        return principal

    return dependency


Operator = Annotated[Principal, Depends(require("operator"))]
Coordinator = Annotated[Principal, Depends(require("coordinator"))]
Admin = Annotated[Principal, Depends(require("admin"))]
