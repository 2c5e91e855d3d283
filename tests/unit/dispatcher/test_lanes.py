"""The lane pool: concurrency across keys, strict order within a key, a bound, failures and shutdown."""

from __future__ import annotations

import asyncio
import random

import pytest

from services.dispatcher.lanes import Job, Lanes


class Probe:
    """Records when jobs start and end, and how many run at once."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.running = 0
        self.peak = 0
        self.per_key: dict[str, int] = {}
        self.overlapped: set[str] = set()

    def job(self, key: str, n: int, pause: float = 0.0, fail: bool = False) -> Job:
        async def run() -> None:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.per_key[key] = self.per_key.get(key, 0) + 1
            if self.per_key[key] > 1:
                self.overlapped.add(key)
            try:
                await asyncio.sleep(pause)
                if fail:
                    raise RuntimeError(f"job {key}/{n} failed")
                self.log.append((key, n))
            finally:
                self.running -= 1
                self.per_key[key] -= 1

        return run


async def test_each_key_keeps_its_order_while_keys_run_concurrently() -> None:
    rng = random.Random(3)
    lanes, probe = Lanes(16), Probe()
    keys = [f"INC-{i}" for i in range(8)]
    for n in range(10):
        for key in keys:
            await lanes.submit(key, probe.job(key, n, pause=rng.uniform(0, 0.004)))
    await lanes.join()
    for key in keys:
        assert [n for k, n in probe.log if k == key] == list(range(10))
    assert probe.peak > 1, "different keys never ran at the same time"
    assert lanes.peak_running == probe.peak and lanes.running == 0
    assert not probe.overlapped, "two jobs of one key ran at once"
    assert lanes.in_flight == 0 and lanes.keys == 0


async def test_submit_waits_while_the_limit_is_in_flight() -> None:
    lanes, probe = Lanes(3), Probe()
    gate = asyncio.Event()

    def blocked(key: str) -> Job:
        async def run() -> None:
            probe.running += 1
            probe.peak = max(probe.peak, probe.running)
            await gate.wait()
            probe.running -= 1

        return run

    for i in range(3):
        await lanes.submit(f"k{i}", blocked(f"k{i}"))
    fourth = asyncio.create_task(lanes.submit("k3", blocked("k3")))
    await asyncio.sleep(0.01)
    assert not fourth.done() and lanes.in_flight == 3
    gate.set()
    await fourth
    await lanes.join()
    assert probe.peak == 3


async def test_a_failed_job_holds_back_its_key_only() -> None:
    lanes, probe = Lanes(8), Probe()
    await lanes.submit("bad", probe.job("bad", 0, pause=0.002, fail=True))
    await lanes.submit("bad", probe.job("bad", 1))
    await lanes.submit("good", probe.job("good", 0))
    await lanes.submit("good", probe.job("good", 1))
    await lanes.join()
    assert probe.log == [("good", 0), ("good", 1)]  # bad/1 must not overtake the failed bad/0
    await lanes.submit("bad", probe.job("bad", 2))  # a fresh chain once the failed one is over
    await lanes.join()
    assert probe.log[-1] == ("bad", 2)


async def test_close_lets_short_jobs_finish_and_cancels_the_rest() -> None:
    lanes, probe = Lanes(8), Probe()
    await lanes.submit("quick", probe.job("quick", 0, pause=0.01))
    await lanes.submit("slow", probe.job("slow", 0, pause=30))
    await lanes.submit("slow", probe.job("slow", 1))
    cancelled = await lanes.close(timeout_s=0.2)
    assert probe.log == [("quick", 0)]
    assert cancelled == 2 and lanes.in_flight == 0


def test_a_pool_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        Lanes(0)
