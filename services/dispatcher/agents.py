"""The dispatcher's agents and timers: decode (dead-lettering poison records), hand the event to the
domain service, keep going. Thin on purpose; the rules live in `incident`, `ranking`, `runcards`.

Incident events (among them the offers' delivery reports, which the notifier puts on `responses`) are
consumed without automatic acknowledgement and handled in batches (`Batcher`, `Dispatch.handle_batch`):
different incidents concurrently, one incident's events strictly one after another. Each record is
acknowledged when it has been handled — its outputs acknowledged by the broker and the incident's
state saved — or dead-lettered;
faust commits an offset only once every record before it is acknowledged, so a crash or a rebalance
redelivers whatever was not finished (at-least-once; the deterministic event, offer and notification
ids make a redelivery harmless)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.envelope import Envelope
from schemas.events import Payload
from services.common.deadletter import dead_letter_for, decode_or_dead_letter
from services.common.kafka import security_options
from services.common.retry import Backoff, retriable, retry
from services.common.topics import DEAD_LETTERS, INCIDENTS, RESPONSES, SPECS
from services.dispatcher import metrics
from services.dispatcher.app import app, own, settings, topics
from services.dispatcher.batching import Batcher
from services.dispatcher.incident import HANDLED_EVENT_TYPES
from services.dispatcher.ownership import Ownership
from services.dispatcher.runtime import Runtime, forget_incident_states, get_runtime
from services.dispatcher.volunteers import apply_records

log = logging.getLogger(__name__)

CONSUMER = "dispatcher"
MAX_BACKOFF_S = 10.0
BACKOFF = Backoff(0.2, MAX_BACKOFF_S)
"""Between tries of an event whose failure is retriable, holding its record."""
SHUTDOWN_GRACE_S = 8.0
"""At shutdown, events in flight get this long to finish; the rest are redelivered to the next owner."""


ownership = Ownership(settings.topic(RESPONSES), SPECS[RESPONSES].partitions)
"""the incidents this worker owns now (its partitions of `incidents`/`responses`)"""


def now() -> datetime:
    """The worker's clock (`Runtime.clock`: the system's, or a test's `ManualClock`)."""
    return runtime().clock()


def runtime() -> Runtime:
    return get_runtime(app, settings, own)


async def dead_letter(message: Any, reason: str, event_type: str | None = None) -> None:
    letter = dead_letter_for(
        message.value,
        reason,
        topic=message.topic,
        consumer=CONSUMER,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        event_type=event_type,
    )
    fut = await runtime().sender.send(settings.topic(DEAD_LETTERS), message.key, letter.to_json())
    await fut
    metrics.DEAD_LETTERS.labels(message.topic).inc()
    log.warning("dead letter from %s[%s]@%s: %s", message.topic, message.partition, message.offset, reason)


def decode(message: Any) -> tuple[Envelope[Payload] | None, Any]:
    return decode_or_dead_letter(
        message.value,
        topic=message.topic,
        consumer=CONSUMER,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
    )


async def process(
    message: Any,
    handle: Callable[[Envelope[Payload]], Awaitable[object]],
    accepts: Callable[[Envelope[Payload]], bool] = lambda e: True,
    decoded: tuple[Envelope[Payload] | None, Any] | None = None,
) -> None:
    """Decode one record (unless `decoded` already is) and handle it. Poison records and events that
    fail for good become dead letters and the stream moves on; retriable failures (Redis or the broker
    away, a rebalance in flight) are retried with backoff, holding the record (and the batches after
    it) — an event is never skipped."""
    envelope, letter = decoded if decoded is not None else decode(message)
    if envelope is None:
        await dead_letter(
            message,
            letter.payload.reason if letter else "undecodable",
            letter.payload.original_event_type if letter else None,
        )
        return
    if not accepts(envelope):
        await dead_letter(
            message,
            f"event_type: {envelope.event_type} does not belong on {message.topic}",
            envelope.event_type,
        )
        return
    metrics.EVENTS.labels(message.topic, envelope.event_type).inc()

    def again(exc: Exception, wait: float) -> None:
        metrics.ERRORS.labels("retriable").inc()
        log.warning("retrying %s %s in %.1f s: %r", envelope.event_type, envelope.event_id, wait, exc)

    try:
        await retry(lambda: handle(envelope), BACKOFF, when=retriable, on_retry=again)
    except Exception as exc:
        metrics.ERRORS.labels("fatal").inc()
        log.exception("%s %s failed; dead-lettered", envelope.event_type, envelope.event_id)
        await dead_letter(message, f"processing failed: {exc!r}"[:4000], envelope.event_type)


