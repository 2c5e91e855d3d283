"""The report projection: an aiokafka consumer of `incidents`, `responses`, `dispatch-log` and
`volunteers` that folds every record into the report store.

No consumer group: each gateway reads every partition itself (manual assignment) from the positions
its store saved, or from the beginning of the log for a new store. The store saves each batch's rows
and the positions after it in one transaction; a batch read again after a crash folds to the same
rows. A record reports cannot read is counted and skipped (the services owning the topic already sent
it to `dead-letters`); the projection keeps going.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from services.common.retry import Backoff, retry
from services.gateway.reports.events import ReportEvent, Unreadable, decode
from services.gateway.reports.ledger import TOPICS
from services.gateway.reports.store import ReportStore

log = logging.getLogger(__name__)

MAX_RECORDS = 2000
RETRY_S = 5.0
GATHER_MS = 500
GATHER_BYTES = 256 * 1024
"""Once caught up, each fetch waits at the broker until this much has arrived on the 32 partitions or
`GATHER_MS` have passed: one fetch, one batch, one SQLite transaction and one question for the log's
ends per half second instead of per few records (aiokafka's default answers a fetch as soon as one
byte is there: at 50 incidents/s the gateway spent ~22 % of a core on it, bench/PROFILE.md §13).
Reports are read in minutes, not milliseconds; a rebuild's backlog fills every fetch at once."""


@dataclass
class Progress:
    """What the projection has done, for `/api/v1/reports/status` and the tests."""

    records: int = 0
    used: int = 0
    skipped: int = 0
    last_event_at: float | None = None
    caught_up: bool = False
    started_at: float = field(default_factory=time.time)
    error: str | None = None
    end_offsets: dict[str, int] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)

    def lag(self) -> int:
        return sum(max(0, end - self.positions.get(key, 0)) for key, end in self.end_offsets.items())


class ReportProjection:
    def __init__(
        self,
        store: ReportStore,
        bootstrap: str,
        prefix: str,
        kafka_options: dict[str, Any] | None = None,
    ) -> None:
        """`kafka_options`: aiokafka's security options (`kafka.security_options`)."""
        self.store = store
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.kafka_options = kafka_options or {}
        self.progress = Progress()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="report-projection")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        await retry(self._consume, Backoff(RETRY_S, RETRY_S), on_retry=self._failed)

    def _failed(self, exc: Exception, wait: float) -> None:
        self.progress.error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, KafkaError | OSError):
            log.warning("report projection: %s; retrying in %.0f s", self.progress.error, wait)
        else:
            log.error("report projection failed; retrying in %.0f s", wait, exc_info=exc)

    async def _assignment(self) -> list[TopicPartition]:
        """Every partition of the four topics, asked of the cluster (partitions can be added). All
        topics are described: naming them would let the broker auto-create a missing one with the
        wrong partition count."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **self.kafka_options)
        await admin.start()
        try:
            described = {t["topic"]: t for t in await admin.describe_topics(None)}
        finally:
            await admin.close()
        tps: list[TopicPartition] = []
        for name in TOPICS:
            topic = described.get(self.prefix + name, {})
            partitions = sorted(p["partition"] for p in topic.get("partitions", []))
            if topic.get("error_code") or not partitions:
                raise KafkaError(f"topic {self.prefix + name} is not there yet (make topics creates it)")
            tps += [TopicPartition(self.prefix + name, p) for p in partitions]
        return tps

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_min_bytes=GATHER_BYTES,
            fetch_max_wait_ms=GATHER_MS,
            **self.kafka_options,
        )
        await consumer.start()
        try:
            tps = await self._assignment()
            consumer.assign(tps)
            saved = await asyncio.to_thread(self.store.positions)
            for tp in tps:
                offset = saved.get((tp.topic[len(self.prefix) :], tp.partition))
                if offset is None:
                    await consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, offset)
            self.progress.error = None
            await self._refresh_ends(consumer, tps)
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=MAX_RECORDS)
                if batch:
                    await self._apply(batch)
                # the log's ends are asked for only when the ones known are reached (or nothing came),
                # not after every batch of a rebuild: one round trip to the broker fewer per batch
                if not batch or self.progress.lag() == 0:
                    await self._refresh_ends(consumer, tps)
                else:
                    self.progress.caught_up = False
        finally:
            await consumer.stop()

    async def _refresh_ends(self, consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> None:
        ends = await consumer.end_offsets(tps)
        self.progress.end_offsets = {f"{tp.topic}:{tp.partition}": offset for tp, offset in ends.items()}
        for tp in tps:
            key = f"{tp.topic}:{tp.partition}"
            self.progress.positions.setdefault(key, await consumer.position(tp))
        self.progress.caught_up = self.progress.lag() == 0

    async def _apply(self, batch: dict[TopicPartition, list[Any]]) -> None:
        events: list[ReportEvent] = []
        positions: dict[tuple[str, int], int] = {}
        for tp, records in batch.items():
            name = tp.topic[len(self.prefix) :]
            for record in records:
                try:
                    events.append(decode(name, record.value))
                except Unreadable as exc:
                    self.progress.skipped += 1
                    log.warning(
                        "report projection skips %s:%d@%d: %s", tp.topic, tp.partition, record.offset, exc
                    )
            positions[(name, tp.partition)] = records[-1].offset + 1
        used = await asyncio.to_thread(self._store_apply, events, positions)
        self.progress.records += sum(len(r) for r in batch.values())
        self.progress.used += used
        for (name, partition), offset in positions.items():
            self.progress.positions[f"{self.prefix}{name}:{partition}"] = offset
        if events:
            latest = max(e.at for e in events)
            self.progress.last_event_at = max(latest, self.progress.last_event_at or latest)

    def _store_apply(self, events: list[ReportEvent], positions: dict[tuple[str, int], int]) -> int:
        used, skipped = self.store.apply(events, positions)
        self.progress.skipped += skipped
        return used
