"""`freeze_startup_heap`: what exists at start leaves the collector's reach; new garbage still goes."""

from __future__ import annotations

import gc
import weakref

from services.common.heap import freeze_startup_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_startup_objects_are_frozen_and_new_cycles_are_still_collected() -> None:
    before = _Node()
    frozen_ref = weakref.ref(before)
    try:
        assert freeze_startup_heap() >= 1
        del before
        gc.collect()
        assert frozen_ref() is not None  # frozen: no collection looks at it any more
        later = _Node()
        later_ref = weakref.ref(later)
        del later
        gc.collect()
        assert later_ref() is None  # garbage made after the freeze is collected as before
    finally:
        gc.unfreeze()
    gc.collect()
    assert frozen_ref() is None
