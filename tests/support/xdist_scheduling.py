"""The suite's pytest-xdist scheduler (`pytest_xdist_make_scheduler` in `tests/conftest.py`), written
against xdist's public `Scheduling` protocol (`xdist.scheduler.protocol`), not by subclassing one of its
schedulers: a unit of work is a module (or a `SHARED` group of modules, `tests/support/parallel.py`),
handed out whole, `SLOW_FIRST` first, to whichever worker is nearly out of work; the unit's tests run
there in their order, so a module's set-up is made once.

Why not `--dist loadfile` or `loadgroup`: both key the work by node id, and schemathesis gives all 33
operations of `test_openapi_fuzz.py` one node id (the test function's, under pytest 9.2), so 32 of them
silently never ran; and `loadgroup` does not group at all under pytest 9.2 (it rewrites
`item._nodeid`, which pytest no longer reads: pytest-dev/pytest-xdist#1386). Here the work is the
collection's indices, which are unique.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest
from xdist.workermanage import parse_tx_spec_config

from tests.support.parallel import order, unit_of

if TYPE_CHECKING:
    from xdist.workermanage import WorkerController

REFILL_AT = 2
"""a worker keeps its last test until it is sent more or told to shut down (pytest tears a test down
knowing the next one): a worker with this many tests or fewer left is sent its next unit"""


class ModuleScheduling:
    """Modules to workers, whole (see the module's docstring). Implements
    `xdist.scheduler.protocol.Scheduling`."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.numnodes = len(parse_tx_spec_config(config))
        self.collection: list[str] | None = None
        self.collections: dict[WorkerController, list[str]] = {}
        self.pending: dict[WorkerController, list[int]] = {}
        """per worker: the indices sent to it and not complete yet, in its order"""
        self.queue: list[list[int]] = []
        """the units not handed out yet (each a list of indices), next first"""

    @property
    def nodes(self) -> list[WorkerController]:
        return list(self.pending)

    @property
    def collection_is_completed(self) -> bool:
        return len(self.collections) >= self.numnodes

    @property
    def tests_finished(self) -> bool:
        if not self.collection_is_completed or self.queue:
            return False
        return all(len(indices) < 2 for indices in self.pending.values())  # the last one is running

    @property
    def has_pending(self) -> bool:
        return bool(self.queue) or any(self.pending.values())

    def add_node(self, node: WorkerController) -> None:
        assert node not in self.pending
        self.pending[node] = []

    def add_node_collection(self, node: WorkerController, collection: Sequence[str]) -> None:
        if self.collection is not None and list(collection) != self.collection:
            self._report_difference(node, collection)  # a worker started late (one crashed) saw other tests
            return
        self.collections[node] = list(collection)

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is None:
            first, *others = self.collections.items()
            for node, collection in others:
                if collection != first[1]:
                    self._report_difference(node, collection)
                    return
            self.collection = first[1]
            units: dict[str, list[int]] = {}
            for index, nodeid in enumerate(self.collection):
                units.setdefault(unit_of(nodeid), []).append(index)
            self.queue = [units[unit] for unit in order(list(units))]
        for node in self.nodes:
            self._refill(node)

    def mark_test_complete(self, node: WorkerController, item_index: int, duration: float = 0) -> None:
        self.pending[node].remove(item_index)
        self._refill(node)

    def mark_test_pending(self, item: str) -> None:
        """A crashed test to be run again (a `pytest_handlecrashitem` hook asks): next, on its own."""
        assert self.collection is not None
        self.queue.insert(0, [self.collection.index(item)])
        for node in self.nodes:
            self._refill(node)

    def remove_pending_tests_from_node(self, node: WorkerController, indices: Sequence[int]) -> None:
        raise NotImplementedError("only work-stealing schedulers take tests back")

    def remove_node(self, node: WorkerController) -> str | None:
        """A worker finished or crashed; if it crashed, the rest of its work goes to the others, and the
        test it was running is returned (xdist reports it)."""
        indices = self.pending.pop(node)
        if not indices:
            return None
        assert self.collection is not None
        crashed, *rest = indices
        if rest:
            self.queue.insert(0, rest)
        for other in self.nodes:
            self._refill(other)
        return self.collection[crashed]

    def _refill(self, node: WorkerController) -> None:
        if node.shutting_down:
            return
        if not self.queue:
            node.shutdown()  # it runs what it has, then stops
            return
        while self.queue and len(self.pending[node]) <= REFILL_AT:  # a unit of one test is not enough
            unit = self.queue.pop(0)
            self.pending[node].extend(unit)
            node.send_runtest_some(unit)

    def _report_difference(self, node: WorkerController, collection: Sequence[str]) -> None:
        expected = self.collection or next(iter(self.collections.values()))
        diff = "\n".join(difflib.unified_diff(expected, list(collection), lineterm=""))
        self.config.hook.pytest_collectreport(
            report=pytest.CollectReport(
                nodeid=node.gateway.id,
                outcome="failed",
                longrepr=f"worker {node.gateway.id} collected other tests than the first worker:\n{diff}",
                result=[],
            )
        )
