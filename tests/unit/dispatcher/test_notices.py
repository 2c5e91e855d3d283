"""Notification requests: recipients, deadlines, signed links, deterministic ids; coordinators."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.events import ChannelAddress, Need, NotificationDelivered, NotificationFailed, VolunteerProfile
from schemas.vocabulary import ChannelType, NotificationKind, Skill, Unit
from services.common import links
from services.common.notifications import offer_report_incident
from services.dispatcher import notices
from services.dispatcher.settings import parse_coordinators
from tests.unit.dispatcher.world import T0, World, ev, reported

SECRET = "x" * 40


def profile(**kw: object) -> VolunteerProfile:
    base: dict[str, object] = {
        "volunteer_id": "v0",
        "name": "Budi",
        "phone": "0812-3456-7890",
        "unit": Unit.TAGANA,
        "skills": [Skill.EVACUATION],
        "home_kelurahan_code": "35.71.02.1001",
        "channels": [
            ChannelAddress(type=ChannelType.TELEGRAM, address="12345"),
            ChannelAddress(type=ChannelType.SMS, address="081234567890"),
        ],
    }
    base.update(kw)
    return VolunteerProfile(**base)  # type: ignore[arg-type]


def offered_state():  # type: ignore[no-untyped-def]
    world = World.of(("v0", Unit.TAGANA, (Skill.EVACUATION,), 1.5))
    return world.run(None, ev(reported(needs=[Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=1)])), T0)


def test_an_offer_notice_carries_a_signed_link_the_deadline_and_the_context() -> None:
    state = offered_state()
    a = state.assignments[0]
    n = notices.offer_notice(
        state, a, profile(), public_url="https://sigap.example/", secret=SECRET, link_ttl=timedelta(hours=24)
    )
    assert n.kind == NotificationKind.OFFER and n.deadline == a.expires_at
    assert [c.type for c in n.recipient.channels] == [ChannelType.TELEGRAM, ChannelType.SMS]
    assert n.context.response_url is not None
    assert n.context.response_url.startswith("https://sigap.example/r/")
    claims = links.verify(n.context.response_url.rsplit("/", 1)[1], SECRET, T0 + timedelta(hours=23))
    assert (claims.kind, claims.offer_id, claims.volunteer_id, claims.incident_id) == (
        "offer",
        a.offer_id,
        "v0",
        "INC-1",
    )
    assert claims.expires_at == a.offered_at + timedelta(hours=24)
    assert (n.context.incident_type, n.context.kelurahan_code, n.context.skill) == (
        state.type,
        state.kelurahan_code,
        Skill.EVACUATION,
    )
    again = notices.offer_notice(
        state, a, profile(), public_url="https://sigap.example/", secret=SECRET, link_ttl=timedelta(hours=24)
    )
    assert again.notification_id == n.notification_id  # a redelivery asks for the same notification


def test_a_volunteer_without_channels_is_still_reached_by_sms() -> None:
    r = notices.volunteer_recipient(profile(channels=[]))
    assert [(c.type, c.address) for c in r.channels] == [(ChannelType.SMS, "+6281234567890")]


def test_a_recipient_is_made_once_per_profile_object() -> None:
    """The offer and its withdrawal are told from the same parsed profile: one recipient, shared; a
    profile parsed again (a changed roster entry) gets its own."""
    state = offered_state()
    a = state.assignments[0]
    budi = profile()
    offer = notices.offer_notice(
        state, a, budi, public_url="https://sigap.example", secret=SECRET, link_ttl=timedelta(hours=1)
    )
    withdrawal = notices.ended_notice(NotificationKind.WITHDRAWAL, state, a, budi, "false alarm")
    assert offer.recipient is withdrawal.recipient
    moved = profile(channels=[ChannelAddress(type=ChannelType.SMS, address="081299998888")])
    assert [c.address for c in notices.volunteer_recipient(moved).channels] == ["+6281299998888"]
    assert notices.volunteer_recipient(budi) is offer.recipient


def test_withdrawal_and_cancellation_ids_differ_from_the_offer() -> None:
    state = offered_state()
    a = state.assignments[0]
    w = notices.ended_notice(NotificationKind.WITHDRAWAL, state, a, profile(), "false alarm")
    c = notices.ended_notice(NotificationKind.CANCELLATION, state, a, profile())
    assert len({w.notification_id, c.notification_id, notices.notification_id("offer", a.offer_id)}) == 3
    assert w.context.reason == "false alarm" and w.deadline is None


def test_only_reports_of_offer_notices_go_to_the_incident() -> None:
    state = offered_state()
    a = state.assignments[0]
    offer = notices.offer_notice(
        state, a, profile(), public_url="https://sigap.example/", secret=SECRET, link_ttl=timedelta(hours=24)
    )
    withdrawal = notices.ended_notice(NotificationKind.WITHDRAWAL, state, a, profile(), "false alarm")
    about = {"incident_id": state.incident_id, "offer_id": a.offer_id, "volunteer_id": "v0"}

    def delivered(notification_id: str, **kw: object) -> NotificationDelivered:
        return NotificationDelivered.model_validate(
            {
                "notification_id": notification_id,
                "channel": "telegram",
                "attempts": 1,
                "latency_ms": 5.0,
                **kw,
            }
        )

    assert offer_report_incident(delivered(offer.notification_id, **about)) == state.incident_id
    failed = NotificationFailed(notification_id=offer.notification_id, reason="no route", attempts=3, **about)
    assert offer_report_incident(failed) == state.incident_id
    assert offer_report_incident(delivered(withdrawal.notification_id, **about)) is None
    assert offer_report_incident(delivered(offer.notification_id)) is None  # names no incident
    assert offer_report_incident(offer) is None  # not a report


def test_coordinators_always_include_the_outbox() -> None:
    people = parse_coordinators(
        "Pak Joko|whatsapp:0812 1111 2222,email:joko@kedirikota.go.id; Bu Sri|outbox:sri"
    )
    assert [p.name for p in people] == ["Pak Joko", "Bu Sri"]
    assert [c.type for c in people[0].channels] == [
        ChannelType.WHATSAPP,
        ChannelType.EMAIL,
        ChannelType.OUTBOX,
    ]
    assert people[0].channels[0].address == "+6281211112222"
    assert [c.type for c in people[1].channels] == [ChannelType.OUTBOX]
    default = parse_coordinators("")
    assert len(default) == 1 and default[0].channels[0].type == ChannelType.OUTBOX
    with pytest.raises(ValueError, match="name\\|channel"):
        parse_coordinators("just a name")
    with pytest.raises(ValueError):
        parse_coordinators("X|pigeon:coop")


def test_understaffed_notices_one_per_coordinator() -> None:
    state = offered_state()
    people = parse_coordinators("A|sms:081111111111;B|email:b@x.id")
    out = notices.understaffed_notices(state, people, episode=1, open_slots=2, reason="none within 25 km")
    assert [n.recipient.name for n in out] == ["A", "B"]
    assert {n.kind for n in out} == {NotificationKind.UNDERSTAFFED}
    assert out[0].context.open_slots == 2 and out[0].notification_id != out[1].notification_id
