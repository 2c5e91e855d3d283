"""The dispatcher's output records (validated envelopes, every kind it produces) and its read model
(built without pydantic's validation: the same values and bytes as a validated one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.api import IncidentView
from schemas.envelope import decode_event, make_event
from schemas.events import (
    ChannelAddress,
    IncidentCancelled,
    Need,
    NotificationRequested,
    OfferAccepted,
    OfferDeclined,
    Payload,
    Recipient,
    VolunteerProfile,
)
from schemas.vocabulary import ChannelType, NotificationKind, Skill, Unit
from services.dispatcher import notices
from services.dispatcher.commands import Emit
from services.dispatcher.outputs import Batch
from services.dispatcher.projection import incident_view
from tests.unit.dispatcher.test_incident import answer, evac_world
from tests.unit.dispatcher.world import T0, ev, later, reported


def _payloads() -> list[Payload]:
    world = evac_world(1, 2, 3)
    out: list[Payload] = []
    state = world.run(None, ev(reported(needs=[Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=2)])), T0)
    out += [c.payload for c in world.of_type(Emit)]
    for payload, at in (
        (answer(OfferAccepted, state, "v0", via="link"), later(1)),
        (answer(OfferDeclined, state, "v1"), later(2)),
        (IncidentCancelled(incident_id="INC-1", reason="salah lapor"), later(3)),
    ):
        state = world.run(state, ev(payload), at)
        out += [c.payload for c in world.of_type(Emit)]
    profile = VolunteerProfile(
        volunteer_id="v0",
        name="Relawan “Satu”",
        phone="081234567890",
        unit=Unit.TAGANA,
        skills=[Skill.EVACUATION],
        home_kelurahan_code="35.71.02.1001",
        channels=[ChannelAddress(type=ChannelType.OUTBOX, address="v0")],
    )
    a = state.assignments[0]
    out.append(
        notices.offer_notice(
            state, a, profile, public_url="http://x", secret="s" * 32, link_ttl=timedelta(hours=1)
        )
    )
    out.append(notices.ended_notice(NotificationKind.CANCELLATION, state, a, profile, "salah lapor"))
    coordinator = Recipient(name="Posko", channels=[ChannelAddress(type=ChannelType.OUTBOX, address="posko")])
    out.extend(notices.understaffed_notices(state, [coordinator], episode=1, open_slots=2, reason="r"))
    return out


def test_every_kind_of_output_round_trips_through_its_envelope() -> None:
    payloads = _payloads()
    assert {type(p).__name__ for p in payloads} >= {
        "IncidentStatusChanged",
        "OfferMade",
        "OfferAccepted",
        "OfferDeclined",
        "OfferWithdrawn",
        "AssignmentStatusChanged",
        NotificationRequested.__name__,
    }
    for payload in payloads:
        for at in (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)):
            for correlation_id in ("INC-1", None):
                event = make_event(
                    payload, source="dispatcher", correlation_id=correlation_id, occurred_at=at
                )
                assert decode_event(event.to_json()) == event


def test_a_batch_derives_its_ids_from_the_input() -> None:
    first, second = Batch("ev-1"), Batch("ev-1")
    for batch in (first, second):
        for payload in _payloads()[:3]:
            batch.add("t", payload, key="INC-1")
    assert [e.event_id for _, _, e in first.records] == [e.event_id for _, _, e in second.records]
    assert len({e.event_id for _, _, e in first.records}) == 3


def test_a_batch_builds_valid_envelopes() -> None:
    batch = Batch("ev-2")
    for payload in _payloads():
        batch.add("t", payload, key="INC-1")
    for _, key, event in batch.records:
        assert key == b"INC-1"
        assert (event.source, event.correlation_id) == ("dispatcher", "INC-1")
        assert decode_event(event.to_json()) == event


def test_the_read_model_is_the_validated_view() -> None:
    """`incident_view` builds the view without validating it: it equals and serialises exactly as a
    validated one."""
    world = evac_world(1, 2, 3)
    state = world.run(None, ev(reported(needs=[Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=2)])), T0)
    for payload, at in (
        (answer(OfferAccepted, state, "v0", via="link"), later(1)),
        (IncidentCancelled(incident_id="INC-1", reason="salah lapor"), later(3)),
    ):
        state = world.run(state, ev(payload), at)
        view = incident_view(state)
        validated = IncidentView.model_validate_json(view.model_dump_json())
        assert validated == view
        assert validated.model_dump_json() == view.model_dump_json()
        assert IncidentView.model_validate(view.model_dump()).model_dump_json() == view.model_dump_json()
