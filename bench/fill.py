"""Time to fill a 19-slot incident, one offer per slot against a call-out to many (issue 18).

How long a flood/extreme incident of 19 people (`CALL_OUT_19`) takes to be staffed depends on
how volunteers answer, not on the machine: so this drives the dispatcher's own state machine
(`services.dispatcher.incident.decide`, the real run cards and offer TTLs) in simulated time, with an
in-memory roster that honours rule 4, and a population of volunteers whose behaviour is drawn once per
trial and is the same in both modes:

- each answers YES with probability `--yes` (default 0.6), NO with `--no` (0.15), or never (the offer
  expires after the severity's TTL, 120 s for extreme);
- an answer comes after a log-normal delay (median `--median-s`, default 45 s; sigma 0.8): people read
  WhatsApp when they look at their phone.

One per slot (rule 6): each open slot has one offer out; a NO or an expiry offers it to the next
candidate. Broadcast ×2 (issue 18): twice the open slots go out at once; the first YESes fill them.
The report is the simulated time from the report to `staffed` (or unfilled after `--horizon-s`), the
offers sent and how many volunteers were asked for nothing, over `--trials` populations.

    python -m bench.fill [--trials 200] [--volunteers 60] [--json bench/fill.json]
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from schemas.envelope import Envelope, make_event
from schemas.events import (
    IncidentReported,
    Need,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    Payload,
)
from schemas.fields import GeoPoint
from schemas.vocabulary import AssignmentStatus, IncidentStatus, IncidentType, Severity, Skill, Unit
from services.dispatcher.commands import (
    CandidatesFound,
    Command,
    FindCandidates,
    FreeVolunteer,
    Reservation,
)
from services.dispatcher.incident import IncidentState, Policy, decide
from services.dispatcher.runcards import load_runcards
from services.dispatcher.settings import DEFAULT_RUNCARDS

T0 = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
WHERE = GeoPoint(lat=-7.8166, lon=112.0166)
TAGANA_SKILLS = frozenset(
    {
        Skill.WATER_RESCUE,
        Skill.EVACUATION,
        Skill.PUBLIC_KITCHEN,
        Skill.SHELTER,
        Skill.LOGISTICS,
        Skill.COMMAND_POST,
        Skill.PSYCHOSOCIAL,
    }
)
Mode = Literal["one_per_slot", "broadcast"]

CALL_OUT_19 = [
    Need(unit=Unit.TAGANA, skill=Skill.WATER_RESCUE, count=4),
    Need(unit=Unit.TAGANA, skill=Skill.EVACUATION, count=4),
    Need(unit=Unit.TAGANA, skill=Skill.PUBLIC_KITCHEN, count=3),
    Need(unit=Unit.TAGANA, skill=Skill.SHELTER, count=2),
    Need(unit=Unit.TAGANA, skill=Skill.LOGISTICS, count=2),
    Need(unit=Unit.TAGANA, skill=Skill.COMMAND_POST, count=1),
    Need(unit=Unit.TAGANA, skill=Skill.PSYCHOSOCIAL, count=1),
    Need(unit=Unit.TRC, skill=Skill.RAPID_ASSESSMENT, count=2),
]
"""A 19-person call-out of Tagana and TRC (the flood/extreme run card before the IPSM cards of issue
19, which ask for 44 across five units): the incident the fill times are measured on, posted with
these needs so the measurement does not move when the office edits its run cards."""


@dataclass(frozen=True, slots=True)
class Person:
    unit: Unit
    skills: frozenset[Skill]
    distance_km: float
    answer: Literal["yes", "no", "never"]
    delay_s: float


def population(rng: random.Random, size: int, yes: float, no: float, median_s: float) -> dict[str, Person]:
    people = {}
    for i in range(size):
        trc = i % 10 == 0  # one in ten is TRC (rapid assessment)
        roll = rng.random()
        answer: Literal["yes", "no", "never"] = "yes" if roll < yes else "no" if roll < yes + no else "never"
        people[f"v{i:03d}"] = Person(
            Unit.TRC if trc else Unit.TAGANA,
            frozenset({Skill.RAPID_ASSESSMENT}) if trc else TAGANA_SKILLS,
            rng.uniform(0.2, 12.0),
            answer,
            rng.lognormvariate(math.log(median_s), 0.8),
        )
    return people


@dataclass
class Trial:
    people: dict[str, Person]
    policy: Policy
    holds: dict[str, str] = field(default_factory=dict)
    queue: list[tuple[float, int, Envelope[Payload]]] = field(default_factory=list)
    seq: int = 0
    offers: int = 0

    def at(self, seconds: float, payload: Payload) -> None:
        self.seq += 1
        event = make_event(payload, source="bench", occurred_at=T0 + timedelta(seconds=seconds))
        heapq.heappush(self.queue, (seconds, self.seq, event))

    def apply(self, state: IncidentState | None, event: Envelope[Payload], now_s: float) -> IncidentState:
        now = T0 + timedelta(seconds=now_s)
        pending: list[Envelope[Payload] | CandidatesFound] = [event]
        while pending:
            state, commands = decide(state, pending.pop(0), now, self.policy)
            for command in commands:
                found = self._execute(command)
                if found is not None:
                    pending.append(found)
        assert state is not None  # noqa: S101 - the report starts the incident
        return state

    def _execute(self, command: Command) -> CandidatesFound | None:
        if isinstance(command, FreeVolunteer) and self.holds.get(command.volunteer_id) == command.offer_id:
            del self.holds[command.volunteer_id]
        if not isinstance(command, FindCandidates):
            return None
        fits = sorted(
            (p.distance_km, vid)
            for vid, p in self.people.items()
            if p.unit == command.need.unit
            and (command.need.skill is None or command.need.skill in p.skills)
            and vid not in self.holds
            and vid not in command.exclude
        )
        made = []
        for (distance, vid), offer_id in zip(fits, command.offer_ids, strict=False):
            self.holds[vid] = offer_id
            made.append(Reservation(offer_id, vid, vid, distance, command.expires_at))
        return CandidatesFound(command.need_index, tuple(made), exhausted=len(made) < len(command.offer_ids))


def run_trial(people: dict[str, Person], policy: Policy, mode: Mode, horizon_s: float) -> dict[str, Any]:
    trial = Trial(people, policy)
    report = IncidentReported(
        incident_id="INC-BENCH",
        type=IncidentType.FLOOD,
        severity=Severity.EXTREME,
        title="Banjir besar",
        location=WHERE,
        kelurahan_code="35.71.02.1015",
        needs=CALL_OUT_19,
        offer_mode=mode,
    )
    trial.at(0.0, report)
    state: IncidentState | None = None
    scheduled: set[str] = set()
    while trial.queue:
        now_s, _, event = heapq.heappop(trial.queue)
        if now_s > horizon_s:
            break
        state = trial.apply(state, event, now_s)
        for a in state.assignments:
            if a.offer_id in scheduled or a.status != AssignmentStatus.OFFERED:
                continue
            scheduled.add(a.offer_id)
            trial.offers += 1
            person = people[a.volunteer_id]
            common = {
                "offer_id": a.offer_id,
                "incident_id": state.incident_id,
                "volunteer_id": a.volunteer_id,
            }
            ttl_s = (a.expires_at - T0).total_seconds()
            trial.at(ttl_s, OfferExpired(**common))
            if person.answer != "never" and now_s + person.delay_s < ttl_s:
                answer_cls = OfferAccepted if person.answer == "yes" else OfferDeclined
                trial.at(now_s + person.delay_s, answer_cls(**common))
        if state.status == IncidentStatus.STAFFED:
            break
    assert state is not None  # noqa: S101
    filled = sum(state.counts(i).filled for i in range(len(state.needs)))
    staffed_at = (state.updated_at - T0).total_seconds() if state.status == IncidentStatus.STAFFED else None
    told_filled = sum(1 for a in state.assignments if a.status == AssignmentStatus.WITHDRAWN)
    return {"staffed_s": staffed_at, "filled": filled, "offers": trial.offers, "withdrawn": told_filled}


def summarise(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 1),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1),
        "max": round(ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--volunteers", type=int, default=60)
    parser.add_argument("--yes", type=float, default=0.6)
    parser.add_argument("--no", type=float, default=0.15)
    parser.add_argument("--median-s", type=float, default=45.0)
    parser.add_argument("--horizon-s", type=float, default=3600.0)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    policy = Policy(runcards=load_runcards(DEFAULT_RUNCARDS), max_radius_km=25.0)
    rng = random.Random(args.seed)
    results: dict[str, list[dict[str, Any]]] = {"one_per_slot": [], "broadcast": []}
    for _ in range(args.trials):
        people = population(rng, args.volunteers, args.yes, args.no, args.median_s)
        for mode in ("one_per_slot", "broadcast"):
            results[mode].append(run_trial(people, policy, mode, args.horizon_s))  # type: ignore[arg-type]
    report: dict[str, Any] = {"parameters": vars(args), "slots": 19}
    for mode, rows in results.items():
        staffed = [r["staffed_s"] for r in rows if r["staffed_s"] is not None]
        report[mode] = {
            "staffed_trials": len(staffed),
            "time_to_staffed_s": summarise(staffed) if staffed else None,
            "offers_sent": summarise([r["offers"] for r in rows]),
            "told_filled": summarise([r["withdrawn"] for r in rows]),
            "max_filled": max(r["filled"] for r in rows),
        }
    text = json.dumps(report, indent=2)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
