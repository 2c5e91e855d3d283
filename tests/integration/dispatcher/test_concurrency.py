"""One worker handles many incidents at once, each incident's events in their order — against the real
broker and Redis, the worker a real subprocess. Records are produced in one burst, so the worker takes
them in large fetches and has them in flight together."""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict

import httpx
import pytest

from schemas.envelope import make_event
from schemas.events import IncidentCancelled, IncidentStatusChanged, Need, Payload
from schemas.vocabulary import Unit
from services.common.kafka import key_of
from tests.integration.dispatcher.conftest import (
    HERE,
    Bus,
    Roster,
    Workers,
    east_of,
    eventually,
    incident,
    north_of,
    volunteer,
)
from tests.integration.dispatcher.test_resilience import assert_never_overstaffed, assert_one_hold_at_a_time

pytestmark = pytest.mark.integration
TAGANA = Unit.TAGANA


async def burst(bus: Bus, topic: str, payloads: list[Payload]) -> None:
    """Produce every record without waiting for each acknowledgement: they reach the broker together."""
    name = bus.settings.topic(topic)
    pending = []
    for payload in payloads:
        event = make_event(payload, source="test")
        pending.append(await bus.producer.send(name, event.to_json(), key=key_of(event)))
    await asyncio.gather(*pending)


def log_of(bus: Bus) -> dict[str, list[str]]:
    """Each incident's dispatch log (one partition per incident, so in the order it was written)."""
    out: dict[str, list[str]] = defaultdict(list)
    for e in bus.events("dispatch-log"):
        p = e.payload
        step = f"status:{p.status.value}" if isinstance(p, IncidentStatusChanged) else e.event_type
        out[getattr(p, "incident_id", "")].append(step)
    return out


def running_peak(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    match = re.search(r'sigap_dispatcher_running_peak\{lane="incident"\} ([0-9.e+]+)', text)
    return float(match[1]) if match else 0.0


async def test_many_incidents_at_once_each_in_its_own_order(
    bus: Bus, workers: Workers, roster: Roster
) -> None:
    """40 incidents, each reported and at once cancelled, all in one burst: the worker has many of
    them in flight together, yet every cancellation comes after its own report — had one overtaken
    its report, it would have found no incident and the report would have left an offer standing."""
    n = 40
    people = [
        volunteer(f"v{i:02d}", 0.25 * (i % 10), where=north_of(HERE, 0.25 * (i // 10))) for i in range(2 * n)
    ]
    await bus.register(*people)
    worker = workers.start()
    await roster.ready(2 * n)
    ids = [f"INC-C{i:02d}" for i in range(n)]
    # report then cancel per incident, interleaved across incidents, one burst on `incidents`
    payloads: list[Payload] = []
    for i, incident_id in enumerate(ids):
        where = east_of(HERE, 0.1 * (i % 8))
        payloads.append(incident(incident_id, [Need(unit=TAGANA, count=1)], where=where))
        payloads.append(IncidentCancelled(incident_id=incident_id, reason="latihan"))
    await burst(bus, "incidents", payloads)

    expected = ["status:reported", "status:dispatching", "offer.made", "offer.withdrawn", "status:cancelled"]
    await eventually(
        lambda: all(log_of(bus)[i] == expected for i in ids), 60, "every incident offered, then cancelled"
    )
    for incident_id in ids:
        view = await eventually(
            lambda incident_id=incident_id: _cancelled_view(roster, incident_id), what=f"{incident_id} view"
        )
        assert [a.status.value for a in view.assignments] == ["withdrawn"]
    kinds = defaultdict(list)
    for note in bus.notifications():
        kinds[note.incident_id].append(note.kind.value)
    assert all(kinds[i] == ["offer", "withdrawal"] for i in ids), dict(kinds)
    for person in people:
        fields = await roster.fields(person.volunteer_id)
        assert fields["status"] == "available" and not fields.get("offer_id"), (person.volunteer_id, fields)
    assert running_peak(worker.port) >= 4, "the worker never had several incidents in flight"  # type: ignore[attr-defined]
    assert "Traceback" not in workers.logs()


async def _cancelled_view(roster: Roster, incident_id: str) -> object:
    view = await roster.incident(incident_id)
    return view if view is not None and view.status.value == "cancelled" else None


async def test_a_burst_on_one_worker_never_double_books(bus: Bus, workers: Workers, roster: Roster) -> None:
    """Rule 4 inside one worker: 30 incidents in flight together compete for 5 volunteers. Each
    volunteer holds one offer at a time; the rest of the incidents wait understaffed; when all are
    cancelled, freed volunteers go to the incidents still open, and in the end everyone is free."""
    people = [volunteer(f"w{i}", 0.3 + 0.2 * i) for i in range(5)]
    await bus.register(*people)
    worker = workers.start()
    await roster.ready(5)
    ids = [f"INC-B{i:02d}" for i in range(30)]
    await burst(bus, "incidents", [incident(i, [Need(unit=TAGANA, count=1)]) for i in ids])

    def settled() -> bool:
        log = log_of(bus)
        return sum(log[i].count("offer.made") for i in ids) == 5 and all(
            "offer.made" in log[i] or "status:understaffed" in log[i] for i in ids
        )

    await eventually(settled, 60, "5 offers, the other incidents understaffed")
    made = bus.events("dispatch-log", "offer.made")
    assert sorted(e.payload.volunteer_id for e in made) == [p.volunteer_id for p in people]  # type: ignore[attr-defined]
    held = {(await roster.fields(p.volunteer_id)).get("offer_id") for p in people}
    assert len(held) == 5 and None not in held
    assert running_peak(worker.port) >= 4  # type: ignore[attr-defined]

    await burst(bus, "incidents", [IncidentCancelled(incident_id=i, reason="latihan") for i in ids])
    await eventually(
        lambda: all(log_of(bus)[i][-1:] == ["status:cancelled"] for i in ids), 60, "every incident cancelled"
    )
    assert_one_hold_at_a_time(bus)  # asserts that no volunteer's offers overlap in time
    assert_never_overstaffed(bus, 1)

    async def all_free() -> bool:
        for p in people:
            fields = await roster.fields(p.volunteer_id)
            if fields["status"] != "available" or fields.get("offer_id"):
                return False
        return True

    await eventually(all_free, 30, "every volunteer free again")
    assert "Traceback" not in workers.logs()
