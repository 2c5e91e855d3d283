"""End to end (DESIGN.md §6): a BMKG warning for Kota Kediri is polled by the gateway, becomes a
`weather-alerts` event, and the dispatcher answers with a banner and standby notices — which the notifier
puts in the outbox — for exactly the on-duty Tagana and TRC of the affected kelurahan (not Karang Taruna);
a Cancel clears the banner.

Real processes (gateway, dispatcher, notifier), the real Kafka broker and Redis; BMKG is a local HTTP
server serving the synthetic Kota Kediri documents (tests/fixtures/bmkg/).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from schemas.api import OutboxMessage, WeatherAlertView
from schemas.envelope import make_event
from schemas.events import (
    ChannelAddress,
    NotificationRequested,
    Payload,
    VolunteerProfile,
    VolunteerRegistered,
)
from schemas.vocabulary import ChannelType, NotificationKind, Unit
from services.common.config import Settings
from services.common.kafka import new_producer, publish
from services.common.readmodels import Keys
from services.common.topics import NOTIFICATIONS, VOLUNTEERS
from tests.integration.bmkg.feeds import FeedServer, TopicReader, wait_for
from tests.support.procs import ServiceProcess, free_port
from tests.unit.bmkg.documents import KEDIRI, KEDIRI_CANCEL, shifted

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

OPERATOR = "operator-key-e2e-weather"

# (id, unit, home kelurahan, on duty, expected to get a standby notice)
ROSTER = [
    ("tgn-mojoroto", Unit.TAGANA, "35.71.01.1011", True, True),  # Mojoroto: affected
    ("tgn-pesantren", Unit.TAGANA, "35.71.03.1013", True, True),  # Pesantren: affected
    ("tgn-kota", Unit.TAGANA, "35.71.02.1010", True, False),  # Kemasan, kecamatan Kota: not affected
    ("tgn-off-duty", Unit.TAGANA, "35.71.01.1005", False, False),  # Sukorame: affected, but off duty
    ("trc-mojoroto", Unit.TRC, "35.71.01.1013", True, True),  # Lirboyo: affected; TRC assesses first
    ("kt-mojoroto", Unit.KARANG_TARUNA, "35.71.01.1013", True, False),  # affected, but Karang Taruna
]
EXPECTED = {vid for vid, *_, expected in ROSTER if expected}


def _profile(n: int, vid: str, unit: Unit, home: str, on_duty: bool) -> VolunteerProfile:
    return VolunteerProfile(
        volunteer_id=vid,
        name=f"Relawan {vid}",
        phone=f"+62812000{n:05d}",
        unit=unit,
        skills=["evacuation"],
        home_kelurahan_code=home,
        channels=[ChannelAddress(type=ChannelType.WHATSAPP, address=f"+62812000{n:05d}")],
        on_duty=on_duty,
    )


def _rss(server: FeedServer, items: list[tuple[str, str]]) -> bytes:
    entries = "".join(
        f"<item><title>Peringatan</title><link>{server.url(path)}</link><guid>{guid}</guid></item>"
        for guid, path in items
    )
    channel = f"<channel><title>BMKG</title>{entries}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    server = await FeedServer().start()
    yield server
    await server.stop()


@pytest.fixture
async def producer(topics: Settings) -> AsyncIterator[AIOKafkaProducer]:
    kafka = new_producer(topics.kafka_bootstrap, "test-weather-e2e")
    await kafka.start()
    yield kafka
    await kafka.stop()


@pytest.fixture
def stack_env(test_env: dict[str, str], tmp_path: Path, feeds: FeedServer) -> Iterator[dict[str, str]]:
    yield {
        **test_env,
        "SIGAP_DATA_DIR": str(tmp_path / "data"),
        "SIGAP_CHANNELS": "outbox",
        "SIGAP_API_KEYS": f"operator:{OPERATOR}",
        "SIGAP_BMKG_POLL": "true",
        "SIGAP_BMKG_NOWCAST_RSS_URL": feeds.url("/alerts/nowcast/id/rss.xml"),
        "SIGAP_BMKG_AUTOGEMPA_URL": "",
        "SIGAP_BMKG_GEMPADIRASAKAN_URL": "",
        "SIGAP_BMKG_POLL_INTERVAL_S": "0.3",
        "SIGAP_BMKG_BACKOFF_MAX_S": "2",
    }


async def _start(args: list[str], env: dict[str, str], log: Path, health: str) -> ServiceProcess:
    proc = ServiceProcess(args, env, log).start()
    try:
        await asyncio.to_thread(proc.wait_http, health, 90.0)  # the loop keeps serving the feeds
    except BaseException:
        proc.stop()
        raise
    return proc


async def test_polled_warning_puts_tagana_and_trc_on_standby_and_cancel_clears_the_banner(
    *,
    topics: Settings,
    redis: Redis,
    feeds: FeedServer,
    producer: AIOKafkaProducer,
    stack_env: dict[str, str],
    tmp_path: Path,
) -> None:
    keys = Keys(topics.redis_prefix)
    suffix = "." + topics.topic_prefix.strip(".")
    alert_id = "2.49.0.1.360.0.2026.01.15.08.35.001" + suffix
    cancel_id = "2.49.0.1.360.0.2026.01.15.08.35.003" + suffix
    now = datetime.now(UTC)
    feeds.put("/alerts/nowcast/id/rss.xml", _rss(feeds, []))  # nothing yet
    feeds.put("/alerts/nowcast/id/CJT_alert.xml", shifted(KEDIRI, now, identifier_suffix=suffix))
    feeds.put("/alerts/nowcast/id/CJT_cancel.xml", shifted(KEDIRI_CANCEL, now, identifier_suffix=suffix))

    ports = {"dispatcher": free_port(), "notifier": free_port(), "gateway": free_port()}
    env = {
        **stack_env,
        "SIGAP_DISPATCHER_PORT": str(ports["dispatcher"]),
        "SIGAP_NOTIFIER_PORT": str(ports["notifier"]),
        "SIGAP_HTTP_PORT": str(ports["gateway"]),
    }
    procs: list[ServiceProcess] = []
    notifications = await TopicReader(topics.kafka_bootstrap, topics.topic(NOTIFICATIONS)).start()
    try:
        procs.append(
            await _start(
                ["-m", "services.dispatcher", "worker", "-l", "info"],
                env,
                tmp_path / "dispatcher.log",
                f"http://127.0.0.1:{ports['dispatcher']}/healthz",
            )
        )
        procs.append(
            await _start(
                ["-m", "services.notifier", "worker", "-l", "info"],
                env,
                tmp_path / "notifier.log",
                f"http://127.0.0.1:{ports['notifier']}/healthz",
            )
        )
        procs.append(
            await _start(
                ["-m", "services.gateway"],
                env,
                tmp_path / "gateway.log",
                f"http://127.0.0.1:{ports['gateway']}/healthz",
            )
        )

        # the roster, as the gateway would publish it
        for n, (vid, unit, home, on_duty, _) in enumerate(ROSTER):
            registered: Payload = VolunteerRegistered(profile=_profile(n, vid, unit, home, on_duty))
            await publish(producer, topics.topic(VOLUNTEERS), make_event(registered, source="test"))
        await _wait_redis(lambda: redis.scard(keys.volunteers), len(ROSTER), "the roster loaded")

        # BMKG lists the Kota Kediri warning
        feeds.put("/alerts/nowcast/id/rss.xml", _rss(feeds, [(alert_id, "/alerts/nowcast/id/CJT_alert.xml")]))

        # the dispatcher asks for one standby notice per on-duty Tagana and TRC of Mojoroto and Pesantren …
        await notifications.wait(len(EXPECTED), timeout_s=60)
        requested = [e.payload for e in await notifications.settle(1500)]
        assert all(isinstance(p, NotificationRequested) for p in requested)
        standby = [
            p
            for p in requested
            if isinstance(p, NotificationRequested) and p.kind == NotificationKind.STANDBY
        ]
        assert sorted(p.recipient.volunteer_id or "" for p in standby) == sorted(EXPECTED)
        assert len(standby) == len(requested)

        # … which the notifier puts in the outbox, for them and nobody else
        for outbox in sorted(keys.volunteer_outbox(vid) for vid in EXPECTED):
            await _wait_redis(functools.partial(redis.llen, outbox), 1, outbox)
        for vid, *_ in ROSTER:
            messages = [
                OutboxMessage.model_validate_json(m)
                for m in await redis.lrange(keys.volunteer_outbox(vid), 0, -1)
            ]
            assert [m.kind for m in messages] == ([NotificationKind.STANDBY] if vid in EXPECTED else []), vid

        # the banner: the dispatcher's read model, served by the gateway
        banner = await _alerts(ports["gateway"])
        assert [a.alert_id for a in banner] == [alert_id]
        assert banner[0].status == "active"
        assert len(banner[0].affected_kelurahan) == 29
        assert await redis.zscore(keys.active_alerts, alert_id) is not None

        # BMKG cancels it: the banner goes
        feeds.put(
            "/alerts/nowcast/id/rss.xml", _rss(feeds, [(cancel_id, "/alerts/nowcast/id/CJT_cancel.xml")])
        )
        await _wait_redis(
            lambda: _alert_status(redis, keys, alert_id),
            "cancelled",
            "the alert marked cancelled",
            equal=True,
        )
        assert await redis.zscore(keys.active_alerts, alert_id) is None
        assert await _alerts(ports["gateway"]) == []
        every = await _alerts(ports["gateway"], include_all=True)
        assert {a.alert_id: a.status for a in every}[alert_id] == "cancelled"

        # polling went on, conditionally, and nothing was published twice
        await wait_for(lambda: len(feeds.requests("/alerts/nowcast/id/rss.xml", 304)) >= 2, what="304s")
        assert len(feeds.requests("/alerts/nowcast/id/CJT_alert.xml", 200)) == 1
    finally:
        await notifications.stop()
        for proc in reversed(procs):
            proc.stop()
    for proc in procs:
        assert "Traceback" not in proc.log_tail(2000), proc.log_tail()


async def _wait_redis(
    read: Callable[[], Awaitable[Any]],
    expected: Any,
    what: str,
    *,
    equal: bool = False,
    timeout_s: float = 60,
) -> None:
    """Poll a Redis read until it equals (or, for counts, reaches) `expected`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    value: Any = None
    while asyncio.get_running_loop().time() < deadline:
        value = await read()
        if (value == expected) if equal else (value is not None and value >= expected):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"waiting for {what}: got {value!r}, expected {expected!r}")


async def _alert_status(redis: Redis, keys: Keys, alert_id: str) -> str | None:
    raw = await redis.get(keys.alert(alert_id))
    return WeatherAlertView.model_validate_json(raw).status if raw else None


async def _alerts(port: int, *, include_all: bool = False) -> list[WeatherAlertView]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        response = await http.get(
            "/api/v1/weather/alerts",
            params={"all": "true"} if include_all else {},
            headers={"Authorization": f"Bearer {OPERATOR}"},
        )
    assert response.status_code == 200, response.text
    return [WeatherAlertView.model_validate(a) for a in json.loads(response.text)["items"]]
