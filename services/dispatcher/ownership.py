"""Which incidents this worker owns now: those whose partition of `incidents` and `responses` (the same
partition number, keyed by incident id) the group has assigned to it. Between a revocation and the next
assignment it owns none.

The timers that act on incidents (offer expiry) ask this, so a worker acts only on incidents whose
events it is the one to apply."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiokafka.partitioner import DefaultPartitioner


class Ownership:
    def __init__(self, topic: str, partitions: int) -> None:
        """`topic`: the (prefixed) `responses` topic, whose partitions say which incidents are ours;
        `partitions`: its partition count (that of `incidents` too)."""
        self.topic = topic
        self.all = list(range(partitions))
        self.partitions: frozenset[int] = frozenset()
        self._partitioner = DefaultPartitioner()

    def assigned(self, tps: Iterable[Any]) -> None:
        """The group's new assignment (faust's topic partitions: `.topic`, `.partition`)."""
        self.partitions = frozenset(tp.partition for tp in tps if tp.topic == self.topic)

    def revoked(self) -> None:
        self.partitions = frozenset()

    def partition_of(self, incident_id: str) -> int:
        """The partition a record keyed by this incident id goes to (Kafka's default partitioner, as
        every producer of the project uses)."""
        return int(self._partitioner(incident_id.encode(), self.all, self.all))

    def owns(self, incident_id: str) -> bool:
        return bool(self.partitions) and self.partition_of(incident_id) in self.partitions
