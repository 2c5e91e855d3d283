"""N workers: with three dispatcher workers in one group, partition n of `incidents` and of `responses`
is always on the same worker, through rebalances (a worker killed, one added). faust co-partitions
topics of one agent that have the same partition count; with standby replicas 0 its assignor hands
partitions round-robin, and this shows it still hands out partition numbers, not topic partitions."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from services.common.config import Settings
from services.common.topics import INCIDENTS, RESPONSES
from tests.integration.dispatcher.conftest import Workers
from tests.support.procs import ServiceProcess

PARTITIONS = set(range(8))
POLL_S = 0.1


def assignment(proc: ServiceProcess) -> dict[str, set[int]]:
    """The worker's active partitions by topic (its `/assignment` page)."""
    answer = httpx.get(f"http://127.0.0.1:{proc.port}/assignment", timeout=3.0)  # type: ignore[attr-defined]
    answer.raise_for_status()
    actives: dict[str, Any] = answer.json()["actives"]
    return {topic: set(parts) for topic, parts in actives.items()}


def settled(procs: list[ServiceProcess], s: Settings, timeout_s: float = 60.0) -> list[dict[str, set[int]]]:
    """Wait until every worker has a share and the shares cover each topic's partitions exactly once;
    then return them. Fails with the last seen assignment otherwise."""
    inc, resp = s.topic(INCIDENTS), s.topic(RESPONSES)
    deadline = time.monotonic() + timeout_s
    seen: list[dict[str, set[int]]] = []
    while time.monotonic() < deadline:
        try:
            seen = [assignment(p) for p in procs]
        except httpx.HTTPError:
            time.sleep(POLL_S)
            continue
        shares = [a.get(inc, set()) for a in seen]
        if all(shares) and sorted(p for sh in shares for p in sh) == sorted(PARTITIONS):
            resp_shares = [a.get(resp, set()) for a in seen]
            if sorted(p for sh in resp_shares for p in sh) == sorted(PARTITIONS):
                return seen
        time.sleep(POLL_S)
    raise AssertionError(f"assignment did not settle: {seen}")


def assert_copartitioned(seen: list[dict[str, set[int]]], s: Settings) -> None:
    for share in seen:
        assert share[s.topic(INCIDENTS)] == share[s.topic(RESPONSES)], seen


def test_partition_n_of_incidents_and_responses_stays_on_one_worker(
    workers: Workers, topics: Settings
) -> None:
    fast = {"SIGAP_KAFKA_SESSION_TIMEOUT_S": "6"}
    with ThreadPoolExecutor() as pool:  # each waits for its worker's health page: all at once
        w1, w2, w3 = pool.map(lambda name: workers.start(name, **fast), ("w1", "w2", "w3"))
    assert_copartitioned(settled([w1, w2, w3], topics), topics)

    w2.kill()  # a crash: its partitions move once its session times out
    assert_copartitioned(settled([w1, w3], topics), topics)

    w4 = workers.start("w4", **fast)
    assert_copartitioned(settled([w1, w3, w4], topics), topics)
