"""`Dispatch.handle` in this process against the real Redis and broker: what the worker's agents call,
without the agents. For the paths a full worker rarely takes (a report it does not remember)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from schemas.envelope import decode_event, make_event
from schemas.events import IncidentClosed, IncidentReported, Need, OfferMade
from schemas.vocabulary import AssignmentStatus, IncidentStatus, IncidentType, Severity, Unit, VolunteerStatus
from services.common.config import Settings
from services.common.kafka import new_producer
from services.dispatcher.dispatch import Dispatch
from services.dispatcher.incident import Policy
from services.dispatcher.outputs import AioKafkaSender
from services.dispatcher.roster import Roster
from services.dispatcher.runcards import load_runcards
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


@pytest.fixture
async def sender(topics: Settings) -> AsyncIterator[CountingSender]:
    producer = new_producer(topics.kafka_bootstrap, client_id=f"{topics.topic_prefix}test")
    await producer.start()
    yield CountingSender(producer)
    await producer.stop()


def dispatch_for(redis: Redis, settings: Settings, sender: CountingSender) -> Dispatch:
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
