"""`Dispatch.handle` and `Dispatch.handle_batch` in this process against the real Redis and broker: what
the worker's agents call, without the agents. For the paths a full worker rarely takes (a report it
does not remember, a batch whose save or send fails)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from redis.asyncio import Redis

from schemas.envelope import Envelope, decode_event, make_event
from schemas.events import IncidentCancelled, IncidentClosed, IncidentReported, Need, OfferMade, Payload
from schemas.vocabulary import AssignmentStatus, IncidentStatus, IncidentType, Severity, Unit, VolunteerStatus
from services.common.autopipe import AutoPipelineRedis
from services.common.config import Settings
from services.common.kafka import new_producer
from services.dispatcher.dispatch import Dispatch
from services.dispatcher.incident import Policy
from services.dispatcher.outputs import AioKafkaSender, Outbound
from services.dispatcher.roster import Roster
from services.dispatcher.runcards import load_runcards
from services.dispatcher.runtime import dispatcher_redis
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import IncidentStore
from tests.integration.dispatcher.conftest import HERE, volunteer

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


class CountingSender(AioKafkaSender):
    """The real producer, counting what it is asked to send."""

    def __init__(self, producer: Any) -> None:
        super().__init__(producer)
        self.sent: list[tuple[str, bytes]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]:
        self.sent.append((topic, value))
        return await super().send(topic, key, value)

    async def send_many(self, records: Sequence[Outbound]) -> list[Awaitable[Any]]:
        self.sent.extend((topic, value) for topic, _, value in records)
        return await super().send_many(records)


@pytest.fixture
async def sender(topics: Settings) -> AsyncIterator[CountingSender]:
    producer = new_producer(topics.kafka_bootstrap, client_id=f"{topics.topic_prefix}test")
    await producer.start()
    yield CountingSender(producer)
    await producer.stop()


def dispatch_for(redis: Redis, settings: Settings, sender: AioKafkaSender) -> Dispatch:
    """A worker's `Dispatch`, with its own (empty) memory of incident states."""
    own = DispatcherSettings()
    return Dispatch(
        roster=Roster(redis, settings.redis_prefix),
        incidents=IncidentStore(redis, settings.redis_prefix),
        sender=sender,
        policy=Policy(runcards=load_runcards(own.runcards_file)),
        settings=settings,
        own=own,
        coordinators=[],
    )


async def test_a_report_another_worker_handled_is_recognised_without_loading_first(
    redis: Redis, settings: Settings, sender: CountingSender
) -> None:
    """A report not in a worker's memory is handled without loading its state first; when the state
    exists after all (a redelivery after a rebalance or a restart), nothing is reserved or sent again."""
    first = dispatch_for(redis, settings, sender)
    for vid, km in (("a", 1.0), ("b", 2.0)):
        await first.roster.apply(volunteer(vid, km), event_at=NOW, now=NOW)
    report = make_event(
        IncidentReported(
            incident_id="INC-R",
            type=IncidentType.FLOOD,
            severity=Severity.MINOR,
            title="Banjir",
            location=HERE,
            kelurahan_code="35.71.02.1001",
            needs=[Need(unit=Unit.TAGANA, count=1)],
        ),
        source="test",
    )
    state = await first.handle(report, NOW)
    assert state is not None and state.version == 1
    assert [a.volunteer_id for a in state.assignments] == ["a"]
    offers = [v for _, v in sender.sent if isinstance(decode_event(v).payload, OfferMade)]
    assert len(offers) == 1
    sent_before = len(sender.sent)

    other = dispatch_for(redis, settings, sender)  # remembers nothing
    assert not other.incidents.remembers("INC-R")
    again = await other.handle(report, NOW + timedelta(seconds=1))
    assert again is not None and again.version == 1  # recognised as processed: not saved again
    assert len(sender.sent) == sent_before
    assert (await other.roster.hold("b")).status == VolunteerStatus.AVAILABLE
    assert (await other.roster.hold("a")).offer_id == state.assignments[0].offer_id

    # the worker now remembers it, and the next event of the incident goes on from there
    closed = make_event(IncidentClosed(incident_id="INC-R", note="done"), source="test")
    after = await other.handle(closed, NOW + timedelta(seconds=2))
    assert after is not None and after.status == IncidentStatus.CLOSED and after.version == 2
    assert after.assignments[0].status == AssignmentStatus.WITHDRAWN
    assert (await other.roster.hold("a")).status == VolunteerStatus.AVAILABLE


def report_of(incident_id: str, count: int = 1) -> Envelope[Payload]:
    return make_event(
        IncidentReported(
            incident_id=incident_id,
            type=IncidentType.FLOOD,
            severity=Severity.MINOR,
            title="Banjir",
            location=HERE,
            kelurahan_code="35.71.02.1001",
            needs=[Need(unit=Unit.TAGANA, count=count)],
        ),
        source="test",
    )


def closing_of(incident_id: str) -> Envelope[Payload]:
    return make_event(IncidentClosed(incident_id=incident_id, note="selesai"), source="test")


def offers_in(sent: list[tuple[str, bytes]]) -> dict[str, str]:
    """offer id → incident id of every `offer.made` sent"""
    out = {}
    for _, value in sent:
        payload = decode_event(value).payload
        if isinstance(payload, OfferMade):
            out[payload.offer_id] = payload.incident_id
    return out


@pytest.fixture
async def pipelined(settings: Settings) -> AsyncIterator[Redis]:
    """The worker's own client: pipelines what a batch's incidents send together."""
    client = dispatcher_redis(settings.redis_url, DispatcherSettings().dispatcher_max_in_flight)
    yield client
    await client.aclose()
    await client.connection_pool.disconnect()


