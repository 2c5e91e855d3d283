"""A known month of events (November 2026, WIB) and the figures worked out by hand from it.

Incidents (reported, WIB):
- A  3 Nov 08:00 flood/severe, Manisrenggo (Kota); needs Tagana ×2, TRC ×1. V-1 and V-2 accept; V-3
     lets the offer expire (08:03:20), answers by link at 08:04 (late, ignored), and the ops room takes
     her at 08:06 (accepted); V-4 declines. Staffed 08:06; closed 13:00. Two kaji cepat (09:00, 11:00)
     and one on 4 Nov.
- B  3 Nov 14:00 fire/moderate, Bandar Lor (Mojoroto); Tagana ×1, TRC ×1. V-1 again (a volunteer in two
     incidents on one day); V-2's offer expires without an answer. Closed 16:30, never staffed.
- C 10 Nov 22:00 whirlwind/extreme, Pakunden (Pesantren); run card (Tagana evacuation ×1). V-3 on scene
     from 22:20 and never released: capped at 12 h after her accept (22:03 → 11 Nov 10:03).
- D 20 Nov 09:00 flood/minor, Jagalan (Kota); Tagana ×2. V-4 accepts at 09:01, the incident is
     cancelled at 09:10 before he set out (no deployment); V-1's offer is withdrawn.
- E 31 Oct 20:00 flood/moderate, Dermo (Mojoroto); V-2 on duty until 1 Nov 02:30: an October
  deployment whose 1 November counts as a deployment day in November.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.times import WIB
from services.gateway.reports.events import ReportEvent

MANISRENGGO, BANDAR_LOR, PAKUNDEN, JAGALAN, DERMO = (
    "35.71.02.1015",
    "35.71.01.1001",
    "35.71.03.1002",
    "35.71.02.1011",
    "35.71.01.1009",
)
KELURAHAN_POINT = {
    MANISRENGGO: {"lat": -7.8236, "lon": 112.0147},
    BANDAR_LOR: {"lat": -7.8079, "lon": 111.9942},
    PAKUNDEN: {"lat": -7.8352, "lon": 112.0326},
    JAGALAN: {"lat": -7.8154, "lon": 112.0165},
    DERMO: {"lat": -7.8325, "lon": 111.9904},
}
NOW = "2026-12-05 00:00:00"
RUN_CARD = {("whirlwind", "extreme"): [("tagana", "evacuation", 1)]}


def t(text: str) -> float:
    """`2026-11-03 08:00:20` in WIB → epoch seconds."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=WIB).timestamp()


def needs_for(incident_type: str, severity: str) -> list[tuple[str, str | None, int]]:
    return RUN_CARD[(incident_type, severity)]


class Log:
    def __init__(self) -> None:
        self.events: list[ReportEvent] = []
        self._n = 0

    def add(self, topic: str, event_type: str, at: str, payload: dict[str, Any]) -> None:
        self._n += 1
        self.events.append(ReportEvent(topic, f"ev-{self._n:04d}", event_type, t(at), payload))

    def volunteer(self, vid: str, name: str, unit: str, at: str, units: list[str] | None = None) -> None:
        profile: dict[str, Any] = {
            "volunteer_id": vid,
            "name": name,
            "phone": "+6281234567" + vid[-3:].replace("-", "0"),
            "unit": unit,
            "skills": ["evacuation"],
            "home_kelurahan_code": MANISRENGGO,
            "channels": [{"type": "outbox", "address": vid}],
            "on_duty": True,
        }
        if units:
            profile["units"] = units  # issue 19's field; reports read it when present
        self.add("volunteers", "volunteer.registered", at, {"profile": profile})

    def reported(  # noqa: PLR0917 - the event's fields in story order
        self, iid: str, at: str, kind: str, severity: str, kel: str, needs: list[tuple[str, str | None, int]]
    ) -> None:
        self.add(
            "incidents",
            "incident.reported",
            at,
            {
                "incident_id": iid,
                "type": kind,
                "severity": severity,
                "title": f"Kejadian {iid}",
                "location": KELURAHAN_POINT[kel],
                "kelurahan_code": kel,
                "needs": [{"unit": u, "skill": s, "count": c} for u, s, c in needs],
            },
        )

    def status(self, iid: str, at: str, status: str) -> None:
        self.add("dispatch-log", "incident.status_changed", at, {"incident_id": iid, "status": status})

    def offer(  # noqa: PLR0917 - the event's fields in story order
        self, oid: str, iid: str, vid: str, need: int, unit: str, at: str, skill: str | None = None
    ) -> None:
        expires = datetime.fromtimestamp(t(at) + 180, WIB).isoformat()
        self.add(
            "dispatch-log",
            "offer.made",
            at,
            {
                "offer_id": oid,
                "incident_id": iid,
                "volunteer_id": vid,
                "need_index": need,
                "unit": unit,
                "skill": skill,
                "distance_km": 1.5,
                "expires_at": expires,
            },
        )

    def answer(self, topic: str, kind: str, oid: str, iid: str, vid: str, at: str, via: str = "link") -> None:  # noqa: PLR0917 - the event's fields in story order
        payload: dict[str, Any] = {"offer_id": oid, "incident_id": iid, "volunteer_id": vid}
        if kind in ("offer.accepted", "offer.declined"):
            payload["via"] = via
        if kind == "offer.withdrawn":
            payload["reason"] = "cancelled"
        self.add(topic, kind, at, payload)

    def step(self, oid: str, iid: str, vid: str, status: str, at: str, via: str = "link") -> None:  # noqa: PLR0917 - the event's fields in story order
        self.add(
            "dispatch-log",
            "assignment.status_changed",
            at,
            {"offer_id": oid, "incident_id": iid, "volunteer_id": vid, "status": status, "via": via},
        )

    def assessed(self, iid: str, at: str, **figures: Any) -> None:
        self.add(
            "incidents",
            "incident.assessed",
            at,
            {
                "incident_id": iid,
                "assessment": {"assessed_at": datetime.fromtimestamp(t(at), WIB).isoformat(), **figures},
            },
        )


