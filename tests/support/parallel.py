"""`make test` runs the suite on several pytest-xdist workers (processes; `SIGAP_TEST_WORKERS`). What
keeps them out of each other's way:

- each worker has its own suite Redis (`tests/support/suite_redis.py`) and its own share of a fixed
  port range (`worker_slice`: the deployment tests');
- a module's tests run on one worker, in their order (`ModuleScheduling`), so a module's set-up (a
  notifier, a built wheel, the secured broker) is made once; modules that use one machine-wide resource
  on fixed ports are one unit (`SHARED`).

Outside xdist (`pytest` alone) this is worker 0 of 1 and changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

SHARED = {
    # a Sentinel set on ports 17120-17122 and 17130-17132
    "tests/integration/common/test_sentinel.py": "sentinel-17120",
    "tests/integration/dispatcher/test_marker_process.py": "sentinel-17120",
}
"""modules that must not run at the same time, by the unit they share"""

SLOW_FIRST = (
    "tests/integration/dispatcher/test_resilience.py",
    "tests/integration/bench/test_bench_smoke.py",
    "tests/integration/secure/test_transport.py",
    "tests/integration/dispatcher/test_partition_moves.py",
    "tests/integration/gateway/test_cli.py",
    "tests/integration/dispatcher/test_rules.py",
    "tests/e2e/test_board_browser.py",
    "tests/e2e/test_offer_flow.py",
    "sentinel-17120",
    "tests/deploy/test_wheel.py",
    "tests/integration/gateway/test_openapi_fuzz.py",
    "tests/integration/notifier/test_restart.py",
    "tests/integration/gateway/test_fail_fast.py",
    "tests/integration/dispatcher/test_copartitioning.py",
    "tests/integration/notifier/test_delivery.py",
    "tests/integration/gateway/test_webhooks.py",
    "tests/integration/bmkg/test_pollers.py",
    "tests/e2e/test_chat_answers.py",
    "tests/e2e/test_reports_browser.py",
)
"""the units that took 13 s or more in a run on two workers, longest first (2026-12-03): they are
handed out before the rest, so that none of them starts last while the other workers idle; the rest
follow in collection order. A name no longer collected is skipped."""


def worker_index() -> int:
    """This process's worker number (`gw3` → 3); 0 outside xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name.removeprefix("gw") or 0)


def worker_count() -> int:
    return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))


def worker_slice[T](values: Sequence[T]) -> Sequence[T]:
    """This worker's share of `values`, disjoint from every other worker's."""
    return values[worker_index() :: worker_count()]


def unit_of(nodeid: str) -> str:
    """The scheduling unit of a test: its module, or the unit its module shares."""
    module = nodeid.split("::", 1)[0]
    return SHARED.get(module, module)


def order(units: Sequence[str]) -> list[str]:
    """`units` (in collection order) with `SLOW_FIRST`'s first, in its order."""
    slow = [u for u in SLOW_FIRST if u in units]
    return slow + [u for u in units if u not in slow]
