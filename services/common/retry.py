"""The one way Sigap retries: `retry(attempt, backoff, when=…)` awaits `attempt` until it returns,
waiting with exponential backoff after each failure `when` accepts; any other failure is raised, and
cancelling the task stops it (that is how a service's "retry until it works or we are stopped" loop
ends); `tries` bounds a loop that must give up (the CLI's calls of the API). `retriable` is the
dispatcher's `when`: an error that says so (`SigapError.retriable`, aiokafka's `KafkaError.retriable`),
or Redis or the network away for a moment.

The wait is injectable (`sleep`, and `rand` for jitter), so tests drive the backoff without sleeping.
The notifier's delivery plan (`services.notifier.plan`) keeps its own rules (deadlines, `Retry-After`,
hops between channels): those are the domain's, not plumbing.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiokafka.errors import KafkaError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from schemas.errors import SigapError

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

TRANSIENT: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,  # asyncio.TimeoutError is the built-in one since 3.11
)
"""Third-party failures that carry no `retriable` flag and pass: a connection or a timeout."""


def retriable(exc: BaseException) -> bool:
    """Redis or the broker away for a moment, a rebalance in flight: try again. Our own errors
    (`SigapError`: `StaleState`, `StoreNotReady`, …) and aiokafka's say so with their `retriable`."""
    if isinstance(exc, SigapError | KafkaError):
        return exc.retriable
    return isinstance(exc, TRANSIENT)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits of `first_s`, growing by `factor` after each failure in a row, never above `max_s`.
    `jitter`: "equal jitter", half of each wait fixed and half random, so replicas spread out."""

    first_s: float
    max_s: float
    factor: float = 2.0
    jitter: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.first_s <= self.max_s or self.factor < 1:
            raise ValueError(f"backoff needs 0 <= first_s <= max_s and factor >= 1: {self!r}")

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        """The wait after `failures` (≥ 1) failures in a row."""
        ceiling = min(self.max_s, self.first_s * self.factor ** min(max(failures, 1) - 1, 64))
        return ceiling / 2 + rand() * ceiling / 2 if self.jitter else ceiling


class Delays:
    """The waits of one retry loop: counts the failures in a row; `reset` once it works again (a
    subscription that was up for a while starts its next backoff from the first wait)."""

    __slots__ = ("backoff", "failures", "rand")

    def __init__(self, backoff: Backoff, rand: Callable[[], float] = random.random) -> None:
        self.backoff = backoff
        self.rand = rand
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        return self.backoff.delay(self.failures, self.rand)

    def reset(self) -> None:
        self.failures = 0


def _always(exc: Exception) -> bool:
    return True


async def retry(
    attempt: Callable[[], Awaitable[T]],
    backoff: Backoff | Delays,
    *,
    when: Callable[[Exception], bool] = _always,
    on_retry: Callable[[Exception, float], object] | None = None,
    sleep: Sleep = asyncio.sleep,
    tries: int | None = None,
) -> T:
    """Await `attempt()` until it returns and return what it returned. After an exception that
    `when` accepts, call `on_retry(exc, wait)` (log it, count it), wait and try again; an exception
    `when` refuses is raised as it is, and so is the failure of the last of `tries` attempts (none:
    no limit). Cancellation is never caught: it stops the loop."""
    if tries is not None and tries < 1:
        raise ValueError(f"tries must be at least 1: {tries}")
    delays: Delays | None = None  # taken or made at the first failure: most calls never fail
    failed = 0
    while True:
        try:
            return await attempt()
        except Exception as exc:
            failed += 1
            if not when(exc) or failed == tries:
                raise
            if delays is None:
                delays = backoff if isinstance(backoff, Delays) else Delays(backoff)
            wait = delays.next()
            if on_retry is not None:
                on_retry(exc, wait)
        await sleep(wait)
