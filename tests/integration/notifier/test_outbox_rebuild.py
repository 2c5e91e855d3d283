"""The outbox is rebuilt from the topics (DESIGN.md §1): after the notifier's keys are lost, the
requests on `notifications` and the reports on `deliveries` give back the same messages, in the same
lists, and a request delivered again is still stored once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from schemas.api import OutboxMessage
from schemas.events import NotificationDelivered
from services.common.config import Settings
from services.common.readmodels import Keys
from services.notifier.rebuild import rebuild_outbox
from tests.integration.notifier.conftest import Stack
from tests.unit.notifier.samples import request

pytestmark = pytest.mark.integration


def _contents(raw: list[str]) -> list[dict[str, Any]]:
    return [OutboxMessage.model_validate_json(r).model_dump(mode="json", exclude={"stored_at"}) for r in raw]


def _by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m["notification_id"]: m for m in items}


def test_the_outbox_comes_back_from_notifications_and_deliveries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = Stack(tmp_path, {"SIGAP_CHANNELS": "outbox"}).start()
    try:
        lists = [
            [("whatsapp", "081234567890"), ("sms", "081234567890")],
            [("sms", "085712345678")],
            [("outbox", "vol-x"), ("telegram", "5550123")],
            [("email", "relawan@example.id")],
        ]
        kinds = ["offer", "withdrawal", "standby", "cancellation"]
        sent = [
            request(lists[i % len(lists)], kind=kinds[i % len(kinds)], volunteer_id=f"vol-{i % 3}")
            for i in range(15)
        ]
        events = [stack.bus.request(req) for req in sent]
        for req in sent:
            assert isinstance(stack.bus.outcome(req.notification_id), NotificationDelivered)
        keys = Keys(stack.redis_prefix)
        before = _contents(stack.redis.lrange(keys.outbox, 0, -1))
        before_stored_at = {
            m.notification_id: m.stored_at
            for m in map(OutboxMessage.model_validate_json, stack.redis.lrange(keys.outbox, 0, -1))
        }
        per_volunteer = {v: stack.redis.lrange(keys.volunteer_outbox(v), 0, -1) for v in ("vol-0", "vol-1")}
        assert len(before) == len(sent) and all(len(v) == 5 for v in per_volunteer.values())

        lost = list(stack.redis.scan_iter(match=stack.redis_prefix + "*", count=1000))
        assert lost and stack.redis.delete(*lost) == len(lost)  # every key of the notifier's, gone
        assert stack.redis.llen(keys.outbox) == 0

        for name, value in stack.env.items():  # the rebuild runs as the notifier's ACL user
            monkeypatch.setenv(name, value)
        report = asyncio.run(rebuild_outbox(Settings()))
        assert (report.messages, report.missing_requests, report.undecodable) == (len(sent), 0, 0)

        raw_after = stack.redis.lrange(keys.outbox, 0, -1)
        assert _by_id(_contents(raw_after)) == _by_id(before)
        after = list(map(OutboxMessage.model_validate_json, raw_after))
        assert [m.stored_at for m in after] == sorted((m.stored_at for m in after), reverse=True)
        for m in after:  # the time the delivery was reported: a moment after the original store
            assert abs((m.stored_at - before_stored_at[m.notification_id]).total_seconds()) < 5
        for vid, raw in per_volunteer.items():
            rebuilt = stack.redis.lrange(keys.volunteer_outbox(vid), 0, -1)
            assert {m["notification_id"] for m in _contents(rebuilt)} == {
                m["notification_id"] for m in _contents(raw)
            }

        stack.bus.request(sent[0], event_id=events[0].event_id)  # redelivered after the rebuild
        stack.bus.wait(lambda: len(stack.bus.about(sent[0].notification_id)) >= 2, message="the redelivery")
        assert stack.redis.llen(keys.outbox) == len(sent)  # stored once: the marker came back too
    finally:
        stack.stop()
