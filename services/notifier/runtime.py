"""The notifier's I/O around the delivery loop: clients (Redis, HTTP, Kafka producer), the bounded
task pool that delivers notifications concurrently, and the reports it publishes.

Records are consumed without automatic acknowledgement; each is acknowledged when its delivery task
ends, and faust commits an offset only once every record before it is acknowledged, so offsets are
committed only after handling. Redelivery after a crash is safe: `claims.py` makes it idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import cast

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas.envelope import Envelope, make_event
from schemas.events import NotificationDelivered, NotificationFailed, NotificationRequested, Payload
from services.common.clock import Clock, system_clock
from services.common.deadletter import dead_letter_for, decode_or_dead_letter
from services.common.kafka import key_of, new_producer, publish
from services.common.notifications import offer_report_incident
from services.common.redis import redis_for
from services.common.retry import Backoff, retry
from services.common.topics import DEAD_LETTERS, DELIVERIES, RESPONSES
from services.notifier import metrics
from services.notifier.channels import build_channels, check_channels
from services.notifier.channels.http import new_client
from services.notifier.claims import Claims
from services.notifier.delivery import Deliverer, Record
from services.notifier.limits import NotifierConfig, notifier_config
from services.notifier.plan import effective_deadline
from services.notifier.ratelimit import ChannelGate
from services.notifier.senders import RedisSenderBook
from services.notifier.settings import NotifierSettings

log = logging.getLogger(__name__)

CONSUMER = "notifier"
INFRA_GRACE = timedelta(seconds=60)
"""how long past a notification's deadline an outage of Redis or Kafka is waited out"""
INFRA_BACKOFF = Backoff(0.5, 10.0)
"""between attempts to deliver while Redis or Kafka is away"""

Ack = Callable[[], Awaitable[object]]


class KafkaReports:
    """Publishes outcomes to `deliveries` and poison or undeliverable records to `dead-letters`,
    waiting for the broker's acknowledgement each time.

    The report of an offer (delivered or failed) also goes onto `responses`, keyed by its incident, so
    the dispatcher records it on the incident's timeline in the incident's own order (DESIGN.md §5).
    Both records are sent before either acknowledgement is awaited."""

    def __init__(self, producer: AIOKafkaProducer, settings: NotifierSettings) -> None:
        self._producer = producer
        self._deliveries = settings.topic(DELIVERIES)
        self._responses = settings.topic(RESPONSES)
        self._dead_letters = settings.topic(DEAD_LETTERS)

    async def delivered(self, payload: NotificationDelivered, correlation_id: str | None) -> None:
        await self._report(payload, correlation_id)

    async def failed(self, payload: NotificationFailed, correlation_id: str | None) -> None:
        await self._report(payload, correlation_id)

    async def _report(
        self, payload: NotificationDelivered | NotificationFailed, correlation_id: str | None
    ) -> None:
        event = make_event(payload, source=CONSUMER, correlation_id=correlation_id)
        value = event.to_json()
        acks = [
            await self._producer.send(self._deliveries, value, key=key_of(cast("Envelope[Payload]", event)))
        ]
        incident_id = offer_report_incident(payload)
        if incident_id is not None:
            acks.append(await self._producer.send(self._responses, value, key=incident_id.encode()))
        await asyncio.gather(*acks)

    async def dead_letter(self, record: Record, reason: str) -> None:
        letter = dead_letter_for(
            record.raw,
            reason,
            topic=record.topic,
            consumer=CONSUMER,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            event_type=NotificationRequested.EVENT_TYPE,
        )
        await publish(self._producer, self._dead_letters, cast(Envelope[Payload], letter))
        metrics.DEAD_LETTERS.inc()


