"""Helpers of the report tests: the known month onto a test's topics, and waiting for the projection."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from services.gateway.reports.events import encode
from tests.unit.reports.month import known_month

OPERATOR = {"Authorization": "Bearer dev-operator-key"}


async def produce_known_month(bootstrap: str, prefix: str, *, with_garbage: bool = True) -> int:
    """Every event of the known month on its topic, keyed as the services key them (and one record
    that is not an event); returns the number of records sent."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent = []
        for event in known_month():
            key = (event.payload.get("incident_id") or event.payload["profile"]["volunteer_id"]).encode()
            sent.append(await producer.send(prefix + event.topic, encode(event), key=key))
        if with_garbage:
            sent.append(await producer.send(prefix + "dispatch-log", b"not an event", key=b"INC-A"))
        await asyncio.gather(*sent)
        return len(sent)
    finally:
        await producer.stop()


async def projection_caught_up(
    client: httpx.AsyncClient, records: int, timeout_s: float = 30
) -> dict[str, Any]:
    """Poll `/api/v1/reports/status` until the projection has read `records` and has no lag."""
    status: dict[str, Any] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        status = (await client.get("/api/v1/reports/status", headers=OPERATOR)).json()
        if status["caught_up"] and status["records"] >= records:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"the report projection did not catch up: {status}")
