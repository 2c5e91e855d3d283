"""Fixtures of the notifier's integration tests.

- `providers`: the local provider servers (one set per module; each test uses its own addresses).
- `Bus`: produce to and read from a prefix's topics on the real broker from synchronous test code (an
  event loop in a background thread holding an aiokafka producer and a consumer of `deliveries` and
  `dead-letters`).
- `Stack`: a prefix's topics, a `Bus` and a notifier worker subprocess started with the test's
  environment, stopped and cleaned up afterwards.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from redis import Redis

from schemas.envelope import Envelope, decode_event, make_event
from schemas.events import DeadLetter, NotificationRequested, Payload
from services.common.kafka import new_producer, publish
from services.common.topics import (
    DEAD_LETTERS,
    DELIVERIES,
    NOTIFICATIONS,
    RESPONSES,
    create_topics,
    delete_topics,
)
from tests.conftest import KAFKA, REDIS_URL
from tests.support.procs import ServiceProcess, free_port
from tests.support.providers import ProviderServers
from tests.support.suite_redis import SUITE_REDIS


@pytest.fixture(scope="module")
def providers() -> Iterator[ProviderServers]:
    with ProviderServers() as servers:
        yield servers


class Bus:
    """The test's side of the broker, usable from synchronous tests."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self.events: list[Envelope[Payload]] = []
        """what the notifier put on `deliveries` and `dead-letters`"""
        self.responses: list[tuple[bytes | None, Envelope[Payload]]] = []
        """(key, event) of what the notifier put on `responses`"""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bus", daemon=True)
        self._producer: Any = None
        self._consumer: Any = None
        self._reader: asyncio.Task[None] | None = None

    def start(self) -> Bus:
        self._thread.start()
        self._run(self._start())
        return self

    def stop(self) -> None:
        self._run(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _run(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start(self) -> None:
        self._producer = new_producer(KAFKA, client_id=f"{self.prefix}test")
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            self.prefix + DELIVERIES,
            self.prefix + DEAD_LETTERS,
            self.prefix + RESPONSES,
            bootstrap_servers=KAFKA,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await self._consumer.start()
        self._reader = asyncio.create_task(self._read())

    async def _stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self._consumer.stop()
        await self._producer.stop()

    async def _read(self) -> None:
        async for record in self._consumer:
            event = decode_event(record.value)
            with self._lock:
                if record.topic == self.prefix + RESPONSES:
                    self.responses.append((record.key, event))
                else:
                    self.events.append(event)

    # --- producing ------------------------------------------------------------------------------

    def request(self, payload: NotificationRequested, *, event_id: str | None = None) -> Envelope[Payload]:
        """Publish a notification request (the same `event_id` twice is a redelivery)."""
        event = make_event(payload, source="test", correlation_id=payload.incident_id, event_id=event_id)
        self._run(publish(self._producer, self.prefix + NOTIFICATIONS, event))  # type: ignore[arg-type]
        return event  # type: ignore[return-value]

    def raw(self, value: bytes, key: bytes | None = None) -> None:
        self._run(self._producer.send_and_wait(self.prefix + NOTIFICATIONS, value, key=key))

    # --- reading back ---------------------------------------------------------------------------

    def about(self, notification_id: str) -> list[Envelope[Payload]]:
        with self._lock:
            return [e for e in self.events if getattr(e.payload, "notification_id", None) == notification_id]

    def on_responses(self, notification_id: str) -> list[tuple[bytes | None, Envelope[Payload]]]:
        with self._lock:
            return [
                (key, e)
                for key, e in self.responses
                if getattr(e.payload, "notification_id", None) == notification_id
            ]

    def dead_letters(self) -> list[DeadLetter]:
        with self._lock:
            return [e.payload for e in self.events if isinstance(e.payload, DeadLetter)]

    def wait(self, what: Callable[[], Any], timeout_s: float = 30.0, message: str = "") -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = what()
            if got:
                return got
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout_s}s waiting for {message or what}")

    def outcome(self, notification_id: str, timeout_s: float = 30.0) -> Payload:
        """The first delivered/failed event of a notification."""
        events = self.wait(
            lambda: self.about(notification_id), timeout_s, f"the outcome of {notification_id}"
        )
        return events[0].payload


class Stack:
    """Topics, a bus and a notifier worker for one prefix."""

    def __init__(self, tmp: Path, env: dict[str, str], prefix: str | None = None) -> None:
        self.prefix = prefix or f"t{uuid.uuid4().hex[:10]}."
        self.redis_prefix = self.prefix.replace(".", ":")
        self.port = free_port()
        self.users = SUITE_REDIS.users(self.redis_prefix)  # the worker connects as the notifier's user
        self.env = {
            "SIGAP_ENV": "test",
            "SIGAP_KAFKA_BOOTSTRAP": KAFKA,
            "SIGAP_REDIS_URL": REDIS_URL,
            "SIGAP_TOPIC_PREFIX": self.prefix,
            "SIGAP_REDIS_PREFIX": self.redis_prefix,
            "SIGAP_NOTIFIER_PORT": str(self.port),
            "SIGAP_DATA_DIR": str(tmp / "data"),
            **self.users.env(),
            **env,
        }
        self.log = tmp / f"notifier-{self.prefix}log"
        self.bus = Bus(self.prefix)
        self.proc: ServiceProcess | None = None
        self.redis = Redis.from_url(REDIS_URL, decode_responses=True)

    def start(self) -> Stack:
        SUITE_REDIS.start()
        SUITE_REDIS.create(self.users)
        asyncio.run(create_topics(KAFKA, self.prefix))
        self.bus.start()
        return self.start_worker()

    def start_worker(self) -> Stack:
        self.proc = ServiceProcess(
            ["-m", "services.notifier", "worker", "-l", "info"], self.env, self.log
        ).start()
        self.proc.wait_http(f"http://127.0.0.1:{self.port}/readyz", timeout_s=90)
        return self

    def metric(self, name: str, **labels: str) -> float:
        """A sample of the worker's Prometheus metrics (0 when absent)."""
        response = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5)
        response.raise_for_status()
        text = response.text
        wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for line in text.splitlines():
            if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(f"{name} ")):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def handled(self) -> float:
        """Notification records the worker has finished with, whatever the outcome."""
        outcomes = ("delivered", "failed", "expired", "duplicate", "poison", "abandoned")
        return sum(self.metric("sigap_notifier_notifications_total", outcome=o) for o in outcomes)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
        self.bus.stop()
        asyncio.run(delete_topics(KAFKA, self.prefix))
        for key in self.redis.scan_iter(match=self.redis_prefix + "*", count=1000):
            self.redis.delete(key)
        self.redis.close()
        SUITE_REDIS.drop(self.users)

    def log_tail(self) -> str:
        return self.proc.log_tail() if self.proc else ""
