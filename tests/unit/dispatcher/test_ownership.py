"""Which incidents a worker owns: its assigned partitions of `responses`, by Kafka's partitioner."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.partitioner import DefaultPartitioner

from services.dispatcher.ownership import Ownership


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


def test_an_incident_is_owned_where_its_records_go() -> None:
    own = Ownership("p.responses", 8)
    own.assigned([TP("p.responses", 1), TP("p.responses", 6), TP("p.incidents", 3), TP("p.volunteers", 2)])
    assert own.partitions == {1, 6}
    for n in range(50):
        incident_id = f"INC-20261203-{n:08d}"
        where = DefaultPartitioner()(incident_id.encode(), list(range(8)), list(range(8)))
        assert own.partition_of(incident_id) == where
        assert own.owns(incident_id) == (where in (1, 6))


def test_between_a_revocation_and_an_assignment_nothing_is_owned() -> None:
    own = Ownership("p.responses", 8)
    assert not own.owns("INC-1")
    own.assigned([TP("p.responses", p) for p in range(8)])
    assert own.owns("INC-1")
    own.revoked()
    assert not own.owns("INC-1")
