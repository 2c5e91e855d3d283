"""The topic check's comparison (pure): what a service names when its topics are not as expected."""

from __future__ import annotations

from services.common.topics import (
    DISPATCH_LOG,
    INCIDENTS,
    SPECS,
    TOPICS,
    VOLUNTEERS,
    min_insync,
    problems_of,
    spec_config,
)


def shapes(prefix: str, rf: int = 1) -> dict[str, tuple[int, int, str] | None]:
    return {prefix + t.name: (t.partitions, rf, t.cleanup_policy) for t in TOPICS}


def test_topics_as_specified_have_no_problems() -> None:
    assert problems_of("p.", [t.name for t in TOPICS], shapes("p."), 1) == []


def test_each_difference_is_named_with_the_topic() -> None:
    found = shapes("p.")
    found["p.incidents"] = (4, 1, "delete")
    found["p.volunteers"] = (4, 1, "delete")
    found["p.responses"] = None
    problems = problems_of("p.", [INCIDENTS, VOLUNTEERS, "responses"], found, 1)
    assert problems == [
        "p.incidents: 4 partitions, expected 8",
        "p.volunteers: cleanup.policy delete, expected compact",
        "p.responses: missing (expected 8 partitions, delete)",
    ]


def test_too_few_replicas_is_a_problem_more_is_not() -> None:
    assert problems_of("p.", [INCIDENTS], shapes("p.", rf=1), 3) == [
        "p.incidents: replication factor 1, expected 3"
    ]
    assert problems_of("p.", [INCIDENTS], shapes("p.", rf=3), 1) == []


def test_min_insync_replicas_is_all_but_one_copy() -> None:
    assert [min_insync(rf) for rf in (1, 2, 3, 5)] == [1, 1, 2, 4]
    assert spec_config(SPECS[INCIDENTS], 3, -1)["min.insync.replicas"] == "2"


def test_dispatch_log_retention_is_configurable_and_unlimited_by_default() -> None:
    assert spec_config(SPECS[DISPATCH_LOG], 1, -1)["retention.ms"] == "-1"
    assert spec_config(SPECS[DISPATCH_LOG], 1, 86_400_000)["retention.ms"] == "86400000"
    assert "retention.ms" not in spec_config(SPECS[INCIDENTS], 1, 86_400_000)
