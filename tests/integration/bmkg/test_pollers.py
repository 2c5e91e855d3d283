"""The BMKG pollers against a local HTTP server, the real Kafka broker and the real Redis."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from schemas.envelope import Envelope
from schemas.events import Payload, WeatherAlertCancelled, WeatherAlertIssued, WeatherAlertUpdated
from services.common.config import Settings
from services.common.kafka import new_producer, publish
from services.common.topics import WEATHER_ALERTS
from services.gateway.bmkg.ingest import event_id_for
from services.gateway.bmkg.poller import start_pollers
from services.gateway.bmkg.store import BmkgKeys
from tests.integration.bmkg.feeds import FeedServer, TopicReader, wait_for
from tests.unit.bmkg.documents import (
    GORONTALO,
    KEDIRI,
    KEDIRI_CANCEL,
    KEDIRI_UPDATE,
    MOJOROTO,
    PESANTREN,
    codes_of,
    quake_json,
    read,
    shifted,
)

pytestmark = pytest.mark.integration

KEDIRI_ID = "2.49.0.1.360.0.2026.01.15.08.35.001"


def rss(server: FeedServer, items: list[tuple[str, str]]) -> bytes:
    """An RSS list in BMKG's shape: (guid, path of the CAP document)."""
    entries = "".join(
        f"<item><title>Peringatan</title><link>{server.url(path)}</link>"
        f'<guid isPermaLink="false">{guid}</guid><pubDate>Sat, 28 Nov 2026 15:07:00 +0700</pubDate></item>'
        for guid, path in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Peringatan Dini Cuaca BMKG</title>{entries}</channel></rss>"
    ).encode()


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feeds = await FeedServer().start()
    yield feeds
    await feeds.stop()


@pytest.fixture
async def producer(topics: Settings) -> AsyncIterator[AIOKafkaProducer]:
    kafka = new_producer(topics.kafka_bootstrap, "test-bmkg")
    await kafka.start()
    yield kafka
    await kafka.stop()


@pytest.fixture
async def reader(topics: Settings) -> AsyncIterator[TopicReader]:
    topic_reader = await TopicReader(topics.kafka_bootstrap, topics.topic(WEATHER_ALERTS)).start()
    yield topic_reader
    await topic_reader.stop()


def poll_settings(settings: Settings, server: FeedServer, **feeds: str) -> Settings:
    return settings.model_copy(
        update={
            "bmkg_poll": True,
            "bmkg_nowcast_rss_url": feeds.get("nowcast", ""),
            "bmkg_autogempa_url": feeds.get("autogempa", ""),
            "bmkg_gempadirasakan_url": feeds.get("gempadirasakan", ""),
            "bmkg_poll_interval_s": 0.1,
            "bmkg_backoff_max_s": 0.5,
            "bmkg_http_timeout_s": 5.0,
        }
    )


def payloads(events: list[Envelope[Payload]]) -> list[Payload]:
    return [e.payload for e in events]


async def test_kediri_warning_is_published_once_and_polls_are_conditional(
    topics: Settings, server: FeedServer, producer: AIOKafkaProducer, reader: TopicReader, redis: Redis
) -> None:
    now = datetime.now(UTC)
    suffix = "." + topics.topic_prefix.strip(".")
    ident = KEDIRI_ID + suffix
    server.put("/alerts/kediri_alert.xml", shifted(KEDIRI, now, identifier_suffix=suffix))
    server.put("/alerts/gorontalo_alert.xml", read(GORONTALO))  # elsewhere (and long expired)
    listing = rss(server, [("gorontalo", "/alerts/gorontalo_alert.xml"), (ident, "/alerts/kediri_alert.xml")])
    # a link to another host (here: the same server under another name) is never followed
    foreign = server.url("/alerts/kediri_alert.xml").replace("127.0.0.1", "localhost")
    listing = listing.replace(
        b"</channel>", f"<item><guid>x</guid><link>{foreign}</link></item></channel>".encode()
    )
    server.put("/rss.xml", listing)
    settings = poll_settings(topics, server, nowcast=server.url("/rss.xml"))
    ignored_before = metric("sigap_bmkg_documents_total", origin="nowcast", outcome="ignored")
    foreign_before = metric("sigap_bmkg_poll_errors_total", feed="nowcast", kind="foreign_link")

    pollers = await start_pollers(settings, producer, redis)
    try:
        (event,) = await reader.wait(1)
        # the list is polled again with If-None-Match and gets 304 Not Modified, several times
        await wait_for(lambda: len(server.requests("/rss.xml", 304)) >= 3, what="three 304s")
    finally:
        await pollers.stop()

    assert event.event_type == "weather_alert.issued"
    assert event.event_id == event_id_for(f"{ident}:Alert")
    assert reader.keys[0] == ident.encode()
    payload = event.payload
    assert isinstance(payload, WeatherAlertIssued)
    assert payload.alert_id == ident
    assert payload.affected_kelurahan == codes_of(MOJOROTO, PESANTREN)
    assert payload.affected_kecamatan == ["Mojoroto", "Pesantren"]

    rss_requests = server.requests("/rss.xml")
    assert rss_requests[0].if_none_match is None
    assert all(r.if_none_match and r.if_modified_since for r in rss_requests[1:])
    assert len(server.requests("/alerts/kediri_alert.xml")) == 1  # each document fetched once
    assert metric("sigap_bmkg_poll_errors_total", feed="nowcast", kind="foreign_link") == foreign_before + 1
    assert len(server.requests("/alerts/gorontalo_alert.xml")) == 1
    assert metric("sigap_bmkg_documents_total", origin="nowcast", outcome="ignored") == ignored_before + 1
    assert await redis.exists(BmkgKeys(topics.redis_prefix).seen(f"{ident}:Alert"))
    assert len(await reader.settle()) == 1