async def process_until_done(
    message: Any,
    handle: Callable[[Envelope[Payload]], Awaitable[object]],
    accepts: Callable[[Envelope[Payload]], bool] = lambda e: True,
    decoded: tuple[Envelope[Payload] | None, Any] | None = None,
) -> None:
    """`process`, again with backoff while even dead-lettering fails (the broker away): the record
    is only ever acknowledged once handled or dead-lettered."""

    def again(exc: Exception, wait: float) -> None:
        metrics.ERRORS.labels("retriable").inc()
        log.error(
            "%s[%s]@%s: not handled (dead-lettering failed); again in %.1f s",
            message.topic,
            message.partition,
            message.offset,
            wait,
            exc_info=exc,
        )

    await retry(lambda: process(message, handle, accepts, decoded), BACKOFF, on_retry=again)


Taken = tuple[Any, tuple[Envelope[Payload] | None, Any]]
"""a record's faust event and its decoding (envelope or dead letter)"""


async def handle_taken(
    taken: list[Taken],
    handle_batch: Callable[[list[Envelope[Payload]]], Awaitable[list[int]]],
    handle: Callable[[Envelope[Payload]], Awaitable[object]],
    accepts: Callable[[Envelope[Payload]], bool],
) -> None:
    """Handle one batch of records: poison and misplaced records become dead letters; the rest go
    to `handle_batch` together; whatever it hands back (an incident whose batch failed) is handled
    one record at a time, with `process`'s retries and dead letters, in order."""
    good: list[tuple[Any, Envelope[Payload], Taken]] = []
    for item in taken:
        event, decoded = item
        envelope = decoded[0]
        if envelope is None or not accepts(envelope):
            await process_until_done(event.message, handle, accepts, decoded)
        else:
            good.append((event, envelope, item))
    if not good:
        return
    try:
        left = set(await handle_batch([envelope for _, envelope, _ in good]))
    except Exception:  # the batch as a whole failed: each record on its own, with retries
        metrics.ERRORS.labels("retriable").inc()
        log.exception("a batch of %d events failed; handling them one at a time", len(good))
        left = set(range(len(good)))
    for index, (event, envelope, (_, decoded)) in enumerate(good):
        if index in left:
            await process_until_done(event.message, handle, accepts, decoded)
        else:
            metrics.EVENTS.labels(event.message.topic, envelope.event_type).inc()


async def consume_in_batches(
    stream: Any,
    limit: int,
    handle_batch: Callable[[list[Envelope[Payload]]], Awaitable[list[int]]],
    handle: Callable[[Envelope[Payload]], Awaitable[object]],
    *,
    accepts: Callable[[Envelope[Payload]], bool] = lambda e: True,
    name: str = "incident",
) -> None:
    """Take records as they arrive and handle them in batches (`Batcher`): whatever arrived while
    the previous batch was handled, at most `limit`. Each record is acknowledged once its batch has
    been handled. At shutdown, what was taken gets `SHUTDOWN_GRACE_S` to finish; the rest stays
    unacknowledged."""
    manual = stream.noack()

    async def run(taken: list[Taken]) -> None:
        metrics.RUNNING_PEAK.labels(name).set(batches.largest)
        await handle_taken(taken, handle_batch, handle, accepts)
        for event, _ in taken:
            await manual.ack(event)
        metrics.IN_FLIGHT.labels(name).set(batches.in_flight - len(taken))

    batches: Batcher[Taken] = Batcher(limit, run, name)
    try:
        async for event in manual.events():
            await batches.put((event, decode(event.message)))
            metrics.IN_FLIGHT.labels(name).set(batches.in_flight)
    finally:
        await batches.close(SHUTDOWN_GRACE_S)


