"""`services.common.retry`: one retry loop for every service; the waits are recorded, never slept."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAuthorizationFailedError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from schemas.envelope import InvalidEvent
from services.common.retry import Backoff, Delays, retriable, retry
from services.dispatcher.roster import StoreNotReady
from services.dispatcher.runcards import RunCardError
from services.dispatcher.store import StaleState


class Waits:
    """An injected sleep: records each wait and yields to the loop once."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seen.append(seconds)
        await asyncio.sleep(0)


class Flaky:
    """Fails with the given errors in turn, then answers `done`."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


async def test_retries_until_it_works_doubling_the_wait_up_to_the_cap() -> None:
    attempt, waits = Flaky(*[OSError("down")] * 6), Waits()
    assert await retry(attempt, Backoff(0.2, 1.0), sleep=waits) == "done"
    assert attempt.calls == 7
    assert waits.seen == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


async def test_a_success_first_time_never_waits() -> None:
    waits = Waits()
    assert await retry(Flaky(), Backoff(0.2, 1.0), sleep=waits) == "done"
    assert waits.seen == []


async def test_an_error_when_refuses_is_raised_at_once() -> None:
    attempt, waits = Flaky(StaleState("moved"), ValueError("bad input")), Waits()
    with pytest.raises(ValueError, match="bad input"):
        await retry(attempt, Backoff(0.1, 1.0), when=retriable, sleep=waits)
    assert attempt.calls == 2
    assert waits.seen == [0.1]


async def test_on_retry_hears_each_failure_and_its_wait_before_the_wait() -> None:
    heard: list[tuple[str, float]] = []
    waits = Waits()

    def note(exc: Exception, wait: float) -> None:
        heard.append((str(exc), wait))
        assert len(waits.seen) == len(heard) - 1  # told before it waits

    await retry(Flaky(OSError("a"), OSError("b")), Backoff(1.0, 5.0), on_retry=note, sleep=waits)
    assert heard == [("a", 1.0), ("b", 2.0)]


async def test_tries_bounds_the_loop_and_raises_the_last_failure() -> None:
    attempt, waits = Flaky(OSError("a"), OSError("b"), OSError("c")), Waits()
    with pytest.raises(OSError, match="b"):
        await retry(attempt, Backoff(1.0, 5.0), sleep=waits, tries=2)
    assert attempt.calls == 2
    assert waits.seen == [1.0]
    assert await retry(Flaky(OSError("a")), Backoff(1.0, 5.0), sleep=waits, tries=2) == "done"
    with pytest.raises(ValueError, match="tries"):
        await retry(Flaky(), Backoff(1.0, 5.0), sleep=waits, tries=0)


async def test_cancelling_stops_the_loop() -> None:
    started = asyncio.Event()

    async def never_works() -> None:
        started.set()
        raise OSError("down")

    async def forever(seconds: float) -> None:
        await asyncio.Event().wait()

    task = asyncio.create_task(retry(never_works, Backoff(1.0, 1.0), sleep=forever))
    await started.wait()
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_shared_delays_start_over_after_reset() -> None:
    delays, waits = Delays(Backoff(0.5, 10.0)), Waits()
    await retry(Flaky(OSError(), OSError()), delays, sleep=waits)
    delays.reset()
    await retry(Flaky(OSError()), delays, sleep=waits)
    assert waits.seen == [0.5, 1.0, 0.5]


def test_equal_jitter_keeps_half_of_each_wait_fixed() -> None:
    backoff = Backoff(1.0, 100.0, jitter=True)
    assert backoff.delay(3, rand=lambda: 0.0) == 2.0
    assert backoff.delay(3, rand=lambda: 1.0) == 4.0
    assert backoff.delay(30, rand=lambda: 1.0) == 100.0


def test_a_backoff_that_cannot_work_is_refused() -> None:
    with pytest.raises(ValueError, match="first_s <= max_s"):
        Backoff(5.0, 1.0)
    with pytest.raises(ValueError, match="factor"):
        Backoff(1.0, 5.0, factor=0.5)


@pytest.mark.parametrize(
    "exc",
    [
        StaleState("saved since"),
        StoreNotReady("rebuilding"),
        KafkaConnectionError(),
        RedisConnectionError("refused"),
        RedisTimeoutError("slow"),
        ConnectionResetError(),
        TimeoutError(),
    ],
)
def test_transient_failures_are_retriable(exc: Exception) -> None:
    assert retriable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        InvalidEvent("no payload"),
        RunCardError("unknown skill"),
        KafkaError("generic"),
        TopicAuthorizationFailedError(),
        ResponseError("WRONGTYPE"),
        ValueError("bad"),
        RuntimeError("bug"),
    ],
)
def test_lasting_failures_are_not(exc: Exception) -> None:
    assert not retriable(exc)


def test_a_domain_error_decides_even_if_it_is_also_a_connection_error() -> None:
    """`SigapError.retriable` is the declaration; the class it also derives from does not override it."""
    from schemas.errors import SigapError

    class Refused(SigapError, ConnectionError):
        retriable = False

    assert not retriable(Refused())