async def test_a_restarted_poller_does_not_publish_again(
    topics: Settings, server: FeedServer, producer: AIOKafkaProducer, reader: TopicReader, redis: Redis
) -> None:
    now = datetime.now(UTC)
    suffix = "." + topics.topic_prefix.strip(".")
    ident = KEDIRI_ID + suffix
    server.put("/k.xml", shifted(KEDIRI, now, identifier_suffix=suffix))
    server.put("/rss.xml", rss(server, [(ident, "/k.xml")]))
    settings = poll_settings(topics, server, nowcast=server.url("/rss.xml"))

    issued = metric("sigap_bmkg_documents_total", origin="nowcast", outcome="issued")
    first = await start_pollers(settings, producer, redis)
    try:
        await reader.wait(1)
        # The record can reach the topic before the producer's acknowledgement reaches the poller; a
        # poller stopped in between does not know it was sent and releases its claim (at least once),
        # so the next one would publish it again, under the same event id. Stop it once it knows.
        await wait_for(
            lambda: metric("sigap_bmkg_documents_total", origin="nowcast", outcome="issued") > issued,
            what="the first poller done with the document",
        )
    finally:
        await first.stop()
    duplicates = metric("sigap_bmkg_documents_total", origin="nowcast", outcome="duplicate")

    second = await start_pollers(settings, producer, redis)  # fresh memory: fetches everything again
    try:
        await wait_for(lambda: len(server.requests("/k.xml")) == 2, what="the document fetched again")
        await wait_for(
            lambda: metric("sigap_bmkg_documents_total", origin="nowcast", outcome="duplicate") > duplicates,
            what="the duplicate counted",
        )
    finally:
        await second.stop()
    assert len(await reader.settle()) == 1


async def test_update_and_cancel_follow_the_alert(
    topics: Settings, server: FeedServer, producer: AIOKafkaProducer, reader: TopicReader, redis: Redis
) -> None:
    now = datetime.now(UTC)
    suffix = "." + topics.topic_prefix.strip(".")
    ids = [f"2.49.0.1.360.0.2026.01.15.08.35.00{n}{suffix}" for n in (1, 2, 3)]
    server.put("/1.xml", shifted(KEDIRI, now, identifier_suffix=suffix))
    server.put("/2.xml", shifted(KEDIRI_UPDATE, now, identifier_suffix=suffix))
    server.put("/3.xml", shifted(KEDIRI_CANCEL, now, identifier_suffix=suffix))
    server.put("/rss.xml", rss(server, [(ids[0], "/1.xml")]))
    settings = poll_settings(topics, server, nowcast=server.url("/rss.xml"))

    pollers = await start_pollers(settings, producer, redis)
    try:
        await reader.wait(1)
        server.put("/rss.xml", rss(server, [(ids[0], "/1.xml"), (ids[1], "/2.xml")]))
        await reader.wait(2)
        server.put("/rss.xml", rss(server, [(ids[2], "/3.xml")]))  # BMKG drops the old items
        await reader.wait(3)
    finally:
        await pollers.stop()

    issued, updated, cancelled = payloads(reader.events)
    assert isinstance(issued, WeatherAlertIssued)
    assert isinstance(updated, WeatherAlertUpdated)
    assert updated.alert_id == ids[1]
    assert updated.references == [ids[0]]
    assert updated.affected_kelurahan == codes_of(MOJOROTO)
    assert isinstance(cancelled, WeatherAlertCancelled)
    assert cancelled.alert_id == ids[2]
    assert cancelled.cancelled_alert_ids == ids[:2]
    assert [e.event_type for e in reader.events] == [
        "weather_alert.issued",
        "weather_alert.updated",
        "weather_alert.cancelled",
    ]
    assert len(await reader.settle()) == 3


