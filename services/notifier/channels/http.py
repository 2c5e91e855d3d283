"""HTTP calls to providers, with their failures mapped onto the delivery error taxonomy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from services.notifier.backoff import parse_retry_after
from services.notifier.errors import (
    ConnectionFailed,
    ConnectionLost,
    DeliveryError,
    Misconfigured,
    ProviderTimeout,
    RateLimited,
    Rejected,
    ServerError,
)

USER_AGENT = "sigap-notifier/1"


def new_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=40),
        follow_redirects=False,
    )


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    timeout_s: float,
    json: Any = None,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | None = None,
) -> httpx.Response:
    """POST, telling apart "never sent" (safe to retry) from "sent, no answer" (maybe delivered)."""
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
    try:
        return await client.post(
            url,
            json=json,
            data=data,
            headers=headers,
            auth=httpx.USE_CLIENT_DEFAULT if auth is None else auth,
            timeout=timeout,
        )
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise ConnectionFailed(f"cannot reach the provider ({type(exc).__name__})") from None
    except httpx.TimeoutException as exc:
        raise ProviderTimeout(f"no answer within {timeout_s:g}s ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise ConnectionLost(f"connection broke ({type(exc).__name__})") from None


def retry_after_of(response: httpx.Response) -> float | None:
    return parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))


def error_for_status(status: int, detail: str, retry_after: float | None = None) -> DeliveryError:
    """The taxonomy of a bare HTTP status, for answers a provider-specific mapping did not explain."""
    if status == 429:
        return RateLimited(f"HTTP 429: {detail}", retry_after=retry_after)
    if status in (408, 425) or status >= 500:
        return ServerError(f"HTTP {status}: {detail}", retry_after=retry_after)
    if status in (401, 403):
        return Misconfigured(f"HTTP {status}: {detail}")
    return Rejected(f"HTTP {status}: {detail}")


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or {} when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
