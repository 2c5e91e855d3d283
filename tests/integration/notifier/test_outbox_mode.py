"""`make up` enables only the outbox: then every notification lands there, whatever channels the
volunteer lists, shown as the volunteer's first channel would carry it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.api import OutboxMessage
from schemas.events import NotificationDelivered, NotificationFailed, NotificationRequested
from schemas.vocabulary import NotificationKind
from services.common.notifications import notification_id
from services.common.readmodels import Keys
from tests.integration.notifier.conftest import Stack
from tests.unit.notifier.samples import request

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def outbox_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One notifier with only the outbox enabled, for the tests of this module that need no other
    channel: starting a worker was most of each test's time. Each test has notification ids of its
    own, and counts what it caused (its own messages, the metrics' increase)."""
    stack = Stack(tmp_path_factory.mktemp("outbox-only"), {"SIGAP_CHANNELS": "outbox"}).start()
    yield stack
    stack.stop()


def outbox(stack: Stack, key: str, notification_ids: set[str]) -> list[OutboxMessage]:
    """The messages in an outbox list (newest first) that are of these notifications."""
    messages = (OutboxMessage.model_validate_json(raw) for raw in stack.redis.lrange(key, 0, -1))
    return [m for m in messages if m.notification_id in notification_ids]


def test_every_notification_lands_in_the_outbox(outbox_only: Stack) -> None:
    stack = outbox_only
    handoffs_before = stack.metric("sigap_notifier_handoff_seconds_count", channel="outbox")
    lists = [
        [("whatsapp", "081234567890"), ("sms", "081234567890")],
        [("telegram", "5550123")],
        [("sms", "085712345678")],
        [("email", "relawan@example.id"), ("whatsapp", "081298765432")],
    ]
    kinds = ["offer", "withdrawal", "cancellation", "standby", "understaffed"]
    sent = [
        request(lists[i % len(lists)], kind=kinds[i % len(kinds)], volunteer_id=f"vol-{i % 7}")
        for i in range(40)
    ]
    for req in sent:
        stack.bus.request(req)
    for req in sent:
        outcome = stack.bus.outcome(req.notification_id)
        assert isinstance(outcome, NotificationDelivered) and outcome.channel == "outbox"
        assert outcome.provider_message_id == req.notification_id

    keys = Keys(stack.redis_prefix)
    ids = {r.notification_id for r in sent}
    mine = outbox(stack, keys.outbox, ids)
    stored = {m.notification_id: m for m in mine}
    assert len(mine) == len(stored) == len(sent)  # each once
    for req in sent:
        message = stored[req.notification_id]
        first = req.recipient.channels[0]
        assert (message.channel, message.address) == (first.type, first.address)
        assert message.kind == req.kind and message.volunteer_id == req.recipient.volunteer_id
        assert "Kel. Ngronggo" in message.text
        if first.type == "sms":
            assert "openstreetmap" not in message.text  # the SMS variant
    per_volunteer = outbox(stack, keys.volunteer_outbox("vol-3"), ids)
    assert len(per_volunteer) == sum(1 for r in sent if r.recipient.volunteer_id == "vol-3")
    assert all(mine[0].stored_at >= m.stored_at for m in mine)  # newest first
    handoffs = stack.metric("sigap_notifier_handoff_seconds_count", channel="outbox")
    assert handoffs - handoffs_before == len(sent)


def test_a_volunteer_without_enabled_channels_is_reported(tmp_path: Path) -> None:
    """With real channels enabled, a volunteer reachable on none of them is a failure, not silence;
    an offer's failure also goes onto `responses`, for the incident's timeline."""
    stack = Stack(tmp_path, {"SIGAP_CHANNELS": "email", "SIGAP_SMTP_PORT": "2525"}).start()
    try:
        req = offer_of(request([("telegram", "5550199")]), "INC-F", "off-f")
        stack.bus.request(req)
        outcome = stack.bus.outcome(req.notification_id)
        assert isinstance(outcome, NotificationFailed)
        assert "none of the recipient's channels (telegram) is enabled" in outcome.reason
        assert stack.bus.wait(stack.bus.dead_letters, message="the dead letter")
        [(key, event)] = stack.bus.wait(lambda: stack.bus.on_responses(req.notification_id))
        assert key == b"INC-F" and event.payload == outcome
    finally:
        stack.stop()


def offer_of(
    req: NotificationRequested, incident_id: str, offer_id: str, kind: str = "offer"
) -> NotificationRequested:
    """`req` as the dispatcher asks for an offer (or its withdrawal): ids derived from the offer."""
    return req.model_copy(
        update={
            "kind": NotificationKind(kind),
            "notification_id": notification_id(kind, offer_id),
            "incident_id": incident_id,
            "offer_id": offer_id,
        }
    )


def test_an_offers_report_goes_onto_responses_keyed_by_its_incident(outbox_only: Stack) -> None:
    """The dispatcher records an offer's delivery on the incident's timeline from `responses`; a
    withdrawal's report can change nothing there and stays on `deliveries` only."""
    stack = outbox_only
    withdrawal = offer_of(request(), "INC-7", "off-7w", kind="withdrawal")
    stack.bus.request(withdrawal)
    assert isinstance(stack.bus.outcome(withdrawal.notification_id), NotificationDelivered)
    offer = offer_of(request(), "INC-7", "off-7")
    stack.bus.request(offer)
    delivered = stack.bus.outcome(offer.notification_id)
    assert isinstance(delivered, NotificationDelivered)
    [(key, event)] = stack.bus.wait(lambda: stack.bus.on_responses(offer.notification_id))
    assert key == b"INC-7"
    assert event.payload == delivered and event.correlation_id == "INC-7"
    assert stack.bus.on_responses(withdrawal.notification_id) == []
    assert [e.payload for e in stack.bus.about(offer.notification_id)] == [delivered]  # still on deliveries


def test_a_redelivered_request_is_stored_and_reported_once(outbox_only: Stack) -> None:
    """The outbox marks the hop sent in the same step as it stores the message; a redelivered request
    (the same event again) then finds the notification handled: no second message, no second report."""
    stack = outbox_only
    duplicates = stack.metric("sigap_notifier_notifications_total", outcome="duplicate")
    req = offer_of(request([("sms", "085712345678")]), "INC-R", "off-r")
    event = stack.bus.request(req)
    assert isinstance(stack.bus.outcome(req.notification_id), NotificationDelivered)
    claims = stack.redis.hgetall(f"{stack.redis_prefix}notif:{req.notification_id}")
    [hop] = [json.loads(v) for k, v in claims.items() if k.startswith("outbox|")]
    assert (hop["state"], hop["provider_message_id"], hop["attempts"]) == ("sent", req.notification_id, 1)
    assert claims["outcome"] == "delivered:outbox"

    stack.bus.request(req, event_id=event.event_id)
    stack.bus.wait(
        lambda: stack.metric("sigap_notifier_notifications_total", outcome="duplicate") > duplicates,
        message="the redelivery handled",
    )
    assert stack.metric("sigap_notifier_notifications_total", outcome="duplicate") == duplicates + 1
    assert len(stack.bus.about(req.notification_id)) == 1
    assert len(stack.bus.on_responses(req.notification_id)) == 1
    assert len(outbox(stack, Keys(stack.redis_prefix).outbox, {req.notification_id})) == 1