async def test_feed_errors_back_off_and_recover(
    topics: Settings, server: FeedServer, producer: AIOKafkaProducer, reader: TopicReader, redis: Redis
) -> None:
    quake_time = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    server.put(
        "/autogempa.json",
        quake_json(quake_time, lat=-8.45, lon=112.1, magnitude=5.6, felt="III Kediri, III Blitar"),
        "application/json",
    )
    server.fail["/autogempa.json"] = 3
    server.put("/broken.json", b'{"Infogempa": {"gempa": {"Magnitude": "5.0", ', "application/json")
    settings = poll_settings(
        topics, server, autogempa=server.url("/autogempa.json"), gempadirasakan=server.url("/broken.json")
    )
    http_errors = metric("sigap_bmkg_poll_errors_total", feed="autogempa", kind="http")
    parse_errors = metric("sigap_bmkg_poll_errors_total", feed="gempadirasakan", kind="parse")

    pollers = await start_pollers(settings, producer, redis)
    try:
        (event,) = await reader.wait(1)
        await wait_for(lambda: len(server.requests("/broken.json")) >= 3, what="the broken feed retried")
        assert all(task.done() is False for task in pollers.tasks)  # neither poller died
    finally:
        await pollers.stop()

    statuses = [s.status for s in server.requests("/autogempa.json")]
    assert statuses[:4] == [500, 500, 500, 200]
    assert metric("sigap_bmkg_poll_errors_total", feed="autogempa", kind="http") == http_errors + 3
    assert metric("sigap_bmkg_poll_errors_total", feed="gempadirasakan", kind="parse") >= parse_errors + 3
    payload = event.payload
    assert isinstance(payload, WeatherAlertIssued)
    assert payload.kind == "earthquake"
    assert payload.alert_id == "gempa-" + quake_time.strftime("%Y%m%dT%H%M%SZ")
    assert len(payload.affected_kelurahan) == 46
    assert payload.magnitude == 5.6
    assert payload.felt == "III Kediri, III Blitar"


async def test_quakes_elsewhere_or_old_are_dropped(
    topics: Settings, server: FeedServer, producer: AIOKafkaProducer, reader: TopicReader, redis: Redis
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    felt_list = {
        "Infogempa": {
            "gempa": [
                json.loads(quake_json(now, lat=-0.7, lon=122.45, magnitude=5.3))["Infogempa"]["gempa"],
                json.loads(quake_json(now - timedelta(days=2), lat=-8.3, lon=112.0, magnitude=6.0))[
                    "Infogempa"
                ]["gempa"],
            ]
        }
    }
    server.put("/dirasakan.json", json.dumps(felt_list).encode(), "application/json")
    settings = poll_settings(topics, server, gempadirasakan=server.url("/dirasakan.json"))
    ignored = metric("sigap_bmkg_documents_total", origin="gempadirasakan", outcome="ignored")

    pollers = await start_pollers(settings, producer, redis)
    try:
        await wait_for(lambda: len(server.requests("/dirasakan.json", 304)) >= 2, what="two 304s")
    finally:
        await pollers.stop()
    assert metric("sigap_bmkg_documents_total", origin="gempadirasakan", outcome="ignored") == ignored + 2
    assert await reader.settle(500) == []


async def test_an_unacknowledged_publish_is_retried_on_the_next_poll(
    topics: Settings, server: FeedServer, producer: AIOKafkaProducer, reader: TopicReader, redis: Redis
) -> None:
    """The broker's acknowledgement is what counts: a failed publish releases the dedupe claim and the
    validators are not kept, so the next poll fetches and publishes again."""

    class FlakyPublisher:
        """The real producer behind a switch that fails the first publish."""

        def __init__(self) -> None:
            self.calls = 0

        async def publish(self, topic_name: str, event: Envelope[Payload]) -> None:
            self.calls += 1
            if self.calls == 1:
                raise KafkaTimeoutError("injected: no acknowledgement")
            await publish(producer, topics.topic(topic_name), event)

    now = datetime.now(UTC)
    suffix = "." + topics.topic_prefix.strip(".")
    server.put("/k.xml", shifted(KEDIRI, now, identifier_suffix=suffix))
    server.put("/rss.xml", rss(server, [(KEDIRI_ID + suffix, "/k.xml")]))
    flaky = FlakyPublisher()
    settings = poll_settings(topics, server, nowcast=server.url("/rss.xml"))
    kafka_errors = metric("sigap_bmkg_poll_errors_total", feed="nowcast", kind="kafka")

    pollers = await start_pollers(settings, flaky, redis)
    try:
        await reader.wait(1)
    finally:
        await pollers.stop()

    assert flaky.calls == 2
    assert metric("sigap_bmkg_poll_errors_total", feed="nowcast", kind="kafka") == kafka_errors + 1
    assert [r.status for r in server.requests("/rss.xml")][:2] == [200, 200]  # not 304 after the failure
    assert len(await reader.settle()) == 1


async def test_polling_is_off_unless_enabled(
    topics: Settings, producer: AIOKafkaProducer, redis: Redis
) -> None:
    assert topics.bmkg_poll is False
    pollers = await start_pollers(topics, producer, redis)
    assert pollers.tasks == []
    await pollers.stop()
