"""Fail fast at the edge: while the broker is away, an incident post answers 503 in seconds (not after
20 s), and the same Idempotency-Key retried once it is back makes exactly one incident. Runs against
a broker of the test's own (`deploy/local/kafka.sh` on its own ports), which it stops and starts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer
from redis.asyncio import Redis

from schemas.envelope import decode_event
from services.common.config import Settings
from services.common.topics import INCIDENTS, create_topics
from services.gateway.app import create_app
from tests.integration.gateway.conftest import OPERATOR, body
from tests.support.brokers import OwnKafka
from tests.support.procs import free_port

PORT, CONTROLLER_PORT = 17150, 17151


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[OwnKafka]:
    kafka = OwnKafka(tmp_path / "kafka-data", PORT, CONTROLLER_PORT, heap="256m")
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


@pytest.fixture
async def gateway(
    own_kafka: OwnKafka, settings: Settings, redis: Redis
) -> AsyncIterator[tuple[Settings, str]]:
    await create_topics(own_kafka.bootstrap, settings.topic_prefix)
    port = free_port()
    s = settings.model_copy(update={"kafka_bootstrap": own_kafka.bootstrap, "http_port": port})
    server = uvicorn.Server(
        uvicorn.Config(create_app(s), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started
    yield s, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, 20)


async def incidents_on_topic(s: Settings) -> list[tuple[str, str]]:
    """(incident id, event id) of every record on the incidents topic."""
    consumer = AIOKafkaConsumer(
        s.topic(INCIDENTS), bootstrap_servers=s.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=3000)
        records = [r for rs in batches.values() for r in rs]
    finally:
        await consumer.stop()
    events = [decode_event(r.value) for r in records]
    return [(str(e.payload.incident_id), e.event_id) for e in events]  # type: ignore[attr-defined]


async def test_503_in_seconds_while_the_broker_is_away_and_one_incident_after(
    own_kafka: OwnKafka, gateway: tuple[Settings, str]
) -> None:
    s, url = gateway
    headers = {**OPERATOR, "Idempotency-Key": "ops-room-retry-1"}
    # The client gives up after 15 s: the gateway must answer before that (it used to take 20 s; now
    # SIGAP_PUBLISH_TIMEOUT_S, 4 s — timings themselves are not asserted here).
    async with httpx.AsyncClient(base_url=url, timeout=15.0) as client:
        ok = await client.post("/api/v1/incidents", json=body(title="before"), headers=OPERATOR)
        assert ok.status_code == 202, ok.text

        own_kafka.stop()
        away = await client.post("/api/v1/incidents", json=body(), headers=headers)
        assert away.status_code == 503, away.text
        assert away.json()["error"]["code"] == "broker_unavailable"
        assert away.headers["Retry-After"] == "5"

        own_kafka.start()
        answers = []
        for _ in range(10):  # as a client would: the same key again until the gateway takes it
            back = await client.post("/api/v1/incidents", json=body(), headers=headers)
            answers.append(back.status_code)
            if back.status_code == 202:
                break
            await asyncio.sleep(1)
        assert answers[-1] == 202, answers
        again = await client.post("/api/v1/incidents", json=body(), headers=headers)
        assert again.json()["id"] == back.json()["id"]

    on_topic = await incidents_on_topic(s)
    mine = {pair for pair in on_topic if pair[0] == back.json()["id"]}
    assert len(mine) == 1, on_topic  # one incident id, one event id: the dispatcher makes one incident
    assert len({i for i, _ in on_topic}) == 2  # and the post made before the broker went away
