"""Channel order, deadlines and the retry-or-move-on decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.events import ChannelAddress
from schemas.vocabulary import ChannelType
from services.notifier.errors import (
    ConnectionFailed,
    DeadlinePassed,
    Misconfigured,
    ProviderTimeout,
    RateLimited,
    Rejected,
    ServerError,
)
from services.notifier.plan import GiveUp, RetryIn, Route, after_failure, effective_deadline, routes_for

WA, TG, SMS, EMAIL, OUTBOX = (
    ChannelType.WHATSAPP,
    ChannelType.TELEGRAM,
    ChannelType.SMS,
    ChannelType.EMAIL,
    ChannelType.OUTBOX,
)
NOW = datetime(2026, 3, 1, 19, 0, tzinfo=UTC)
CHANNELS = [
    ChannelAddress(type="telegram", address="5550001"),
    ChannelAddress(type="whatsapp", address="+6281234567890"),
    ChannelAddress(type="email", address="budi@example.id"),
]


def test_the_volunteers_order_is_kept_and_disabled_channels_are_skipped() -> None:
    routes = routes_for(CHANNELS, [WA, SMS, EMAIL, TG])
    assert [r.channel for r in routes] == [TG, WA, EMAIL]
    assert [r.channel for r in routes_for(CHANNELS, [WA, EMAIL])] == [WA, EMAIL]
    assert all(r.render_as == r.channel for r in routes)


def test_outbox_only_mode_puts_every_notification_in_the_outbox_as_the_first_channel_shows_it() -> None:
    assert routes_for(CHANNELS, [OUTBOX]) == [Route(OUTBOX, "5550001", TG)]


def test_a_volunteer_may_list_the_outbox_itself() -> None:
    channels = [ChannelAddress(type="outbox", address="drill-7"), *CHANNELS]
    assert routes_for(channels, [WA, OUTBOX]) == [
        Route(OUTBOX, "drill-7", OUTBOX),
        Route(WA, "+6281234567890", WA),
    ]


def test_the_outbox_is_not_a_silent_last_resort() -> None:
    assert routes_for(CHANNELS, [SMS, OUTBOX]) == []


def test_a_second_address_on_the_same_channel_is_a_fallback_too_but_duplicates_are_not() -> None:
    channels = [
        ChannelAddress(type="sms", address="081111111111"),
        ChannelAddress(type="sms", address="082222222222"),
        ChannelAddress(type="sms", address="+6281111111111"),
    ]
    routes = routes_for(channels, [SMS])
    assert [r.address for r in routes] == ["+6281111111111", "+6282222222222"]
    assert routes[0].key == "sms|+6281111111111"


def test_deadline_is_the_requests_or_a_default_from_when_it_was_made() -> None:
    assert effective_deadline(NOW, NOW - timedelta(hours=1), 900) == NOW
    assert effective_deadline(None, NOW, 900) == NOW + timedelta(seconds=900)


def decide(
    error: Exception, *, attempt: int = 1, delay: float = 1.0, idempotent: bool = False, left: float = 60
):
    return after_failure(
        error,  # type: ignore[arg-type]
        attempt=attempt,
        max_attempts=4,
        delay_s=delay,
        idempotent_channel=idempotent,
        now=NOW,
        deadline=NOW + timedelta(seconds=left),
    )


def test_retriable_failures_retry_after_the_delay() -> None:
    assert decide(ServerError("503"), delay=0.7) == RetryIn(0.7)
    assert decide(RateLimited("429", retry_after=5), delay=5) == RetryIn(5)
    assert decide(ConnectionFailed("refused")) == RetryIn(1.0)


def test_permanent_failures_move_on_at_once() -> None:
    for error in (Rejected("chat not found"), Misconfigured("token"), DeadlinePassed("late")):
        decision = decide(error)
        assert isinstance(decision, GiveUp)
        assert not decision.by_deadline


def test_a_request_that_may_have_been_delivered_is_not_sent_again_on_that_channel() -> None:
    decision = decide(ProviderTimeout("no answer"))
    assert isinstance(decision, GiveUp)
    assert "may have been delivered" in decision.reason
    # ... unless the channel is idempotent (the outbox)
    assert decide(ProviderTimeout("no answer"), idempotent=True) == RetryIn(1.0)


def test_attempts_are_bounded() -> None:
    assert isinstance(decide(ServerError("503"), attempt=3), RetryIn)
    decision = decide(ServerError("503"), attempt=4)
    assert isinstance(decision, GiveUp)
    assert "after 4 attempts" in decision.reason


def test_a_retry_that_would_start_after_the_deadline_is_not_waited_for() -> None:
    decision = decide(RateLimited("429", retry_after=60), delay=60, left=30)
    assert isinstance(decision, GiveUp)
    assert decision.by_deadline
    assert isinstance(decide(RateLimited("429", retry_after=20), delay=20, left=30), RetryIn)
