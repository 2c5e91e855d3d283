"""The gateway's HTTP API as the commands call it: a bearer key, retries where they are safe, and the
API's error body (`{"error": {"code", "message", "details"}}`) told in one line per failing field."""

from __future__ import annotations

import argparse
import os
from typing import Any

import httpx

from services.cli.console import err, fail
from services.common.config import Settings, get_settings
from services.common.retry import Backoff, retry


def local_key(settings: Settings, role: str) -> str | None:
    """On a local development stack the keys are in the settings; elsewhere they must be given."""
    if settings.env != "local":
        return None
    for key, key_role in settings.api_key_roles().items():
        if key_role == role:
            return key
    return None


def default_url(settings: Settings) -> str:
    return os.environ.get("SIGAP_API_URL") or f"http://{settings.http_host}:{settings.http_port}"


RETRY = Backoff(2.0, 8.0)
"""Between the tries of a call the caller marked safe to repeat."""


class GatewayBusy(Exception):
    """The gateway answered 503 (broker or store busy): worth another try."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__("the gateway answered 503 (broker or store busy)")
        self.response = response


def _worth_another_try(exc: Exception) -> bool:
    return isinstance(exc, httpx.HTTPError | GatewayBusy)


def _retrying(exc: Exception, wait: float) -> None:
    what = str(exc) if isinstance(exc, GatewayBusy) else f"gateway unreachable ({exc})"
    err(f"  {what}; retrying in {wait:.0f}s…")


class Api:
    def __init__(
        self, url: str, key: str | None, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        if not key:
            fail("an API key is needed: --key or SIGAP_API_KEY")
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {key}"}
        self.transport = transport
        """where requests go (None: the network; a test's `httpx.MockTransport`)"""
        self.backoff = RETRY

    async def call(self, method: str, path: str, *, retries: int = 0, **kwargs: Any) -> Any:
        """One API call; `retries` repeats a safe or idempotent one after a 503 or a network error
        (`services.common.retry`)."""
        async with httpx.AsyncClient(
            base_url=self.url, timeout=30.0, headers=self.headers, transport=self.transport
        ) as client:

            async def attempt() -> httpx.Response:
                response = await client.request(method, path, **kwargs)
                if response.status_code == 503:
                    raise GatewayBusy(response)
                return response

            try:
                response = await retry(
                    attempt, self.backoff, when=_worth_another_try, on_retry=_retrying, tries=retries + 1
                )
            except GatewayBusy as busy:
                response = busy.response
            except httpx.HTTPError as exc:
                fail(f"cannot reach the gateway at {self.url}: {exc}")
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                details = error.get("details")
                extra = ""
                if isinstance(details, list):
                    extra = "\n" + "\n".join(f"  {d.get('field')}: {d.get('message')}" for d in details)
                fail(f"{response.status_code} {error['code']}: {error['message']}{extra}")
            except (ValueError, KeyError, TypeError):
                fail(f"{response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None


def api_for(args: argparse.Namespace, role: str = "operator") -> Api:
    """The API at `--url` with `--key` (else SIGAP_API_URL / SIGAP_API_KEY, else the local stack's)."""
    settings = get_settings()
    key = args.key or os.environ.get("SIGAP_API_KEY") or local_key(settings, role)
    return Api(args.url or default_url(settings), key)


def add_api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="gateway base URL (default SIGAP_API_URL or SIGAP_HTTP_HOST:PORT)")
    parser.add_argument("--key", help="API key (default SIGAP_API_KEY; the local dev key on `make up`)")
