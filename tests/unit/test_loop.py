"""`install_event_loop`: SIGAP_EVENT_LOOP picks the loop every later loop of the process is made with."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import uvloop

from services.common.loop import install_event_loop


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
    assert install_event_loop({}) == "uvloop"
    assert isinstance(_loop_made(), uvloop.Loop)


def test_asyncio_leaves_the_standard_loop() -> None:
    asyncio.set_event_loop_policy(None)
    assert install_event_loop({"SIGAP_EVENT_LOOP": " asyncio "}) == "asyncio"
    assert not isinstance(_loop_made(), uvloop.Loop)


def test_an_unknown_loop_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="SIGAP_EVENT_LOOP must be one of uvloop, asyncio, not 'trio'"):
        install_event_loop({"SIGAP_EVENT_LOOP": "trio"})
