"""A worker killed while a provider holds its request: after a restart the notification is neither lost
nor handed to the same channel twice."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from schemas.events import NotificationDelivered
from tests.integration.notifier.conftest import Stack
from tests.support import providers as p
from tests.unit.notifier.samples import request

pytestmark = pytest.mark.integration


def test_killed_mid_send_then_restarted(tmp_path: Path, providers: p.ProviderServers) -> None:
    env = {
        **providers.env(),
        "SIGAP_CHANNELS": "whatsapp,telegram",
        "SIGAP_NOTIFIER_TIMEOUTS": "whatsapp:3,telegram:3",
        "SIGAP_NOTIFIER_CLAIM_MARGIN_S": "1",
    }
    stack = Stack(tmp_path, env).start()
    try:
        local = "0812" + str(uuid.uuid4().int)[:8]
        wa, tg = "62" + local[1:], str(uuid.uuid4().int)[:10]
        providers.program("whatsapp", wa, p.hang(60))
        req = request([("whatsapp", local), ("telegram", tg)])
        stack.bus.request(req)
        providers.wait_for("whatsapp", wa)  # WhatsApp holds the request ...
        assert stack.proc is not None
        stack.proc.kill()  # ... when the worker dies (SIGKILL: no goodbye, no offset commit)
        assert stack.bus.about(req.notification_id) == []

        stack.start_worker()
        outcome = stack.bus.outcome(req.notification_id, timeout_s=60)
        assert isinstance(outcome, NotificationDelivered), outcome
        assert outcome.channel == "telegram"  # WhatsApp may have it: it is not sent there again
        assert len(providers.requests("whatsapp", wa)) == 1
        assert len(providers.requests("telegram", tg)) == 1
        assert len(stack.bus.about(req.notification_id)) == 1
    finally:
        stack.stop()


def test_stopped_between_attempts_then_restarted(tmp_path: Path, providers: p.ProviderServers) -> None:
    """A worker stopped (SIGTERM) while it waits out a Retry-After gives its claim back: the restarted
    worker retries the same channel rather than treating it as maybe sent."""
    env = {**providers.env(), "SIGAP_CHANNELS": "whatsapp,telegram", "SIGAP_NOTIFIER_CLAIM_MARGIN_S": "1"}
    stack = Stack(tmp_path, env).start()
    try:
        local = "0812" + str(uuid.uuid4().int)[:8]
        wa, tg = "62" + local[1:], str(uuid.uuid4().int)[:10]
        providers.program("whatsapp", wa, p.rate_limited(60))
        req = request([("whatsapp", local), ("telegram", tg)], deadline_in_s=240)
        stack.bus.request(req)
        providers.wait_for("whatsapp", wa)
        assert stack.proc is not None
        stack.proc.stop()
        assert stack.bus.about(req.notification_id) == []

        stack.start_worker()
        outcome = stack.bus.outcome(req.notification_id, timeout_s=60)
        assert isinstance(outcome, NotificationDelivered), outcome
        assert outcome.channel == "whatsapp"
        assert len(providers.requests("whatsapp", wa)) == 2
        assert providers.requests("telegram", tg) == []
    finally:
        stack.stop()