@app.on_partitions_revoked.connect
async def _on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    """What was in flight has finished (faust waits for it); the next owner may write these
    incidents now, so the states kept in memory are forgotten, and the timers leave them alone."""
    ownership.revoked()
    forget_incident_states()


@app.on_partitions_assigned.connect
async def _on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    assigned = args[0] if args else set()
    ownership.assigned(assigned)
    forget_incident_states()
    await _uncommitted_from_the_start(assigned)


async def _uncommitted_from_the_start(assigned: set[Any]) -> None:
    """Read an assigned partition of `incidents`/`responses` that has no committed offset from its
    start. A worker killed before its first commit of a partition (commits go every second) leaves
    none, and the next owner's consumer then began at the partition's end: every incident posted
    between the kill and the takeover was skipped, never dispatched (`make faults-smoke`,
    dispatcher_kill: the next owner's position was the log's end, 23, after the dead owner had
    handled offset 0 alone). Records read again are harmless: every input's outputs and ids are
    deterministic and a handled event is recognised as such."""
    mine = {settings.topic(INCIDENTS), settings.topic(RESPONSES)}
    tps = sorted(tp for tp in assigned if tp.topic in mine)
    if not tps:
        return
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{app.conf.id}-offsets",
        **security_options(settings),
    )
    try:
        await admin.start()
        committed = await admin.list_consumer_group_offsets(
            app.conf.id, partitions=[TopicPartition(tp.topic, tp.partition) for tp in tps]
        )
        missing = [
            tp
            for tp in tps
            if committed.get(TopicPartition(tp.topic, tp.partition)) is None
            or committed[TopicPartition(tp.topic, tp.partition)].offset < 0
        ]
        if not missing:
            return
        earliest = await _earliest_unless_stopping(missing)
        if earliest is None:
            return
        for tp in missing:
            await app.consumer.seek(tp, earliest.get(tp) or 0)
            log.warning(
                "%s[%s]: no committed offset; read from its start (%s)",
                tp.topic,
                tp.partition,
                earliest.get(tp) or 0,
            )
    except Exception:  # the broker away: the worker goes on as before (and says so)
        log.exception("could not check the committed offsets of %s", tps)
    finally:
        await admin.close()


async def _earliest_unless_stopping(tps: list[Any]) -> Mapping[Any, int] | None:
    """The partitions' first offsets, asked through faust's consumer thread; None when the worker stops
    meanwhile. Stopping, that thread cancels the calls queued to it: the cancellation came back here,
    through faust's `on_partitions_assigned`, into aiokafka's coordination task, which the consumer's
    stop then awaited — the consumer thread died of it and the worker hung until it was killed
    (a SIGTERM during a rebalance: every worker of a group stopped at once). A cancellation of this
    task itself, or one while the app is not stopping, is raised as before."""
    try:
        earliest: Mapping[Any, int] = await app.consumer.earliest_offsets(*tps)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if not app.should_stop or (task is not None and task.cancelling()):
            raise
        log.warning("stopping: the start offsets of %s were not read (the next owner reads them)", tps)
        return None
    return earliest


@app.agent(topics.incident_events)
async def dispatch(stream: Any) -> None:
    """Incidents and answers, in batches of up to `SIGAP_DISPATCHER_MAX_IN_FLIGHT` events: different
    incidents concurrently, each incident's events in their order (one worker owns partition n of
    both topics)."""
    await consume_in_batches(
        stream,
        own.dispatcher_max_in_flight,
        _handle_batch,
        _handle,
        accepts=lambda e: e.event_type in HANDLED_EVENT_TYPES,
    )


async def _handle_batch(events: list[Envelope[Payload]]) -> list[int]:
    rt = runtime()
    await rt.generation.wait()  # never against a lost Redis: rebuilt from the topics first
    return await rt.dispatch.handle_batch(events, now())


