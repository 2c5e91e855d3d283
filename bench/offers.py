"""Watches the outbox for each incident's first offer, and closes incidents as their offers land.

The notifier stores every message it hands to the `outbox` channel in the Redis list `outbox` (newest
first, `services.common.readmodels`), with `stored_at`: the moment the notification was handed to the
channel, which is where the bench's latency ends. The watcher reads the head of the list down to the
newest message it has already seen, so it keeps working if the notifier trims the list, as long as it
polls faster than the trim length fills (it warns when it may have missed some).

Closing each incident once its first offer is out (an `incident.closed` event on `incidents`, as the
gateway's close endpoint produces) withdraws the offer and frees the volunteer, so a small roster is not
exhausted by a long run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis.asyncio import Redis

from schemas.envelope import Envelope, make_event
from schemas.events import IncidentClosed, Payload
from services.common.kafka import key_of
from services.common.readmodels import Keys

log = logging.getLogger(__name__)

READ_CHUNK = 500


async def stop_task(task: asyncio.Task[Any], what: str, timeout_s: float = 10.0) -> None:
    """Cancel a background task and wait for it, at most `timeout_s`: a task that swallowed its
    cancellation is left behind with a warning rather than hanging the run (and a cancellation of the
    caller is not suppressed, as `suppress(CancelledError)` around `await task` would)."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        log.warning("%s did not stop within %.0f s of its cancellation; left running", what, timeout_s)


@dataclass
class FirstOffer:
    stored_at: float  # unix seconds, the notifier's clock (the same machine as the bench)
    seen_at: float  # unix seconds, when the watcher read it


@dataclass
class OfferWatcher:
    redis: Redis
    keys: Keys
    closer: AIOKafkaProducer | None = None
    incidents_topic: str = ""
    poll_s: float = 0.05
    first_offers: dict[str, FirstOffer] = field(default_factory=dict)
    messages_seen: int = 0
    maybe_missed: int = 0
    closes_sent: int = 0
    _newest_id: str | None = None
    _task: asyncio.Task[None] | None = None
    _close_futures: list[asyncio.Future[object]] = field(default_factory=list)

    async def start(self) -> None:
        head = await self.redis.lindex(self.keys.outbox, 0)
        if head is not None:
            self._newest_id = orjson.loads(head)["notification_id"]
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task, "the outbox watcher")
        if self._close_futures:
            await asyncio.gather(*self._close_futures, return_exceptions=True)

    async def poll_once(self) -> int:
        """Read the messages newer than the last seen; return how many."""
        fresh: list[dict[str, Any]] = []
        start = 0
        found_marker = self._newest_id is None
        while True:
            chunk = await self.redis.lrange(self.keys.outbox, start, start + READ_CHUNK - 1)
            if not chunk:
                break
            for raw in chunk:
                message = orjson.loads(raw)
                if message["notification_id"] == self._newest_id:
                    found_marker = True
                    break
                fresh.append(message)
            if found_marker or len(chunk) < READ_CHUNK:
                break
            start += READ_CHUNK
        if not fresh:
            return 0
        if not found_marker:
            self.maybe_missed += 1
            log.warning("outbox: the last message seen was trimmed away; some offers may be missed")
        self._newest_id = str(fresh[0]["notification_id"])
        self._record(list(reversed(fresh)))
        return len(fresh)

    def _record(self, messages: list[dict[str, Any]]) -> None:
        seen = time.time()
        for message in messages:
            self.messages_seen += 1
            if message.get("kind") != "offer":
                continue
            incident_id = message.get("incident_id")
            if not incident_id or incident_id in self.first_offers:
                continue
            stored = datetime.fromisoformat(str(message["stored_at"]).replace("Z", "+00:00")).timestamp()
            self.first_offers[incident_id] = FirstOffer(stored_at=stored, seen_at=seen)
            self._close(incident_id)

    def _close(self, incident_id: str) -> None:
        if self.closer is None:
            return
        event: Envelope[Payload] = make_event(
            IncidentClosed(incident_id=incident_id, note="bench", by="bench"),
            source="bench",
            correlation_id=incident_id,
        )
        future = asyncio.ensure_future(
            self.closer.send_and_wait(self.incidents_topic, event.to_json(), key=key_of(event))
        )
        self._close_futures.append(future)
        self.closes_sent += 1
        if len(self._close_futures) > 2000:
            self._close_futures = [f for f in self._close_futures if not f.done()]

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:
                log.exception("outbox poll failed")
            await asyncio.sleep(self.poll_s)


@dataclass
class Requested:
    stored_at: float
    """unix seconds when the dispatcher's producer created the offer's notification request (the
    record's CreateTime, same machine clock): the dispatcher's share of the latency ends there, without
    the bench consumer's own fetch delay"""


@dataclass
class NotificationWatcher:
    """Consumes `notifications` (the dispatcher's output) and notes each incident's first offer request:
    with the outbox watcher it tells the dispatcher's share of the latency from the notifier's."""

    bootstrap: str
    topic: str
    group: str
    first_requests: dict[str, Requested] = field(default_factory=dict)
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=self.bootstrap, group_id=self.group, auto_offset_reset="latest"
        )
        await self._consumer.start()
        # `latest` counts from the moment of assignment: wait for it, so nothing sent later is missed
        deadline = time.monotonic() + 30
        while not self._consumer.assignment() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for tp in self._consumer.assignment():
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task, "the notification-request watcher")
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        while True:
            batches = await consumer.getmany(timeout_ms=100, max_records=2000)
            now = time.time()
            for records in batches.values():
                for record in records:
                    try:
                        payload = orjson.loads(record.value)["payload"]
                    except (orjson.JSONDecodeError, KeyError, TypeError):
                        continue
                    incident_id = payload.get("incident_id")
                    if (
                        payload.get("kind") == "offer"
                        and incident_id
                        and incident_id not in self.first_requests
                    ):
                        created = (
                            record.timestamp / 1000 if record.timestamp and record.timestamp > 0 else now
                        )
                        self.first_requests[incident_id] = Requested(created)
