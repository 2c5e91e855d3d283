"""The CLI's API calls: a call marked safe to repeat is retried after a 503 or a network error, through
`services.common.retry`, as often as asked and no more (the gateway is an `httpx.MockTransport`)."""

from __future__ import annotations

import httpx
import pytest

from services.cli.api import Api
from services.cli.console import CliError
from services.common.retry import Backoff


def api(*answers: int | Exception) -> tuple[Api, list[str]]:
    """An `Api` whose gateway answers each request with the next status (or raises the next error)."""
    left, seen = list(answers), []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Idempotency-Key"])
        answer = left.pop(0)
        if isinstance(answer, Exception):
            raise answer
        body = {"id": "INC-1"} if answer == 202 else {"error": {"code": "busy", "message": "sibuk"}}
        return httpx.Response(answer, json=body)

    client = Api("http://gateway.test", "key", transport=httpx.MockTransport(gateway))
    client.backoff = Backoff(0.0, 0.0)  # the waits are the retry helper's (tested there)
    return client, seen


async def test_a_503_and_a_lost_connection_are_retried_with_the_same_request() -> None:
    client, seen = api(503, httpx.ConnectError("refused"), 202)
    answer = await client.call(
        "POST", "/api/v1/incidents", json={}, headers={"Idempotency-Key": "k"}, retries=3
    )
    assert answer == {"id": "INC-1"}
    assert seen == ["k", "k", "k"]


async def test_the_last_503_is_told_when_the_retries_run_out() -> None:
    client, seen = api(503, 503)
    with pytest.raises(CliError, match="503 busy: sibuk"):
        await client.call("POST", "/api/v1/incidents", headers={"Idempotency-Key": "k"}, retries=1)
    assert len(seen) == 2


async def test_a_call_without_retries_is_made_once() -> None:
    client, seen = api(httpx.ConnectError("refused"))
    with pytest.raises(CliError, match="cannot reach the gateway"):
        await client.call("GET", "/api/v1/incidents", headers={"Idempotency-Key": "k"})
    assert len(seen) == 1
