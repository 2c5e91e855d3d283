"""A local stand-in for BMKG's servers (aiohttp.web on a free port) and a reader of `weather-alerts`."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.envelope import Envelope, decode_event
from schemas.events import Payload

LAST_MODIFIED = "Sat, 28 Nov 2026 08:00:00 GMT"


@dataclass
class Seen:
    path: str
    status: int
    if_none_match: str | None
    if_modified_since: str | None


@dataclass
class FeedServer:
    """Serves documents by path with ETag and Last-Modified; answers 304 to a matching If-None-Match;
    `fail[path] = n` answers the next n requests with 500."""

    documents: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    runner: web.AppRunner | None = None
    base: str = ""

    def put(self, path: str, body: bytes, content_type: str = "application/xml") -> str:
        self.documents[path] = (body, content_type)
        return self.base + path

    def url(self, path: str) -> str:
        return self.base + path

    def requests(self, path: str, status: int | None = None) -> list[Seen]:
        return [s for s in self.seen if s.path == path and (status is None or s.status == status)]

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        inm, ims = request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since")
        if self.fail.get(path, 0) > 0:
            self.fail[path] -= 1
            self.seen.append(Seen(path, 500, inm, ims))
            return web.Response(status=500, text="Internal Server Error")
        if path not in self.documents:
            self.seen.append(Seen(path, 404, inm, ims))
            return web.Response(status=404)
        body, content_type = self.documents[path]
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if inm == etag:
            self.seen.append(Seen(path, 304, inm, ims))
            return web.Response(status=304, headers={"ETag": etag})
        self.seen.append(Seen(path, 200, inm, ims))
        return web.Response(
            body=body, content_type=content_type, headers={"ETag": etag, "Last-Modified": LAST_MODIFIED}
        )

    async def start(self) -> FeedServer:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.base = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def wait_for(condition: Callable[[], object], timeout_s: float = 20.0, what: str = "condition") -> None:
    """Poll `condition()` until true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")


class TopicReader:
    """Reads every partition of the test's topic from the beginning; decodes with the strict decoder.

    Partitions are assigned explicitly once the broker's metadata lists the topic: a subscription made
    before a just-created topic is in the client's metadata may wait for the next refresh (minutes)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", metadata_max_age_ms=1000
        )
        self.events: list[Envelope[Payload]] = []
        self.keys: list[bytes | None] = []

    async def start(self, timeout_s: float = 30.0) -> TopicReader:
        await self.consumer.start()
        deadline = time.monotonic() + timeout_s
        while not (partitions := self.consumer.partitions_for_topic(self.topic)):
            if time.monotonic() > deadline:
                await self.consumer.stop()
                raise TimeoutError(f"topic {self.topic} not in the broker's metadata after {timeout_s}s")
            await self.consumer.topics()  # a metadata request
            await asyncio.sleep(0.1)
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(assigned)
        await self.consumer.seek_to_beginning(*assigned)
        return self

    async def stop(self) -> None:
        await self.consumer.stop()

    async def _drain(self, timeout_ms: int) -> None:
        batches = await asyncio.wait_for(self.consumer.getmany(timeout_ms=timeout_ms), timeout_ms / 1000 + 10)
        for records in batches.values():
            for record in records:
                self.events.append(decode_event(record.value))
                self.keys.append(record.key)

    async def wait(self, count: int, timeout_s: float = 30.0) -> list[Envelope[Payload]]:
        """At least `count` events in total (or TimeoutError)."""
        deadline = time.monotonic() + timeout_s
        while len(self.events) < count and time.monotonic() < deadline:
            await self._drain(200)
        if len(self.events) < count:
            raise TimeoutError(f"{len(self.events)} events after {timeout_s}s, expected {count}")
        return self.events

    async def settle(self, timeout_ms: int = 1000) -> list[Envelope[Payload]]:
        """Whatever else arrives in a short while (to check that nothing more was published)."""
        await self._drain(timeout_ms)
        return self.events