async def test_a_batch_keeps_each_incidents_order_and_saves_each_incident_once(
    redis: Redis, pipelined: Redis, settings: Settings, sender: CountingSender
) -> None:
    """Four incidents, each reported then closed, interleaved in one batch: every incident is offered
    then closed (its close came after its report), each state saved once, with both events in it;
    every volunteer is free again."""
    dispatch = dispatch_for(pipelined, settings, sender)
    for n in range(6):
        await dispatch.roster.apply(volunteer(f"v{n}", 0.5 + n), event_at=NOW, now=NOW)
    ids = [f"INC-B{n}" for n in range(4)]
    events = [report_of(i) for i in ids] + [closing_of(i) for i in ids]
    assert isinstance(pipelined, AutoPipelineRedis)
    assert await dispatch.handle_batch(events, NOW) == []
    # the four searches went as one pipeline, and so on for each step the incidents took together
    assert pipelined.pipelines_sent >= 3 and pipelined.commands_sent >= 4 * 3

    offered = offers_in(sender.sent)
    assert sorted(offered.values()) == ids  # one offer each, four different volunteers
    for incident_id in ids:
        state, version = await IncidentStore(redis, settings.redis_prefix).load(incident_id)
        assert state is not None and version == 1  # one save for the report and the close
        assert state.status == IncidentStatus.CLOSED
        assert [a.status for a in state.assignments] == [AssignmentStatus.WITHDRAWN]
        assert {e.event_id for e in events if getattr(e.payload, "incident_id", None) == incident_id} <= set(
            state.processed
        )
    for n in range(6):
        assert (await dispatch.roster.hold(f"v{n}")).status == VolunteerStatus.AVAILABLE

    # the same batch delivered again changes nothing and sends nothing new
    sent_before = len(sender.sent)
    assert await dispatch.handle_batch(events, NOW + timedelta(seconds=1)) == []
    assert len(sender.sent) == sent_before

    # a batch of one incident's events sends each command on its own (no extra loop turn)
    pipelines, commands = pipelined.pipelines_sent, pipelined.commands_sent
    assert await dispatch.handle_batch([report_of("INC-B9"), closing_of("INC-B9")], NOW) == []
    assert (pipelined.pipelines_sent, pipelined.commands_sent) == (pipelines, commands)
    assert sorted(offers_in(sender.sent[sent_before:]).values()) == ["INC-B9"]


async def test_an_incident_whose_save_fails_is_handed_back_and_the_others_are_saved(
    redis: Redis, pipelined: Redis, settings: Settings, sender: CountingSender
) -> None:
    """A worker's memory of INC-S is stale (another worker saved it since): its save in the batch
    fails the version check, so its event is handed back to be handled on its own — and then it is,
    from the state in Redis — while INC-T in the same batch is saved."""
    mine = dispatch_for(pipelined, settings, sender)
    for n in range(3):
        await mine.roster.apply(volunteer(f"s{n}", 0.5 + n), event_at=NOW, now=NOW)
    report = report_of("INC-S")
    await mine.handle(report, NOW)  # remembered at version 1
    other = dispatch_for(redis, settings, sender)
    await other.handle(report, NOW)  # recognised as handled: loads version 1
    assert (await other.handle(closing_of("INC-S"), NOW)) is not None  # saves version 2

    late = make_event(IncidentCancelled(incident_id="INC-S", reason="latihan"), source="test")
    batch = [late, report_of("INC-T")]
    assert await mine.handle_batch(batch, NOW) == [0]
    t_state, _ = await IncidentStore(redis, settings.redis_prefix).load("INC-T")
    assert t_state is not None and t_state.status == IncidentStatus.DISPATCHING

    after = await mine.handle(late, NOW)  # one at a time: reloaded from Redis, closed stays closed
    assert after is not None and after.status == IncidentStatus.CLOSED and after.version == 3


class FailingSender(AioKafkaSender):
    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]:
        raise KafkaConnectionError("broker away (test)")

    async def send_many(self, records: Sequence[Outbound]) -> list[Awaitable[Any]]:
        raise KafkaConnectionError("broker away (test)")


async def test_when_sending_fails_nothing_is_saved_and_every_event_is_handed_back(
    redis: Redis, pipelined: Redis, settings: Settings, sender: CountingSender
) -> None:
    """No state may exist without its outputs: a batch whose send fails saves nothing and hands back
    every event. Handled again, each gets the same offer (same ids) it was reserved under."""
    failing = dispatch_for(pipelined, settings, FailingSender(sender.producer))
    for n in range(3):
        await failing.roster.apply(volunteer(f"f{n}", 0.5 + n), event_at=NOW, now=NOW)
    events = [report_of("INC-F1"), report_of("INC-F2")]
    assert await failing.handle_batch(events, NOW) == [0, 1]
    store = IncidentStore(redis, settings.redis_prefix)
    assert (await store.load("INC-F1"))[0] is None and (await store.load("INC-F2"))[0] is None
    held = {vid: (await failing.roster.hold(vid)).offer_id for vid in ("f0", "f1")}

    working = dispatch_for(pipelined, settings, sender)
    for event in events:
        await working.handle(event, NOW)
    offered = offers_in(sender.sent)
    assert sorted(offered) == sorted(o for o in held.values() if o)  # the reservations taken up
    assert sorted(offered.values()) == ["INC-F1", "INC-F2"]