class Notifier:
    """Lives as long as the agent: `start`, `submit` each record, `stop`."""

    def __init__(self, settings: NotifierSettings, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock
        """where deadlines are judged and records stamped (`services.common.clock`)"""
        self.config: NotifierConfig = notifier_config(settings)
        check_channels(settings, settings.enabled_channels)
        self.redis: Redis | None = None
        self._http: httpx.AsyncClient | None = None
        self._producer: AIOKafkaProducer | None = None
        self._deliverer: Deliverer | None = None
        self._reports: KafkaReports | None = None
        self._slots = asyncio.Semaphore(self.config.max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return self._deliverer is not None

    async def start(self) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry URLs with bot tokens
        settings = self.settings
        self.redis = redis_for(settings, "notifier")
        self._http = new_client()
        self._producer = new_producer(
            settings.kafka_bootstrap, client_id=f"{settings.topic_prefix}notifier", settings=settings
        )
        await self._producer.start()
        self._reports = KafkaReports(self._producer, settings)
        enabled = settings.enabled_channels
        channels = build_channels(settings, enabled, self._http, self.redis, self.clock)
        self._deliverer = Deliverer(
            channels=channels,
            enabled=enabled,
            claims=Claims(self.redis, settings.redis_prefix),
            gate=ChannelGate(self.redis, settings.redis_prefix, self.config.limits),
            config=self.config,
            reports=self._reports,
            sms_max_parts=settings.sms_max_parts,
            senders=RedisSenderBook(self.redis, settings.redis_prefix),
            clock=self.clock,
        )
        self._heartbeat = asyncio.create_task(self._deliverer.heartbeat(), name="claim-heartbeat")
        log.info(
            "notifier ready: channels %s, at most %d notifications in flight",
            ", ".join(c.value for c in enabled),
            self.config.max_in_flight,
        )

    async def stop(self) -> None:
        """Cancel what is in flight (claims not yet handed over are released, so a redelivery sends
        them) and close the clients."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        if self._producer is not None:
            await self._producer.stop()
        if self._http is not None:
            await self._http.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        self._deliverer = None

    async def submit(self, raw: bytes | None, record: Record, ack: Ack) -> None:
        """Start delivering one record; waits while `SIGAP_NOTIFIER_MAX_IN_FLIGHT` are in flight."""
        await self._slots.acquire()
        task = asyncio.create_task(self._handle(raw, record, ack))
        self._tasks.add(task)
        metrics.IN_FLIGHT.set(len(self._tasks))
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        metrics.IN_FLIGHT.set(len(self._tasks))

    async def _handle(self, raw: bytes | None, record: Record, ack: Ack) -> None:
        try:
            event = await self._decode(raw, record)
            outcome = "poison" if event is None else await self._deliver(event, record)
            metrics.NOTIFICATIONS.labels(outcome).inc()
        except asyncio.CancelledError:
            raise  # stopping: not acknowledged, so the record is redelivered
        except Exception as exc:
            log.exception("notification record %s/%s failed unexpectedly", record.partition, record.offset)
            metrics.NOTIFICATIONS.labels("abandoned").inc()
            with contextlib.suppress(Exception):
                assert self._reports is not None  # noqa: S101
                await self._reports.dead_letter(record, f"unexpected error: {exc!r}"[:4000])
        await ack()

    async def _decode(self, raw: bytes | None, record: Record) -> Envelope[NotificationRequested] | None:
        assert self._reports is not None  # noqa: S101 - started before any record arrives
        event, letter = decode_or_dead_letter(
            raw,
            topic=record.topic,
            consumer=CONSUMER,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
        )
        if letter is not None:
            log.warning(
                "poison record %s/%s on %s: %s",
                record.partition,
                record.offset,
                record.topic,
                letter.payload.reason,
            )
            await self._dead_letter(cast(Envelope[Payload], letter))
            return None
        assert event is not None  # noqa: S101 - decode_or_dead_letter returns one or the other
        if not isinstance(event.payload, NotificationRequested):
            await self._reports.dead_letter(
                record, f"event_type: {event.event_type} does not belong on the notifications topic"
            )
            return None
        return cast("Envelope[NotificationRequested]", event)

    async def _dead_letter(self, letter: Envelope[Payload]) -> None:
        assert self._producer is not None  # noqa: S101
        await publish(self._producer, self.settings.topic(DEAD_LETTERS), letter)
        metrics.DEAD_LETTERS.inc()

    async def _deliver(self, event: Envelope[NotificationRequested], record: Record) -> str:
        """Deliver, waiting out an outage of Redis or Kafka (delivery is idempotent, so starting over
        is safe) until shortly after the deadline, when the record is dead-lettered."""
        deliverer, reports = self._deliverer, self._reports
        assert deliverer is not None and reports is not None  # noqa: S101
        request = event.payload
        give_up_at = (
            effective_deadline(request.deadline, event.occurred_at, self.config.default_ttl_s) + INFRA_GRACE
        )

        def infrastructure_away(exc: Exception) -> bool:
            return isinstance(exc, RedisError | KafkaError | OSError) and self.clock() < give_up_at

        def again(exc: Exception, wait: float) -> None:
            log.warning("notification %s: %s; retrying in %.1fs", request.notification_id, exc, wait)

        try:
            return await retry(
                lambda: deliverer.deliver(event, record),
                INFRA_BACKOFF,
                when=infrastructure_away,
                on_retry=again,
            )
        except (RedisError, KafkaError, OSError) as exc:
            log.error("notification %s abandoned: %s", request.notification_id, exc)
            await reports.dead_letter(record, f"infrastructure unavailable: {exc}"[:4000])
            return "abandoned"
