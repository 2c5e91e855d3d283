"""The suite's pytest-xdist scheduler (`tests/support/xdist_scheduling.py`), driven the way xdist's
controller drives it, with workers that behave as xdist's do: a worker runs the tests it was sent in
order but keeps the last one until it is sent more or told to shut down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.support.xdist_scheduling import ModuleScheduling


class Config:
    def getvalue(self, name: str) -> Any:
        assert name == "tx"
        return ["2*popen"]


@dataclass(eq=False)
class Worker:
    name: str
    queue: list[int] = field(default_factory=list)
    ran: list[int] = field(default_factory=list)
    shutting_down: bool = False

    def send_runtest_some(self, indices: list[int]) -> None:
        assert not self.shutting_down
        self.queue.extend(indices)

    def shutdown(self) -> None:
        self.shutting_down = True

    def runnable(self) -> bool:
        return len(self.queue) >= 2 or (self.shutting_down and bool(self.queue))


def run(collection: list[str]) -> tuple[ModuleScheduling, list[Worker], list[tuple[str, int]]]:
    """Round-robin steps until every worker stopped; the log is (worker, index) in completion order."""
    sched = ModuleScheduling(Config())  # type: ignore[arg-type]
    workers = [Worker("gw0"), Worker("gw1")]
    for worker in workers:
        sched.add_node(worker)  # type: ignore[arg-type]
    for worker in workers:
        sched.add_node_collection(worker, collection)  # type: ignore[arg-type]
    sched.schedule()
    log: list[tuple[str, int]] = []
    for _ in range(10 * len(collection) + 10):
        progressed = False
        for worker in workers:
            if worker.runnable():
                index = worker.queue.pop(0)
                worker.ran.append(index)
                log.append((worker.name, index))
                sched.mark_test_complete(worker, index)  # type: ignore[arg-type]
                progressed = True
            if sched.tests_finished:  # what xdist's controller does then
                for other in workers:
                    other.shutdown()
        if not progressed and not any(w.queue for w in workers):
            break
    return sched, workers, log


COLLECTION = [
    *(f"tests/integration/a/test_long.py::test_{n}" for n in range(6)),
    "tests/integration/bench/test_bench_smoke.py::test_one",  # slow, alone in its module, handed out early
    *(f"tests/unit/test_b.py::test_{n}" for n in range(3)),
    "tests/unit/test_c.py::test_op",  # schemathesis-like: one node id for several tests
    "tests/unit/test_c.py::test_op",
    "tests/unit/test_c.py::test_op",
    *(f"tests/unit/test_d.py::test_{n}" for n in range(4)),
]


def test_every_test_runs_once_and_a_module_stays_on_one_worker_in_its_order() -> None:
    sched, workers, log = run(COLLECTION)
    assert sorted(index for _, index in log) == list(range(len(COLLECTION)))
    assert not sched.has_pending and sched.tests_finished
    for module in {nodeid.split("::")[0] for nodeid in COLLECTION}:
        indices = [i for i, nodeid in enumerate(COLLECTION) if nodeid.startswith(module + "::")]
        runners = {w.name for w in workers for i in w.ran if i in indices}
        assert len(runners) == 1, module
        (worker,) = [w for w in workers if w.name in runners]
        assert [i for i in worker.ran if i in indices] == indices


def test_a_worker_given_a_module_of_one_test_is_sent_more_instead_of_waiting_for_the_end() -> None:
    _, workers, log = run(COLLECTION)
    (worker,) = [w for w in workers if 6 in w.ran]  # the benchmark smoke test, handed out first
    assert worker.ran[0] == 6 and len(worker.ran) > 1
    # it ran it at the start, not held to the end of the run waiting for more work
    assert log.index((worker.name, 6)) < len(log) // 2
    assert all(len(w.ran) > 1 for w in workers)


def test_a_crashed_worker_s_remaining_tests_go_to_the_other() -> None:
    sched = ModuleScheduling(Config())  # type: ignore[arg-type]
    gw0, gw1 = Worker("gw0"), Worker("gw1")
    for worker in (gw0, gw1):
        sched.add_node(worker)  # type: ignore[arg-type]
        sched.add_node_collection(worker, COLLECTION)  # type: ignore[arg-type]
    sched.schedule()
    held = list(gw0.queue)
    crashed = sched.remove_node(gw0)  # type: ignore[arg-type]
    assert crashed == COLLECTION[held[0]]
    assert set(held[1:]) <= set(gw1.queue) | {i for unit in sched.queue for i in unit}