def known_month() -> list[ReportEvent]:  # noqa: PLR0915 - one month, told event by event
    log = Log()
    log.volunteer("V-001", "Siti Rahayu", "tagana", "2026-10-01 08:00:00")
    log.volunteer("V-002", "Budi Santoso", "trc", "2026-10-01 08:00:00")
    log.volunteer("V-003", "Ani Lestari", "tagana", "2026-10-01 08:00:00")
    log.volunteer(
        "V-004", "Dodi Prasetyo", "tagana", "2026-10-01 08:00:00", units=["tagana", "karang_taruna"]
    )
    log.volunteer("V-003", "Ani Lestari Wulandari", "tagana", "2026-11-15 08:00:00")  # renamed: latest wins

    # E: October, spilling into 1 November
    log.reported("INC-E", "2026-10-31 20:00:00", "flood", "moderate", DERMO, [("trc", None, 1)])
    log.offer("of-E1", "INC-E", "V-002", 0, "trc", "2026-10-31 20:00:30")
    log.answer("dispatch-log", "offer.accepted", "of-E1", "INC-E", "V-002", "2026-10-31 20:01:00")
    log.step("of-E1", "INC-E", "V-002", "en_route", "2026-10-31 20:02:00")
    log.step("of-E1", "INC-E", "V-002", "on_scene", "2026-10-31 20:30:00")
    log.step("of-E1", "INC-E", "V-002", "released", "2026-11-01 02:30:00")
    log.status("INC-E", "2026-11-01 03:00:00", "closed")

    # A
    log.reported(
        "INC-A",
        "2026-11-03 08:00:00",
        "flood",
        "severe",
        MANISRENGGO,
        [("tagana", None, 2), ("trc", None, 1)],
    )
    log.status("INC-A", "2026-11-03 08:00:10", "reported")
    log.status("INC-A", "2026-11-03 08:00:10", "dispatching")
    log.offer("of-A1", "INC-A", "V-001", 0, "tagana", "2026-11-03 08:00:20")
    log.offer("of-A2", "INC-A", "V-003", 0, "tagana", "2026-11-03 08:00:20")
    log.offer("of-A4", "INC-A", "V-002", 1, "trc", "2026-11-03 08:00:25")
    log.answer("responses", "offer.accepted", "of-A1", "INC-A", "V-001", "2026-11-03 08:00:59")
    log.answer("dispatch-log", "offer.accepted", "of-A1", "INC-A", "V-001", "2026-11-03 08:01:00")
    log.answer("dispatch-log", "offer.accepted", "of-A4", "INC-A", "V-002", "2026-11-03 08:02:00")
    log.answer("dispatch-log", "offer.expired", "of-A2", "INC-A", "V-003", "2026-11-03 08:03:20")
    log.offer("of-A3", "INC-A", "V-004", 0, "tagana", "2026-11-03 08:03:21")
    log.answer("responses", "offer.accepted", "of-A2", "INC-A", "V-003", "2026-11-03 08:04:00")  # late
    log.answer("responses", "offer.declined", "of-A3", "INC-A", "V-004", "2026-11-03 08:03:59")
    log.answer("dispatch-log", "offer.declined", "of-A3", "INC-A", "V-004", "2026-11-03 08:04:00")
    log.answer(
        "responses", "offer.accepted", "of-A2", "INC-A", "V-003", "2026-11-03 08:06:00", via="ops_room"
    )
    log.answer(
        "dispatch-log", "offer.accepted", "of-A2", "INC-A", "V-003", "2026-11-03 08:06:00", via="ops_room"
    )
    log.status("INC-A", "2026-11-03 08:06:00", "staffed")
    log.step("of-A1", "INC-A", "V-001", "en_route", "2026-11-03 08:05:00")
    log.step("of-A4", "INC-A", "V-002", "en_route", "2026-11-03 08:10:00")
    log.step("of-A2", "INC-A", "V-003", "en_route", "2026-11-03 08:10:00")
    log.step("of-A1", "INC-A", "V-001", "on_scene", "2026-11-03 08:20:00")
    log.step("of-A2", "INC-A", "V-003", "on_scene", "2026-11-03 08:25:00")
    log.step("of-A4", "INC-A", "V-002", "on_scene", "2026-11-03 08:30:00")
    log.assessed("INC-A", "2026-11-03 09:00:00", families=10, people=35, evacuees=20)
    log.assessed(
        "INC-A",
        "2026-11-03 11:00:00",
        families=12,
        people=40,
        houses_damaged={"light": 5, "moderate": 2, "heavy": 1},
        evacuees=25,
        injured=1,
        dead=0,
        missing=0,
        urgent_needs=["public_kitchen", "shelter"],
    )
    log.step("of-A4", "INC-A", "V-002", "released", "2026-11-03 10:30:00")
    log.step("of-A2", "INC-A", "V-003", "released", "2026-11-03 11:25:00")
    log.step("of-A1", "INC-A", "V-001", "released", "2026-11-03 12:20:00")
    log.status("INC-A", "2026-11-03 13:00:00", "closed")
    log.assessed("INC-A", "2026-11-04 09:00:00", families=15, people=50, evacuees=0)

    # B: V-001's second incident of the day
    log.reported(
        "INC-B",
        "2026-11-03 14:00:00",
        "fire",
        "moderate",
        BANDAR_LOR,
        [("tagana", None, 1), ("trc", None, 1)],
    )
    log.offer("of-B1", "INC-B", "V-001", 0, "tagana", "2026-11-03 14:00:30")
    log.offer("of-B2", "INC-B", "V-002", 1, "trc", "2026-11-03 14:00:30")
    log.answer("dispatch-log", "offer.accepted", "of-B1", "INC-B", "V-001", "2026-11-03 14:02:00")
    log.step("of-B1", "INC-B", "V-001", "en_route", "2026-11-03 14:03:00")
    log.answer("dispatch-log", "offer.expired", "of-B2", "INC-B", "V-002", "2026-11-03 14:03:30")
    log.status("INC-B", "2026-11-03 14:03:30", "understaffed")
    log.step("of-B1", "INC-B", "V-001", "on_scene", "2026-11-03 14:15:00")
    log.step("of-B1", "INC-B", "V-001", "released", "2026-11-03 16:15:00")
    log.status("INC-B", "2026-11-03 16:30:00", "closed")

    # C: run card, never released
    log.reported("INC-C", "2026-11-10 22:00:00", "whirlwind", "extreme", PAKUNDEN, [])
    log.offer("of-C1", "INC-C", "V-003", 0, "tagana", "2026-11-10 22:01:30", skill="evacuation")
    log.answer("dispatch-log", "offer.accepted", "of-C1", "INC-C", "V-003", "2026-11-10 22:03:00")
    log.status("INC-C", "2026-11-10 22:03:00", "staffed")
    log.step("of-C1", "INC-C", "V-003", "en_route", "2026-11-10 22:05:00")
    log.step("of-C1", "INC-C", "V-003", "on_scene", "2026-11-10 22:20:00")

    # D: cancelled before V-004 set out
    log.reported("INC-D", "2026-11-20 09:00:00", "flood", "minor", JAGALAN, [("tagana", None, 2)])
    log.offer("of-D1", "INC-D", "V-004", 0, "tagana", "2026-11-20 09:00:40")
    log.offer("of-D2", "INC-D", "V-001", 0, "tagana", "2026-11-20 09:00:40")
    log.answer("dispatch-log", "offer.accepted", "of-D1", "INC-D", "V-004", "2026-11-20 09:01:00")
    log.answer("dispatch-log", "offer.withdrawn", "of-D2", "INC-D", "V-001", "2026-11-20 09:10:00")
    log.step("of-D1", "INC-D", "V-004", "released", "2026-11-20 09:10:00", via="system")
    log.status("INC-D", "2026-11-20 09:10:00", "cancelled")
    return log.events
