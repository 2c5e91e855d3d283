"""BMKG feed pollers: asyncio tasks inside the gateway process.

One task per configured feed (nowcast RSS → CAP documents; autogempa; gempadirasakan). Each poll is a
conditional GET (If-None-Match / If-Modified-Since); a failure of any kind is logged with its reason,
counted, and followed by exponential backoff with jitter — a broken feed never stops its poller, and
never the gateway. Validators are kept only after a document was fully handled, so a publish that failed
is retried on the next poll instead of being hidden behind a 304.

Off unless `SIGAP_BMKG_POLL=true` (the feeds need the internet; tests point the URLs at local servers).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas.envelope import Envelope
from schemas.errors import SigapError
from schemas.events import Payload
from schemas.fields import utcnow
from services.common.kafka import publish
from services.common.retry import Backoff
from services.common.topics import WEATHER_ALERTS
from services.gateway.bmkg.errors import FeedError
from services.gateway.bmkg.ingest import Ingestor, Send
from services.gateway.bmkg.metrics import POLL_ERRORS, POLLS
from services.gateway.bmkg.quake import QuakeRules, parse_quake
from services.gateway.bmkg.rss import parse_rss
from services.gateway.bmkg.store import AlertStore
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

USER_AGENT = "Sigap/0.1 (Dinas Sosial Kota Kediri disaster dispatch)"


# --- fetching ---------------------------------------------------------------------------------


class FetchError(SigapError):
    """A GET that gave no usable document; `retriable` when the network or the server failed for a
    moment (not for an answer that will be the same next time: 4xx, too large)."""

    def __init__(
        self,
        reason: str,
        *,
        kind: str = "network",
        retry_after_s: float | None = None,
        retriable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.retry_after_s = retry_after_s
        self.retriable = retriable


@dataclass(frozen=True, slots=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True, slots=True)
class Fetched:
    body: bytes
    validators: Validators


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff is good enough


async def fetch(
    client: httpx.AsyncClient, url: str, *, max_bytes: int, validators: Validators | None = None
) -> Fetched | None:
    """GET `url`; None for 304 Not Modified. The body is read up to `max_bytes` (after decompression)."""
    headers = validators.headers() if validators else {}
    try:
        async with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return None
            if response.status_code != 200:
                raise FetchError(
                    f"GET {url} answered HTTP {response.status_code}",
                    kind="http",
                    retry_after_s=_retry_after(response.headers.get("retry-after")),
                    retriable=response.status_code >= 500 or response.status_code == 429,
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"GET {url}: {declared} bytes, the limit is {max_bytes}", kind="too_large")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"GET {url}: more than {max_bytes} bytes", kind="too_large")
            return Fetched(
                bytes(body),
                Validators(response.headers.get("etag"), response.headers.get("last-modified")),
            )
    except httpx.HTTPError as exc:
        raise FetchError(f"GET {url} failed: {type(exc).__name__}: {exc}", retriable=True) from None


# --- backoff ----------------------------------------------------------------------------------


def backoff_delay(
    failures: int,
    *,
    interval_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """The wait before the next poll: the interval when healthy; after n failures in a row,
    interval·2ⁿ capped at `max_s`, with "equal jitter" (half fixed, half random) so replicas spread out."""
    if failures <= 0:
        return interval_s
    delay = Backoff(min(2 * interval_s, max_s), max_s, jitter=True).delay(failures, rand)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, max_s))
    return max(delay, min(interval_s, max_s))


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, FetchError):
        return exc.kind
    if isinstance(exc, FeedError):
        return "parse"
    if isinstance(exc, KafkaError):
        return "kafka"
    if isinstance(exc, RedisError):
        return "redis"
    return "other"


# --- pollers ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollerConfig:
    client: httpx.AsyncClient
    ingestor: Ingestor
    interval_s: float
    backoff_max_s: float
    max_bytes: int


class FeedPoller:
    """Polls one URL forever; subclasses say what a fetched document means."""

    def __init__(self, name: str, url: str, config: PollerConfig) -> None:
        self.name = name
        self.url = url
        self.client = config.client
        self.ingestor = config.ingestor
        self.interval_s = config.interval_s
        self.backoff_max_s = config.backoff_max_s
        self.max_bytes = config.max_bytes
        self.validators: Validators | None = None
        self.failures = 0
        self.polls = 0

    async def run(self) -> None:
        log.info("BMKG %s poller: %s every %.1f s", self.name, self.url, self.interval_s)
        while True:
            retry_after: float | None = None
            try:
                changed = await self.poll_once()
                POLLS.labels(self.name, "ok" if changed else "not_modified").inc()
                if self.failures:
                    log.info("BMKG %s feed recovered after %d failed polls", self.name, self.failures)
                self.failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broken feed must never stop the poller
                self.failures += 1
                kind = error_kind(exc)
                retry_after = exc.retry_after_s if isinstance(exc, FetchError) else None
                POLLS.labels(self.name, "error").inc()
                POLL_ERRORS.labels(self.name, kind).inc()
                log.warning(
                    "BMKG %s poll failed (%s, %d in a row): %s",
                    self.name,
                    kind,
                    self.failures,
                    getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}",
                )
            self.polls += 1
            await asyncio.sleep(
                backoff_delay(
                    self.failures,
                    interval_s=self.interval_s,
                    max_s=self.backoff_max_s,
                    retry_after_s=retry_after,
                )
            )

    async def poll_once(self) -> bool:
        """One poll; False when the feed has not changed. Raises on any failure."""
        fetched = await fetch(self.client, self.url, max_bytes=self.max_bytes, validators=self.validators)
        if fetched is None:
            return False
        await self.handle(fetched.body)
        self.validators = fetched.validators
        return True

    async def handle(self, body: bytes) -> None:
        raise NotImplementedError


class NowcastPoller(FeedPoller):
    """The nowcast RSS list, then each CAP document it points to that this poller has not handled.

    Only links on the list's own host are followed (BMKG serves both from www.bmkg.go.id): a tampered
    list must not make the gateway fetch addresses inside the office network."""

    def __init__(self, name: str, url: str, config: PollerConfig) -> None:
        super().__init__(name, url, config)
        self.done: set[tuple[str, str]] = set()  # (guid, url) handled: fetched once per process
        self.host = urlsplit(url).hostname

    async def handle(self, body: bytes) -> None:
        feed = await asyncio.to_thread(parse_rss, body, max_bytes=self.max_bytes)
        for warning in feed.warnings:
            log.warning("BMKG %s: %s", self.name, warning)
        current = {(item.guid, item.url) for item in feed.items}
        failed: list[BaseException] = []
        for item in feed.items:
            key = (item.guid, item.url)
            if key in self.done:
                continue
            if urlsplit(item.url).hostname != self.host:
                POLL_ERRORS.labels(self.name, "foreign_link").inc()
                log.warning("BMKG %s: %s skipped: not on the list's host %s", self.name, item.url, self.host)
                self.done.add(key)
                continue
            try:
                document = await fetch(self.client, item.url, max_bytes=self.max_bytes)
                if document is None:  # 304 to an unconditional GET: a confused server
                    raise FetchError(f"GET {item.url} answered 304 to an unconditional request", kind="http")
                await self.ingestor.cap_document(document.body, origin=self.name)
            except FeedError as exc:
                # the same bytes will fail again: count it, skip it, keep going
                POLL_ERRORS.labels(self.name, "parse").inc()
                log.warning("BMKG %s: %s skipped: %s", self.name, item.url, exc.reason)
            except (FetchError, KafkaError, RedisError, OSError) as exc:
                failed.append(exc)  # transient: this item is tried again on the next poll
                continue
            self.done.add(key)
        self.done &= current
        if failed:
            raise failed[0]


class QuakePoller(FeedPoller):
    """autogempa (the latest earthquake) or gempadirasakan (the last 15 felt ones), JSON or XML."""

    def __init__(self, name: str, url: str, config: PollerConfig) -> None:
        super().__init__(name, url, config)
        self.done: set[str] = set()

    async def handle(self, body: bytes) -> None:
        feed = parse_quake(body, max_bytes=self.max_bytes)
        for reason in feed.rejected:
            POLL_ERRORS.labels(self.name, "parse").inc()
            log.warning("BMKG %s: %s", self.name, reason)
        for quake in feed.quakes:
            if quake.alert_id in self.done:
                continue
            await self.ingestor.quake(quake, origin=self.name)
            self.done.add(quake.alert_id)
        self.done &= {q.alert_id for q in feed.quakes}


@dataclass
class Pollers:
    """The running pollers; `stop()` cancels them and closes their HTTP client."""

    pollers: list[FeedPoller] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    client: httpx.AsyncClient | None = None

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("BMKG poller ended with an error")
        self.tasks.clear()
        if self.client is not None:
            await self.client.aclose()
            self.client = None


def quake_rules(settings: GatewaySettings) -> QuakeRules:
    return QuakeRules(
        min_magnitude=settings.quake_min_magnitude,
        max_distance_km=settings.quake_max_distance_km,
        strong_magnitude=settings.quake_strong_magnitude,
        strong_distance_km=settings.quake_strong_distance_km,
        alert_ttl_s=settings.quake_alert_ttl_s,
    )


class TopicPublisher(Protocol):
    """The gateway's publisher: `publish(topic_name, event)` with the name before the prefix."""

    async def publish(self, topic_name: str, event: Envelope[Payload]) -> None: ...


