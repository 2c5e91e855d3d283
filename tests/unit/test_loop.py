"""`install_event_loop`: SIGAP_EVENT_LOOP picks the loop every later loop of the process is made with."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import uvloop

from services.common.base_settings import CommonSettings
from services.common.loop import install_event_loop, run_to_end


@pytest.fixture(autouse=True)
def _restore_policy() -> Iterator[None]:
    before = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(before)


def _loop_made() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    loop.close()
    return loop


def test_uvloop_is_the_default_and_new_loops_are_uvloop() -> None:
    assert CommonSettings().event_loop == "uvloop"
    assert install_event_loop("uvloop") == "uvloop"
    assert isinstance(_loop_made(), uvloop.Loop)


def test_asyncio_leaves_the_standard_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.set_event_loop_policy(None)
    monkeypatch.setenv("SIGAP_EVENT_LOOP", " asyncio ")
    assert install_event_loop(CommonSettings().event_loop) == "asyncio"
    assert not isinstance(_loop_made(), uvloop.Loop)


def test_an_unknown_loop_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="SIGAP_EVENT_LOOP must be one of uvloop, asyncio, not 'trio'"):
        install_event_loop("trio")
    monkeypatch.setenv("SIGAP_EVENT_LOOP", "trio")
    with pytest.raises(ValueError, match="event_loop"):  # the settings refuse it at start
        CommonSettings()


async def _cancel_as_it_completes(wait_for: Any) -> str:
    """The caller is cancelled in the very loop turn its awaited future completes."""
    inner: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def caller() -> str:
        result: str = await wait_for(inner, 5)
        return result

    task = asyncio.create_task(caller())
    await asyncio.sleep(0)  # the caller now waits
    inner.set_result("done")
    task.cancel()
    try:
        return await task
    except asyncio.CancelledError:
        return "cancelled"


def test_the_interpreter_is_312_or_later() -> None:
    """The services rely on 3.12's `asyncio.wait_for` (below); `make venv` picks a 3.12 interpreter."""
    assert sys.version_info >= (3, 12)


async def test_wait_for_keeps_a_cancellation_that_arrives_as_the_call_completes() -> None:
    """CPython gh-86296: 3.11's `wait_for` returned "done" here and the cancelled task went on running
    (redis-py wraps every command in it); 3.12's raises the cancellation."""
    assert await _cancel_as_it_completes(asyncio.wait_for) == "cancelled"


async def _raises(exc: Exception) -> None:
    raise exc


async def test_run_to_end_finishes_a_cleanup_through_a_second_cancellation() -> None:
    finished: list[str] = []
    started = asyncio.Event()

    async def release() -> str:
        started.set()
        await asyncio.sleep(0.05)
        finished.append("released")
        return "ok"

    async def stopping() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:  # the first cancellation starts the cleanup ...
            await run_to_end(release())
            raise

    task = asyncio.create_task(stopping())
    await asyncio.sleep(0)
    task.cancel()
    await started.wait()
    task.cancel()  # ... and a second one arrives while it runs
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished == ["released"]


async def test_run_to_end_returns_the_result_and_raises_the_error() -> None:
    assert await run_to_end(asyncio.sleep(0, "ok")) == "ok"
    with pytest.raises(KeyError):
        await run_to_end(_raises(KeyError("gone")))
