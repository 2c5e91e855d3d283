"""An answer that overtakes the offer it answers: a worker made an offer (its outputs acknowledged) and
was killed before it saved the incident's state; the volunteer accepted. The next owner gets the report
again (on `incidents`) and the acceptance (on `responses`) in either order. Taken first, the acceptance
used to meet no incident and be dropped (the offer then expired: seen in `make faults-smoke`); now it
is parked and carried out once the report has made the state again. Against the real Redis and broker,
`Dispatch` as the worker's agent calls it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from schemas.envelope import decode_event, make_event
from schemas.events import AssignmentStatusChanged, OfferAccepted, OfferMade
from schemas.vocabulary import AssignmentStatus, IncidentStatus, VolunteerStatus
from services.common.config import Settings
from services.common.kafka import new_producer
from tests.integration.dispatcher.conftest import volunteer
from tests.integration.dispatcher.test_dispatch import CountingSender, dispatch_for, report_of

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


@pytest.fixture
async def sender(topics: Settings) -> AsyncIterator[CountingSender]:
    producer = new_producer(topics.kafka_bootstrap, client_id=f"{topics.topic_prefix}test")
    await producer.start()
    yield CountingSender(producer)
    await producer.stop()


@pytest.mark.parametrize("batched", [False, True])
async def test_an_acceptance_taken_before_the_redelivered_report_is_kept(
    redis: Redis, settings: Settings, sender: CountingSender, batched: bool
) -> None:
    killed = dispatch_for(redis, settings, sender)
    for vid, km in (("a", 1.0), ("b", 2.0)):
        await killed.roster.apply(volunteer(vid, km), event_at=NOW, now=NOW)
    report = report_of("INC-OT")
    state = await killed.handle(report, NOW)
    assert state is not None
    offer = state.assignments[0]
    # the worker dies after its outputs were acknowledged, before its save: the state is not there
    await redis.delete(killed.incidents.state_key("INC-OT"))
    ids = {"offer_id": offer.offer_id, "incident_id": "INC-OT", "volunteer_id": offer.volunteer_id}
    accepted = make_event(OfferAccepted(**ids), source="test")
    released = make_event(AssignmentStatusChanged(**ids, status=AssignmentStatus.RELEASED), source="test")

    owner = dispatch_for(redis, settings, sender)  # the next owner: answers first, then the report
    sender.sent.clear()
    if batched:
        assert await owner.handle_batch([accepted, released, report], NOW + timedelta(seconds=1)) == []
    else:
        assert await owner.handle(accepted, NOW + timedelta(seconds=1)) is None
        assert await owner.handle(released, NOW + timedelta(seconds=1)) is None
        await owner.handle(report, NOW + timedelta(seconds=2))

    sent = [decode_event(v) for _, v in sender.sent]
    made = [e.payload for e in sent if isinstance(e.payload, OfferMade)]
    assert [m.offer_id for m in made] == [offer.offer_id]  # the same offer again, to the same volunteer
    assert [
        e.event_type for e in sent if e.event_type in ("offer.accepted", "assignment.status_changed")
    ] == [
        "offer.accepted",
        "assignment.status_changed",
    ]
    after, _ = await owner.incidents.load("INC-OT")
    assert after is not None and after.assignments[0].status == AssignmentStatus.RELEASED
    assert after.status == IncidentStatus.STAFFED
    assert (await owner.roster.hold(offer.volunteer_id)).status in (VolunteerStatus.AVAILABLE, "resting")
    assert (await owner.roster.hold("b")).status == VolunteerStatus.AVAILABLE  # nobody else offered
    assert not await redis.exists(f"{settings.redis_prefix}dsp:parked:INC-OT")