async def _handle(event: Envelope[Payload]) -> object:
    rt = runtime()
    await rt.generation.wait()
    return await rt.dispatch.handle(event, now())


@app.agent(topics.volunteers)
async def roster(stream: Any) -> None:
    """The roster feed, in batches of up to 500 (one Redis round trip each): profiles into Redis; a
    volunteer coming on duty retries understaffed incidents."""
    async for events in stream.take_events(500, within=0.05):
        await runtime().generation.wait()  # never into a Redis a rebuild is wiping
        await apply_roster_batch([event.message for event in events])


async def _apply_one(message: Any) -> None:
    if message.value is None:  # a tombstone: the volunteer left the roster
        await runtime().roster.remove(message.key.decode("utf-8", "replace") if message.key else "")
        return

    async def apply(_: Envelope[Payload]) -> None:
        await apply_records(runtime().roster, [(message.key, message.value)], now())

    await process(message, apply)


async def apply_roster_batch(messages: list[Any]) -> None:
    try:
        _, available, invalid = await retry(
            lambda: apply_records(runtime().roster, [(m.key, m.value) for m in messages], now()),
            BACKOFF,
            when=retriable,
            on_retry=lambda exc, wait: log.warning("roster batch: retrying in %.1f s: %r", wait, exc),
        )
    except Exception:
        log.exception("roster batch failed; applying its records one by one")
        for message in messages:
            await _apply_one(message)
        return
    for index, reason in invalid:
        envelope, _ = decode(messages[index])
        await dead_letter(messages[index], reason, envelope.event_type if envelope else None)
    metrics.EVENTS.labels(settings.topic("volunteers"), "volunteer.*").inc(len(messages) - len(invalid))
    if available:
        await runtime().dispatch.followups.wake_understaffed(
            f"{len(available)} volunteers came on duty", available, now()
        )


@app.agent(topics.weather_alerts)
async def alerts(stream: Any) -> None:
    """BMKG warnings and earthquakes: banner, standby notices, draft incident."""
    async for event in stream.events():
        await process(event.message, _handle_alert, lambda e: e.event_type.startswith("weather_alert."))


async def _handle_alert(event: Envelope[Payload]) -> int:
    rt = runtime()
    await rt.generation.wait()  # the standby index must not be the one a rebuild is filling
    return await rt.alerts.handle(event, now())


async def _tick(name: str, job: Callable[[Runtime, datetime], Awaitable[int]]) -> None:
    if not runtime().generation.ready.is_set():
        return  # Redis is being rebuilt
    try:
        await job(runtime(), now())
    except Exception:  # a timer must outlive a Redis or broker hiccup; the next tick tries again
        metrics.ERRORS.labels(name).inc()
        log.exception("timer %s failed", name)


@app.timer(interval=own.expiry_interval_s)  # type: ignore[untyped-decorator]  # faust is untyped
async def expire_offers() -> None:
    await _tick("expire_offers", lambda rt, at: rt.dispatch.followups.expire_due(at, ownership.owns))


@app.timer(interval=1.0)  # type: ignore[untyped-decorator]  # faust is untyped
async def wake_rested() -> None:
    await _tick("wake_rested", lambda rt, at: rt.dispatch.followups.wake_rested(at))


@app.timer(interval=own.retry_interval_s)  # type: ignore[untyped-decorator]  # faust is untyped
async def retry_understaffed() -> None:
    await _tick(
        "retry_understaffed", lambda rt, at: rt.dispatch.followups.request_retries("periodic retry", at)
    )


@app.timer(interval=15.0)  # type: ignore[untyped-decorator]  # faust is untyped
async def expire_alerts() -> None:
    await _tick("expire_alerts", lambda rt, at: rt.alerts.expire_due(at))


@app.timer(interval=own.dispatcher_generation_check_s)  # type: ignore[untyped-decorator]  # faust is untyped
async def check_generation() -> None:
    """A lost Redis (no generation marker) is rebuilt from the topics before the worker acts again."""
    try:
        await runtime().generation.check()
    except Exception:
        metrics.ERRORS.labels("check_generation").inc()
        log.exception("checking or rebuilding Redis failed; trying again")