def sender(settings: GatewaySettings, producer: AIOKafkaProducer | TopicPublisher) -> Send:
    """`send(event)` onto `weather-alerts` through a raw producer or the gateway's publisher."""
    if isinstance(producer, AIOKafkaProducer):
        topic = settings.topic(WEATHER_ALERTS)

        async def send_raw(event: Envelope[Payload]) -> None:
            await publish(producer, topic, event)

        return send_raw

    async def send_via(event: Envelope[Payload]) -> None:
        await producer.publish(WEATHER_ALERTS, event)

    return send_via


def new_ingestor(
    settings: GatewaySettings,
    producer: AIOKafkaProducer | TopicPublisher,
    redis: Redis,
    clock: Callable[[], datetime] = utcnow,
) -> Ingestor:
    return Ingestor(
        send=sender(settings, producer),
        store=AlertStore(redis, settings.redis_prefix, settings.bmkg_seen_ttl_s),
        max_bytes=settings.bmkg_max_document_bytes,
        rules=quake_rules(settings),
        clock=clock,
    )


async def start_pollers(
    settings: GatewaySettings,
    producer: AIOKafkaProducer | TopicPublisher,
    redis: Redis,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Pollers:
    """Start one task per configured feed; nothing when `SIGAP_BMKG_POLL` is off."""
    if not settings.bmkg_poll:
        log.info("BMKG polling is off (SIGAP_BMKG_POLL=false)")
        return Pollers()
    client = httpx.AsyncClient(
        timeout=settings.bmkg_http_timeout_s,
        follow_redirects=True,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
    )
    ingestor = new_ingestor(settings, producer, redis, clock)
    config = PollerConfig(
        client=client,
        ingestor=ingestor,
        interval_s=settings.bmkg_poll_interval_s,
        backoff_max_s=settings.bmkg_backoff_max_s,
        max_bytes=settings.bmkg_max_document_bytes,
    )
    pollers: list[FeedPoller] = []
    if settings.bmkg_nowcast_rss_url:
        pollers.append(NowcastPoller("nowcast", settings.bmkg_nowcast_rss_url, config))
    if settings.bmkg_autogempa_url:
        pollers.append(QuakePoller("autogempa", settings.bmkg_autogempa_url, config))
    if settings.bmkg_gempadirasakan_url:
        pollers.append(QuakePoller("gempadirasakan", settings.bmkg_gempadirasakan_url, config))
    tasks = [asyncio.create_task(p.run(), name=f"bmkg-{p.name}") for p in pollers]
    return Pollers(pollers, tasks, client)
