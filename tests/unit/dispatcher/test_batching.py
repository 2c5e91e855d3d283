"""`Batcher`: a lone record goes at once, a burst goes in few batches, order is kept across and within
batches, `put` waits for room, a failing handler stops everything after it, close leaves the rest."""

from __future__ import annotations

import asyncio

import pytest

from services.dispatcher.batching import Batcher, BatcherStopped


class Recorder:
    def __init__(self, pause: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.pause = pause
        self.release: asyncio.Event | None = None

    async def handle(self, batch: list[int]) -> None:
        self.batches.append(list(batch))
        if self.release is not None:
            await self.release.wait()
        if self.pause:
            await asyncio.sleep(self.pause)


async def holding(limit: int) -> tuple[Recorder, Batcher[int]]:
    """A batcher whose handler has taken [0] and holds it until `rec.release` is set."""
    rec = Recorder()
    rec.release = asyncio.Event()
    batcher: Batcher[int] = Batcher(limit, rec.handle)
    await batcher.put(0)
    await asyncio.sleep(0)  # the worker takes [0] and waits in the handler
    return rec, batcher


async def test_a_lone_record_is_handled_at_once_as_a_batch_of_one() -> None:
    rec = Recorder()
    batcher: Batcher[int] = Batcher(64, rec.handle)
    await batcher.put(1)
    await asyncio.wait_for(batcher.join(), 1)
    assert rec.batches == [[1]]
    await batcher.put(2)
    await asyncio.wait_for(batcher.join(), 1)
    assert rec.batches == [[1], [2]] and batcher.in_flight == 0


async def test_what_arrives_during_a_batch_forms_the_next_in_order() -> None:
    rec, batcher = await holding(100)
    for n in range(1, 51):
        await batcher.put(n)
    assert batcher.in_flight == 51 and batcher.handling == 1
    rec.release.set()
    await asyncio.wait_for(batcher.join(), 1)
    assert rec.batches == [[0], list(range(1, 51))]
    assert batcher.largest == 50 and batcher.batches == 2


async def test_batches_never_exceed_the_limit_and_put_waits_for_room() -> None:
    rec, batcher = await holding(4)
    for n in range(1, 5):
        await batcher.put(n)  # 4 queued behind the batch being handled: the limit
    blocked = asyncio.create_task(batcher.put(5))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    rec.release.set()
    await asyncio.wait_for(blocked, 1)
    await asyncio.wait_for(batcher.join(), 1)
    assert [n for b in rec.batches for n in b] == list(range(6))
    assert all(len(b) <= 4 for b in rec.batches)


async def test_a_failing_handler_stops_every_later_batch() -> None:
    handled: list[list[int]] = []

    async def handle(batch: list[int]) -> None:
        handled.append(batch)
        if 1 in batch:
            raise ValueError("bug")

    batcher: Batcher[int] = Batcher(8, handle)
    await batcher.put(0)
    await asyncio.wait_for(batcher.join(), 1)
    await batcher.put(1)
    await asyncio.wait_for(batcher.join(), 1)
    with pytest.raises(BatcherStopped):
        await batcher.put(2)
    assert handled == [[0], [1]]
    assert isinstance(batcher.failure, ValueError)
    await batcher.close(0.1)


async def test_close_waits_for_the_batch_in_hand_then_leaves_the_rest() -> None:
    rec, batcher = await holding(8)
    await batcher.put(1)
    left = await batcher.close(0.05)  # the handler never finishes: cancelled, both records left
    assert left == 2
    assert rec.batches == [[0]]


async def test_close_after_everything_was_handled_leaves_nothing() -> None:
    rec = Recorder(pause=0.001)
    batcher: Batcher[int] = Batcher(8, rec.handle)
    for n in range(20):
        await batcher.put(n)
    assert await batcher.close(2) == 0
    assert [n for b in rec.batches for n in b] == list(range(20))
