"""The notifier worker as a real subprocess, against the real Kafka broker and Redis and the local
provider servers: delivery on every channel, retries, Retry-After, timeouts, deadlines, fallbacks,
deduplication, rate limits and poison records.

One worker serves the whole module (starting a faust worker costs seconds); every test uses its own
recipient addresses, so the tests do not see each other's traffic.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from schemas.api import OutboxMessage
from schemas.events import NotificationDelivered, NotificationFailed
from schemas.vocabulary import ChannelType, Language
from services.common.config import Settings
from services.common.readmodels import Keys
from services.common.senders import SENDER_TTL_S, Sender, sender_key
from services.notifier.rebuild import rebuild_notifier
from tests.integration.notifier.conftest import Stack
from tests.support import providers as p
from tests.unit.notifier.samples import LINK, request

pytestmark = pytest.mark.integration

TIMEOUT_S = 1.5
BACKOFF_BASE_S = 0.2
TELEGRAM_RATE = 5.0


@pytest.fixture(scope="module")
def stack(providers: p.ProviderServers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        **providers.env(),
        "SIGAP_CHANNELS": "whatsapp,telegram,sms,email,outbox",
        "SIGAP_NOTIFIER_TIMEOUTS": ",".join(
            f"{c}:{TIMEOUT_S}" for c in ("whatsapp", "telegram", "sms", "email")
        ),
        "SIGAP_NOTIFIER_CONCURRENCY": "whatsapp:1,telegram:8,sms:8,email:8,outbox:8",
        "SIGAP_NOTIFIER_RATES": f"telegram:{TELEGRAM_RATE}",
        "SIGAP_NOTIFIER_BACKOFF_BASE_S": str(BACKOFF_BASE_S),
        "SIGAP_NOTIFIER_BACKOFF_MAX_S": "1",
        "SIGAP_NOTIFIER_CLAIM_MARGIN_S": "1",
    }
    s = Stack(tmp_path_factory.mktemp("notifier"), env).start()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def no_malformed_requests(providers: p.ProviderServers) -> Iterator[None]:
    providers.take_shape_errors()
    yield
    assert providers.take_shape_errors() == []


def phone() -> tuple[str, str]:
    """A fresh national number and the international form providers see."""
    local = "0812" + str(uuid.uuid4().int)[:8]
    return local, "62" + local[1:]


def chat() -> str:
    return str(uuid.uuid4().int)[:10]


def test_success_on_every_channel(stack: Stack, providers: p.ProviderServers) -> None:
    wa_local, wa = phone()
    sms_local, sms = phone()
    tg = chat()
    mail = f"relawan-{uuid.uuid4().hex[:6]}@example.id"
    sent = {
        "whatsapp": request([("whatsapp", wa_local)]),
        "telegram": request([("telegram", tg)]),
        "sms": request([("sms", sms_local)]),
        "email": request([("email", mail)]),
        "outbox": request([("outbox", "drill")], volunteer_id=f"vol-{uuid.uuid4().hex[:6]}"),
    }
    for req in sent.values():
        stack.bus.request(req)
    for channel, req in sent.items():
        outcome = stack.bus.outcome(req.notification_id)
        assert isinstance(outcome, NotificationDelivered), outcome
        assert outcome.channel == channel
        assert outcome.attempts == 1
        assert outcome.latency_ms > 0
        assert outcome.offer_id == "off-1" and outcome.incident_id == "inc-1"

    [wa_req] = providers.requests("whatsapp", wa)
    assert wa_req.body["interactive"]["body"]["text"].startswith("[SIGAP] PANGGILAN TUGAS")
    assert LINK in wa_req.body["interactive"]["body"]["text"]
    assert stack.bus.outcome(sent["whatsapp"].notification_id).provider_message_id.startswith("wamid.")
    [tg_req] = providers.requests("telegram", tg)
    assert tg_req.body["reply_markup"]["inline_keyboard"][-1][0]["url"] == LINK
    [sms_req] = providers.requests("zenziva", sms)
    assert "Jawab lewat tautan ini sebelum pukul" in sms_req.body["message"]
    assert LINK in sms_req.body["message"]
    [mail_req] = providers.requests("smtp", mail)
    assert "Kel. Ngronggo, Kec. Kota" in mail_req.body["text"]

    keys = Keys(stack.redis_prefix)
    stored = [OutboxMessage.model_validate_json(raw) for raw in stack.redis.lrange(keys.outbox, 0, -1)]
    assert sent["outbox"].notification_id in [m.notification_id for m in stored]
    volunteer_id = sent["outbox"].recipient.volunteer_id
    assert volunteer_id is not None
    assert stack.redis.llen(keys.volunteer_outbox(volunteer_id)) == 1


def test_server_errors_are_retried_with_backoff(stack: Stack, providers: p.ProviderServers) -> None:
    local, wa = phone()
    providers.program("whatsapp", wa, p.server_error(503), p.server_error(500))
    req = request([("whatsapp", local), ("telegram", chat())])
    stack.bus.request(req)
    outcome = stack.bus.outcome(req.notification_id)
    assert isinstance(outcome, NotificationDelivered)
    assert (outcome.channel, outcome.attempts) == ("whatsapp", 3)
    first, second, third = providers.requests("whatsapp", wa)
    # equal jitter: the n-th pause is between half and all of base * 2^(n-1)
    assert second.at - first.at >= BACKOFF_BASE_S / 2
    assert third.at - second.at >= BACKOFF_BASE_S


def test_retry_after_is_honoured(stack: Stack, providers: p.ProviderServers) -> None:
    tg = chat()
    local, wa = phone()
    providers.program("telegram", tg, p.rate_limited(2, where="body"))  # Bot API: parameters.retry_after
    providers.program("whatsapp", wa, p.rate_limited(1, where="header"))  # HTTP Retry-After
    first, second = request([("telegram", tg)]), request([("whatsapp", local)])
    stack.bus.request(first)
    stack.bus.request(second)
    for req in (first, second):
        outcome = stack.bus.outcome(req.notification_id)
        assert isinstance(outcome, NotificationDelivered) and outcome.attempts == 2
    tg_first, tg_second = providers.requests("telegram", tg)
    assert tg_second.at - tg_first.at >= 2.0
    wa_first, wa_second = providers.requests("whatsapp", wa)
    assert wa_second.at - wa_first.at >= 1.0


def test_a_hanging_provider_times_out_and_the_next_channel_is_used(
    stack: Stack, providers: p.ProviderServers
) -> None:
    local, wa = phone()
    tg = chat()
    providers.program("whatsapp", wa, p.hang(30))
    req = request([("whatsapp", local), ("telegram", tg)])
    stack.bus.request(req)
    outcome = stack.bus.outcome(req.notification_id)
    assert isinstance(outcome, NotificationDelivered) and outcome.channel == "telegram"
    [wa_req] = providers.requests("whatsapp", wa)  # maybe delivered: never sent twice on WhatsApp
    [tg_req] = providers.requests("telegram", tg)
    assert tg_req.at - wa_req.at >= TIMEOUT_S


def test_nothing_is_sent_after_the_deadline(stack: Stack, providers: p.ProviderServers) -> None:
    local, wa = phone()
    late = request([("whatsapp", local)], deadline=datetime.now(UTC) - timedelta(seconds=1))
    stack.bus.request(late)
    outcome = stack.bus.outcome(late.notification_id)
    assert isinstance(outcome, NotificationFailed)
    assert "deadline" in outcome.reason and outcome.attempts == 0
    assert providers.requests("whatsapp", wa) == []
    # expired offers are reported, not dead-lettered (there is nothing to replay)
    assert all(
        late.notification_id.encode() not in base64.b64decode(d.original_base64)
        for d in stack.bus.dead_letters()
    )


def test_a_retry_after_beyond_the_deadline_moves_to_the_next_channel_at_once(
    stack: Stack, providers: p.ProviderServers
) -> None:
    local, wa = phone()
    sms_local, sms = phone()
    providers.program("whatsapp", wa, p.rate_limited(60))
    req = request([("whatsapp", local), ("sms", sms_local)], deadline_in_s=20)
    stack.bus.request(req)
    outcome = stack.bus.outcome(req.notification_id)
    assert isinstance(outcome, NotificationDelivered) and outcome.channel == "sms"
    [wa_req] = providers.requests("whatsapp", wa)
    [sms_req] = providers.requests("zenziva", sms)
    assert sms_req.at - wa_req.at < 5  # did not sit out the 60 s


def test_fallback_follows_the_volunteers_order(stack: Stack, providers: p.ProviderServers) -> None:
    wa_local, wa = phone()
    sms_local, sms = phone()
    tg, mail = chat(), f"relawan-{uuid.uuid4().hex[:6]}@example.id"
    providers.program("whatsapp", wa, p.reject())
    providers.program("telegram", tg, p.reject())
    providers.program("zenziva", sms, p.reject())
    req = request([("whatsapp", wa_local), ("telegram", tg), ("sms", sms_local), ("email", mail)])
    stack.bus.request(req)
    outcome = stack.bus.outcome(req.notification_id)
    assert isinstance(outcome, NotificationDelivered) and outcome.channel == "email"
    times = [
        providers.requests(name, addr)[0].at
        for name, addr in (("whatsapp", wa), ("telegram", tg), ("zenziva", sms), ("smtp", mail))
    ]
    assert times == sorted(times)
    assert all(
        len(providers.requests(name, addr)) == 1
        for name, addr in (("whatsapp", wa), ("telegram", tg), ("zenziva", sms))
    )


def test_permanent_failure_everywhere_is_reported_and_dead_lettered(
    stack: Stack, providers: p.ProviderServers
) -> None:
    local, wa = phone()
    tg = chat()
    providers.program("whatsapp", wa, p.reject())
    providers.program("telegram", tg, p.reject())
    req = request([("whatsapp", local), ("telegram", tg)])
    stack.bus.request(req)
    outcome = stack.bus.outcome(req.notification_id)
    assert isinstance(outcome, NotificationFailed)
    assert "131026" in outcome.reason and "chat not found" in outcome.reason
    assert outcome.channel == "telegram" and outcome.attempts == 2
    letter = stack.bus.wait(
        lambda: [
            d
            for d in stack.bus.dead_letters()
            if req.notification_id.encode() in base64.b64decode(d.original_base64)
        ],
        message="the dead letter",
    )[0]
    assert letter.consumer == "notifier" and letter.original_event_type == "notification.requested"
    assert "not delivered on any channel" in letter.reason


def test_a_redelivered_request_is_not_handed_over_twice(stack: Stack, providers: p.ProviderServers) -> None:
    local, wa = phone()
    req = request([("whatsapp", local)])
    before = stack.metric("sigap_notifier_notifications_total", outcome="duplicate")
    event = stack.bus.request(req)
    stack.bus.outcome(req.notification_id)
    stack.bus.request(req, event_id=event.event_id)  # the same record again, after delivery
    stack.bus.wait(
        lambda: stack.metric("sigap_notifier_notifications_total", outcome="duplicate") >= before + 1
    )
    assert len(providers.requests("whatsapp", wa)) == 1
    assert len(stack.bus.about(req.notification_id)) == 1

    # two copies at once: the second waits on the first's claim, then sees it reported
    local2, wa2 = phone()
    twin = request([("whatsapp", local2)])
    handled = stack.handled()
    event = stack.bus.request(twin)
    stack.bus.request(twin, event_id=event.event_id)
    stack.bus.wait(lambda: stack.handled() >= handled + 2, message="both copies handled")
    assert len(providers.requests("whatsapp", wa2)) == 1
    assert {type(e.payload) for e in stack.bus.about(twin.notification_id)} == {NotificationDelivered}


def test_a_hop_already_sent_is_reported_not_resent(stack: Stack, providers: p.ProviderServers) -> None:
    """A worker died after the provider accepted the message but before it reported the delivery."""
    local, wa = phone()
    req = request([("whatsapp", local)])
    stack.redis.hset(
        f"{stack.redis_prefix}notif:{req.notification_id}",
        f"whatsapp|+{wa}",
        json.dumps(
            {"state": "sent", "provider_message_id": "wamid.EARLIER", "attempts": 1, "finished_at": 1}
        ),
    )
    stack.bus.request(req)
    outcome = stack.bus.outcome(req.notification_id)
    assert isinstance(outcome, NotificationDelivered) and outcome.provider_message_id == "wamid.EARLIER"
    assert providers.requests("whatsapp", wa) == []


def test_a_stale_claim_counts_as_maybe_sent_and_the_next_channel_is_used(
    stack: Stack, providers: p.ProviderServers
) -> None:
    """A worker died while handing the message to WhatsApp (its lease ran out): WhatsApp may have it,
    so it is not sent there again; Telegram gets it."""
    local, wa = phone()
    tg = chat()
    req = request([("whatsapp", local), ("telegram", tg)])
    stack.redis.hset(
        f"{stack.redis_prefix}notif:{req.notification_id}",
        f"whatsapp|+{wa}",
        json.dumps({"state": "claimed", "token": "dead-worker", "claimed_at": 1, "lease_until": 2}),
    )
    stack.bus.request(req)
    outcome = stack.bus.outcome(req.notification_id)
    assert isinstance(outcome, NotificationDelivered) and outcome.channel == "telegram"
    assert providers.requests("whatsapp", wa) == []


def test_rate_limit_spaces_the_requests(stack: Stack, providers: p.ProviderServers) -> None:
    chats = [chat() for _ in range(8)]
    reqs = [request([("telegram", c)]) for c in chats]
    for req in reqs:
        stack.bus.request(req)
    for req in reqs:
        assert isinstance(stack.bus.outcome(req.notification_id), NotificationDelivered)
    arrivals = sorted(providers.requests("telegram", c)[0].at for c in chats)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    interval = 1 / TELEGRAM_RATE
    assert min(gaps) >= interval * 0.9, gaps  # scheduler slack, never a burst
    assert arrivals[-1] - arrivals[0] >= (len(chats) - 1) * interval * 0.95


def test_a_slow_provider_does_not_hold_up_the_others(stack: Stack, providers: p.ProviderServers) -> None:
    """WhatsApp (one request at a time in this worker) hangs for three notifications; a Telegram one sent
    after them is delivered while WhatsApp is still stuck."""
    stuck = [phone() for _ in range(3)]
    for _, wa in stuck:
        providers.program("whatsapp", wa, p.hang(30))
    slow = [request([("whatsapp", local)]) for local, _ in stuck]
    for req in slow:
        stack.bus.request(req)
    tg = chat()
    quick = request([("telegram", tg)])
    stack.bus.request(quick)
    assert isinstance(stack.bus.outcome(quick.notification_id), NotificationDelivered)
    for req in slow:
        outcome = stack.bus.outcome(req.notification_id, timeout_s=30)
        assert isinstance(outcome, NotificationFailed) and "timeout" in outcome.reason
    wa_arrivals = sorted(providers.requests("whatsapp", wa)[0].at for _, wa in stuck)
    assert providers.requests("telegram", tg)[0].at < wa_arrivals[-1]


def test_a_poison_record_is_dead_lettered_and_the_next_one_delivered(
    stack: Stack, providers: p.ProviderServers
) -> None:
    marker = uuid.uuid4().hex.encode()
    stack.bus.raw(b'{"not": "an envelope", "marker": "' + marker + b'"}', key=b"poison")
    local, _ = phone()
    req = request([("whatsapp", local)])
    stack.bus.request(req)
    assert isinstance(stack.bus.outcome(req.notification_id), NotificationDelivered)
    letter = stack.bus.wait(
        lambda: [d for d in stack.bus.dead_letters() if marker in base64.b64decode(d.original_base64)],
        message="the dead letter of the poison record",
    )[0]
    assert letter.topic == stack.prefix + "notifications"
    assert letter.key == "poison" and letter.offset is not None
    assert "event_id" in letter.reason


def test_the_sender_index_comes_back_from_the_topics(
    stack: Stack, providers: p.ProviderServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a Redis loss, `rebuild_notifier` (its `rebuild_senders`) gives every address written to
    the same record (DESIGN.md §1): a volunteer who writes back "SIAP" still answers their offer."""
    wa_local, _ = phone()
    sms_local, _ = phone()
    tg = chat()
    offer = request([("whatsapp", wa_local)], volunteer_id="vol-sa")
    notice = request([("whatsapp", wa_local)], kind="withdrawal", volunteer_id="vol-sa")
    other = request([("telegram", tg)], volunteer_id="vol-sb", language="en")
    sms = request([("sms", sms_local)], volunteer_id="vol-sc")
    mail = request([("email", f"r-{uuid.uuid4().hex[:6]}@example.id")], volunteer_id="vol-sd")
    for req in (offer, notice, other, sms, mail):
        stack.bus.request(req)
        assert isinstance(stack.bus.outcome(req.notification_id), NotificationDelivered)
    keys = [
        sender_key(stack.redis_prefix, ChannelType.WHATSAPP, wa_local),
        sender_key(stack.redis_prefix, ChannelType.TELEGRAM, tg),
        sender_key(stack.redis_prefix, ChannelType.SMS, sms_local),
    ]
    before = [stack.redis.get(k) for k in keys]
    assert [Sender.load(raw) if raw else None for raw in before] == [
        Sender("vol-sa", offer.offer_id, Language.ID),
        Sender("vol-sb", other.offer_id, Language.EN),
        Sender("vol-sc", sms.offer_id, Language.ID),
    ]
    assert stack.redis.delete(*keys) == 3

    for name, value in stack.env.items():  # the rebuild runs as the notifier's ACL user
        monkeypatch.setenv(name, value)
    _, report = asyncio.run(rebuild_notifier(Settings()))  # what `sigap rebuild` calls
    assert report.senders >= 3 and report.expired == 0  # (other tests here put poison records on the topic)
    assert [stack.redis.get(k) for k in keys] == before
    for key in keys:  # each keeps (about) the week it had left
        assert SENDER_TTL_S - 60 < stack.redis.ttl(key) <= SENDER_TTL_S
