"""The gateway's Kafka adapter: one idempotent `acks=all` producer, started lazily and restarted after
a failed start, so the gateway serves reads (and says it is not ready) while the broker is away."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.envelope import Envelope
from services.common.kafka import new_producer, publish
from services.gateway.errors import BrokerUnavailable
from services.gateway.metrics import Metrics
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)


class EventPublisher:
    def __init__(
        self,
        settings: GatewaySettings,
        metrics: Metrics,
        *,
        client_id: str = "sigap-gateway",
        timeout_s: float | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._client_id = client_id
        # A post waits this long for the broker, then answers 503 (`SIGAP_PUBLISH_TIMEOUT_S`): an ops
        # room's client should hear "not now" in seconds, and retry with its Idempotency-Key.
        self._timeout_s = settings.publish_timeout_s if timeout_s is None else timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _ensure(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                producer = new_producer(
                    self._settings.kafka_bootstrap,
                    self._client_id,
                    # a record still waiting for a partition leader when the post answers 503 expires
                    # in the producer; one already sent may still land, and a retry under the same
                    # Idempotency-Key republishes the same ids, which the dispatcher deduplicates
                    request_timeout_ms=int(self._timeout_s * 1000),
                    settings=self._settings,
                )
                try:
                    await asyncio.wait_for(producer.start(), self._timeout_s)
                except (KafkaError, OSError, TimeoutError) as exc:
                    log.warning("Kafka producer did not start: %s", exc)
                    await _quiet_stop(producer)
                    raise BrokerUnavailable("the event broker is not reachable; retry shortly") from exc
                self._producer = producer
        return self._producer

    async def start(self) -> None:
        """Try to connect at start; a broker that is away is not fatal (readyz says so)."""
        try:
            await self._ensure()
        except BrokerUnavailable:
            log.warning("starting without Kafka; posts answer 503 until it is reachable")

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await _quiet_stop(producer)

    async def publish(self, topic_name: str, event: Envelope[Any]) -> None:
        """Produce one event onto `SIGAP_TOPIC_PREFIX + topic_name`; return once the broker has it."""
        try:
            producer = await self._ensure()
            await asyncio.wait_for(
                publish(producer, self._settings.topic(topic_name), event), self._timeout_s
            )
        except (KafkaError, TimeoutError, BrokerUnavailable) as exc:
            log.warning("publish of %s to %s failed: %s", event.event_type, topic_name, exc)
            self._metrics.publish_failures.labels(topic_name).inc()
            if isinstance(exc, BrokerUnavailable):
                raise
            raise BrokerUnavailable() from exc
        self._metrics.published.labels(topic_name, event.event_type).inc()

    async def ready(self, timeout_s: float = 3.0) -> bool:
        """Kafka answers a metadata request now."""
        try:
            producer = await asyncio.wait_for(self._ensure(), timeout_s)
            await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout_s)
        except (BrokerUnavailable, KafkaError, OSError, TimeoutError):
            return False
        return True


async def _quiet_stop(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), 10)
    except (KafkaError, OSError, TimeoutError) as exc:
        log.debug("producer stop: %s", exc)
