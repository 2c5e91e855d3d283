"""Every Kafka client of Sigap over SASL_SSL with SCRAM-SHA-512 (and mutual TLS as an option), Redis over
TLS with an ACL user: the admin client, producers and consumers in-process, then the three services as
processes, against deploy/local/secure.sh's broker and Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError

from schemas.envelope import make_event
from schemas.events import VolunteerRegistered
from schemas.times import WIB
from services.common.config import Settings
from services.common.kafka import key_of, new_producer, security_options
from services.common.readmodels import Keys
from services.common.redis import new_redis
from services.common.topics import INCIDENTS, VOLUNTEERS, create_topics, delete_topics
from tests.deploy.support import free_port_in_range
from tests.support.procs import ServiceProcess
from tests.support.samples import profile
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def secure_topics(secure_settings: Settings) -> AsyncIterator[Settings]:
    s = secure_settings
    created = await create_topics(s.kafka_bootstrap, s.topic_prefix, settings=s)  # the admin client
    assert len(created) >= 8
    yield s
    await delete_topics(s.kafka_bootstrap, s.topic_prefix, settings=s)


async def _read_one(settings: Settings, topic: str, **options: object) -> bytes:
    consumer = AIOKafkaConsumer(
        settings.topic(topic),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{settings.topic_prefix}reader",
        auto_offset_reset="earliest",
        **(options or security_options(settings)),  # type: ignore[arg-type]
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
        assert record.value is not None
        return record.value
    finally:
        await consumer.stop()


async def test_producer_and_consumer_over_sasl_ssl(secure_topics: Settings) -> None:
    s = secure_topics
    producer = new_producer(s.kafka_bootstrap, "secure-test", settings=s)
    await producer.start()
    try:
        await producer.send_and_wait(s.topic(INCIDENTS), b"over-tls", key=b"k")
    finally:
        await producer.stop()
    assert await _read_one(s, INCIDENTS) == b"over-tls"


async def test_wrong_password_and_plaintext_are_refused(secure_topics: Settings) -> None:
    s = secure_topics
    wrong = s.model_copy(update={"kafka_sasl_password": "not-the-password"})
    producer = new_producer(s.kafka_bootstrap, "secure-test", settings=wrong)
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()
    plain = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap, request_timeout_ms=3000)
    with pytest.raises(KafkaError):
        await asyncio.wait_for(plain.start(), 20)
    await plain.stop()


async def test_mutual_tls_listener_needs_the_client_certificate(
    secure_topics: Settings, secure_infra: dict[str, str]
) -> None:
    mtls = secure_topics.model_copy(
        update={
            "kafka_bootstrap": secure_infra["SIGAP_SECURE_MTLS_BOOTSTRAP"],
            "kafka_security_protocol": "SSL",
            "kafka_ssl_certfile": secure_infra["SIGAP_SECURE_CLIENT_CERT"],
            "kafka_ssl_keyfile": secure_infra["SIGAP_SECURE_CLIENT_KEY"],
        }
    )
    producer = new_producer(mtls.kafka_bootstrap, "mtls-test", settings=mtls)
    await producer.start()
    try:
        await producer.send_and_wait(mtls.topic(INCIDENTS), b"mutual", key=b"k")
    finally:
        await producer.stop()
    assert await _read_one(mtls, INCIDENTS) == b"mutual"
    anonymous = mtls.model_copy(update={"kafka_ssl_certfile": "", "kafka_ssl_keyfile": ""})
    producer = new_producer(mtls.kafka_bootstrap, "mtls-test", settings=anonymous)
    with pytest.raises((KafkaError, OSError)):
        await asyncio.wait_for(producer.start(), 20)
    await producer.stop()


async def test_redis_over_tls_with_an_acl_user(secure_settings: Settings) -> None:
    s = secure_settings
    assert s.redis_url.startswith("rediss://sigap:")
    redis = new_redis(s.redis_url)
    try:
        key = f"{s.redis_prefix}probe"
        await redis.set(key, "1", ex=60)
        assert await redis.get(key) == "1"
        with pytest.raises(NoPermissionError):
            await redis.set("other-deployment:key", "1")  # outside the user's key patterns
        with pytest.raises(NoPermissionError):
            await redis.flushall()
        await redis.delete(key)
    finally:
        await redis.aclose()
    plain = Redis.from_url(s.redis_url.replace("rediss://", "redis://").split("?")[0], socket_timeout=3)
    with pytest.raises((RedisConnectionError, OSError)):
        await plain.ping()
    await plain.aclose()


async def test_the_services_run_over_sasl_ssl_and_redis_tls(
    secure_topics: Settings, secure_env: dict[str, str], tmp_path: Path
) -> None:
    """The gateway publishes a report and its report projection folds it, the dispatcher (faust) takes
    a volunteer into the roster in Redis, the notifier (faust) is assigned its partitions: all over the
    secured broker and Redis."""
    s = secure_topics
    gateway_port, dispatcher_port, notifier_port = (free_port_in_range() for _ in range(3))
    env = {
        **secure_env,
        "SIGAP_DATA_DIR": str(tmp_path / "data"),
        "SIGAP_HTTP_PORT": str(gateway_port),
        "SIGAP_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
        "SIGAP_DISPATCHER_PORT": str(dispatcher_port),
        "SIGAP_NOTIFIER_PORT": str(notifier_port),
        "PYTHONUNBUFFERED": "1",
    }
    procs = [
        ServiceProcess(["-m", "services.gateway"], env, tmp_path / "gateway.log"),
        ServiceProcess(
            ["-m", "services.dispatcher", "worker", "-l", "info"], env, tmp_path / "dispatcher.log"
        ),
        ServiceProcess(["-m", "services.notifier", "worker", "-l", "info"], env, tmp_path / "notifier.log"),
    ]
    try:
        for proc in procs:
            proc.start()
        procs[0].wait_http(f"http://127.0.0.1:{gateway_port}/readyz", 90)  # Kafka and Redis answer
        procs[1].wait_http(f"http://127.0.0.1:{dispatcher_port}/healthz", 120)
        procs[2].wait_http(f"http://127.0.0.1:{notifier_port}/readyz", 120)  # partitions assigned

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway_port}") as client:
            answer = await client.post(
                "/api/v1/incidents",
                json={
                    "type": "flood",
                    "severity": "severe",
                    "title": "Banjir di Manisrenggo",
                    "location": {"lat": -7.8, "lon": 111.98},
                },
                headers={"Authorization": "Bearer dev-operator-key", "Idempotency-Key": uuid.uuid4().hex},
            )
            assert answer.status_code in (200, 201, 202), answer.text
            incident_id = answer.json()["id"]
            assert b"incident.reported" in await _read_one(s, INCIDENTS)

            # the gateway's report projection reads the topics with the same security options: the
            # incident reaches the daily report (before, its consumer connected in plaintext and retried
            # forever, and the reports stayed empty)
            days = {datetime.now(WIB).date().isoformat()}

            async def in_daily_report() -> bool:
                days.add(datetime.now(WIB).date().isoformat())  # the test may cross midnight WIB
                for day in sorted(days):
                    daily = await client.get(
                        "/api/v1/reports/daily",
                        params={"date": day},
                        headers={"Authorization": "Bearer dev-operator-key"},
                    )
                    if daily.status_code == 200 and any(
                        i["incident_id"] == incident_id for i in daily.json()["incidents"]
                    ):
                        return True
                return False

            await eventually(in_daily_report, 60, "the incident in the daily report", every_s=0.3)

        producer = new_producer(s.kafka_bootstrap, "secure-test", settings=s)
        await producer.start()
        try:
            event = make_event(VolunteerRegistered(profile=profile("V-TLS")), source="test")
            await producer.send_and_wait(s.topic(VOLUNTEERS), event.to_json(), key=key_of(event))
        finally:
            await producer.stop()
        redis = new_redis(s.redis_url)
        keys = Keys(s.redis_prefix)
        try:

            async def in_roster() -> bool:
                return bool(await redis.sismember(keys.volunteers, "V-TLS"))

            await eventually(in_roster, 60, "V-TLS in the roster", every_s=0.3)
        finally:
            await redis.aclose()
    except BaseException:
        for proc in procs:
            print(f"--- {proc.log_path.name}\n{proc.log_tail(40)}")  # noqa: T201 - the failure's context
        raise
    finally:
        for proc in procs:
            proc.stop()
