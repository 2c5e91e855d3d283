"""`poller.fetch` against the local feed server: each failure says whether polling again can help."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.gateway.bmkg.poller import FetchError, fetch
from tests.integration.bmkg.feeds import FeedServer
from tests.support.procs import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feeds = await FeedServer().start()
    yield feeds
    await feeds.stop()


async def _failure(url: str, max_bytes: int = 1 << 20) -> FetchError:
    async with httpx.AsyncClient(timeout=5.0) as client:
        with pytest.raises(FetchError) as caught:
            await fetch(client, url, max_bytes=max_bytes)
    return caught.value


async def test_a_server_error_or_no_server_is_retriable(server: FeedServer) -> None:
    server.put("/rss.xml", b"<rss/>")
    server.fail["/rss.xml"] = 1
    failed = await _failure(server.url("/rss.xml"))
    assert (failed.kind, failed.retriable) == ("http", True)
    refused = await _failure(f"http://127.0.0.1:{free_port()}/rss.xml")
    assert (refused.kind, refused.retriable) == ("network", True)


async def test_a_missing_or_oversized_document_is_not(server: FeedServer) -> None:
    missing = await _failure(server.url("/gone.xml"))
    assert (missing.kind, missing.retriable) == ("http", False)
    server.put("/big.xml", b"<rss>" + b" " * 4096 + b"</rss>")
    big = await _failure(server.url("/big.xml"), max_bytes=1024)
    assert (big.kind, big.retriable) == ("too_large", False)
