"""What a run measures: the full run (`make bench`, ~15 minutes) and the smoke run (`--smoke`, CI)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    rosters: tuple[int, ...]  # volunteers in each roster phase
    rates: tuple[float, ...]  # fixed incident rates through the gateway, per second
    stage_s: float  # length of each fixed-rate stage
    drain_s: float  # how long to wait after a stage for its last first offers
    sustained_steps: tuple[float, ...]  # the search's rates (incidents/s) straight onto `incidents`
    sustained_step_s: float  # length of each search step
    sustained_confirm_s: float  # the confirmation run at the best rate ("for a minute"); 0 = none
    matching_iterations: int  # calls of the matching step per roster
    ceiling_s: float  # the ceiling's fixed-rate stage
    ceiling_blast: int  # records in the ceiling's throughput blast
    settle_cap_s: float  # the longest wait for a stage's backlog to clear before the next stage
    compare_stage_s: float = 0.0  # the compared rate's stage, longer so its p99 is stable (0: stage_s)
    capacity_incidents: int = 0  # backlog one dispatcher worker drains alone (0: not measured)
    capacity_timeout_s: float = 300.0
    capacity_scaling_workers: int = 0  # then the same drain by this many workers (0: not measured)
    floor_incidents: int = 0  # backlog of the I/O floor's drains (`bench.faust_floor`; 0: not measured)
    compare_rate: float = 50.0  # the rate whose p99 is compared with the ceiling's and between rosters

    def stage_for(self, rate: float) -> float:
        """Seconds of the fixed-rate stage at `rate`: the compared rate's p99 is the 30th-worst of 3,000
        incidents rather than the 10th-worst of 1,000, which one hiccup of the shared machine decides."""
        return self.compare_stage_s if rate == self.compare_rate and self.compare_stage_s else self.stage_s

    http_clients: int = 8
    roster_timeout_s: float = 300.0


FULL = Plan(
    name="full",
    rosters=(1_000, 100_000),
    rates=(10, 50, 200),
    stage_s=20,
    drain_s=10,
    sustained_steps=(20, 40, 70, 100, 150, 200, 300, 500, 700, 1000, 1400, 2000),
    sustained_step_s=15,
    sustained_confirm_s=60,
    matching_iterations=2000,
    ceiling_s=20,
    ceiling_blast=20_000,
    settle_cap_s=60,
    capacity_incidents=20_000,
    capacity_scaling_workers=2,
    compare_stage_s=60,
    floor_incidents=20_000,
)

SMOKE = Plan(
    name="smoke",
    rosters=(200,),
    rates=(10, 50),
    stage_s=2,
    drain_s=10,
    sustained_steps=(50,),
    sustained_step_s=2,
    sustained_confirm_s=0,
    matching_iterations=200,
    ceiling_s=2,
    ceiling_blast=1000,
    settle_cap_s=15,
    capacity_incidents=200,
    capacity_timeout_s=60,
    capacity_scaling_workers=2,
    floor_incidents=500,
    http_clients=4,
    roster_timeout_s=120,
)
