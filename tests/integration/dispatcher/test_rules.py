"""DESIGN.md §3, rule by rule, against the real broker and Redis with a dispatcher worker subprocess.
Volunteers are placed at known distances east of the incident (Semampir, Kota Kediri)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from schemas.events import (
    IncidentStatusChanged,
    Need,
    OfferAccepted,
    OfferDeclined,
    OfferMade,
    VolunteerDutyChanged,
)
from schemas.vocabulary import IncidentStatus, NotificationKind, Skill, Unit
from services.common import links
from tests.integration.dispatcher.conftest import (
    HERE,
    Bus,
    Roster,
    Workers,
    eventually,
    incident,
    north_of,
    volunteer,
)

HERE_NORTH = north_of(HERE, 0.0)  # the 30 km volunteer is east, past the 25 km limit

pytestmark = pytest.mark.integration
SECRET = "integration-test-link-secret-0123456789"


def offered_to(bus: Bus, incident_id: str) -> list[str]:
    return [
        n.recipient.volunteer_id or ""
        for n in bus.notifications(NotificationKind.OFFER)
        if n.incident_id == incident_id
    ]


async def test_run_card_candidates_and_order(bus: Bus, workers: Workers, roster: Roster) -> None:
    """Rules 1–3: the flood/severe run card, only eligible volunteers, nearest first."""
    rescue, evac, kitchen = (Skill.WATER_RESCUE,), (Skill.EVACUATION,), (Skill.PUBLIC_KITCHEN,)
    await bus.register(
        volunteer("wr-near-uncertified", 0.2, skills=rescue, certified_until=None),
        volunteer("wr-expired", 0.3, skills=rescue, certified_until=date(2020, 1, 1)),
        volunteer("wr-1", 0.8, skills=rescue),
        volunteer("wr-2", 2.5, skills=rescue),
        volunteer("wr-3", 4.0, skills=rescue),
        volunteer("ev-off-duty", 0.1, skills=evac, on_duty=False),
        volunteer("ev-1", 1.2, skills=evac),
        volunteer("ev-2", 1.9, skills=evac),
        volunteer("ev-far", 30.0, skills=evac, where=HERE_NORTH),
        volunteer("dk-1", 0.6, skills=kitchen),
        volunteer("dk-2", 7.0, skills=kitchen),
        volunteer("dk-3", 9.0, skills=kitchen),
        volunteer("trc-wrong-skill", 0.1, unit=Unit.TRC, skills=(Skill.LOGISTICS,)),
        volunteer("trc-1", 3.3, unit=Unit.TRC, skills=(Skill.RAPID_ASSESSMENT,)),
        volunteer("karang-taruna", 0.1, unit=Unit.KARANG_TARUNA, skills=evac),
    )
    workers.start()
    await roster.ready(15)
    await bus.send("incidents", incident("INC-RC"))
    await eventually(lambda: len(offered_to(bus, "INC-RC")) == 7, what="7 offers")
    assert sorted(offered_to(bus, "INC-RC")) == ["dk-1", "dk-2", "ev-1", "ev-2", "trc-1", "wr-1", "wr-2"]
    made = {e.payload.volunteer_id: e.payload for e in bus.events("dispatch-log", "offer.made")}
    assert made["wr-1"].distance_km == pytest.approx(0.8, abs=0.01)
    assert made["dk-2"].distance_km == pytest.approx(7.0, abs=0.02)

    view = await eventually(lambda: roster.incident("INC-RC"), what="incident read model")
    assert view.status == IncidentStatus.DISPATCHING
    assert [(n.unit, n.skill, n.count, n.offered, n.open) for n in view.needs] == [
        (Unit.TAGANA, Skill.WATER_RESCUE, 2, 2, 0),
        (Unit.TAGANA, Skill.EVACUATION, 2, 2, 0),
        (Unit.TAGANA, Skill.PUBLIC_KITCHEN, 2, 2, 0),
        (Unit.TRC, Skill.RAPID_ASSESSMENT, 1, 1, 0),
    ]
    assert {a.volunteer_name for a in view.assignments} >= {"Relawan wr-1", "Relawan trc-1"}
    for vid in ("wr-1", "dk-2", "trc-1"):
        fields = await roster.fields(vid)
        assert (fields["status"], fields["incident_id"]) == ("offered", "INC-RC")
    assert await roster.status("wr-3") == "available"
    assert await roster.status("ev-off-duty") == "off_duty"

    # each offer: deadline = expiry, a signed link bound to the offer and the volunteer, the context
    offer = next(n for n in bus.notifications(NotificationKind.OFFER) if n.recipient.volunteer_id == "wr-1")
    token = (offer.context.response_url or "").rsplit("/r/", 1)[1]
    claims = links.verify(token, SECRET, datetime.now(UTC))
    assert (claims.offer_id, claims.volunteer_id, claims.incident_id) == (offer.offer_id, "wr-1", "INC-RC")
    assert offer.deadline == made["wr-1"].expires_at
    assert offer.context.skill == Skill.WATER_RESCUE and offer.context.kelurahan_code == "35.71.02.1001"
    assert [c.type for c in offer.recipient.channels] == ["outbox"]
