"""The dispatcher's answer to BMKG alerts (DESIGN.md §6): banner, standby notices, draft incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas import reference
from schemas.api import WeatherAlertView
from schemas.events import WeatherAlertCancelled, WeatherAlertIssued, WeatherAlertUpdated
from schemas.fields import GeoPoint
from schemas.vocabulary import NotificationKind, Skill, Unit
from tests.integration.dispatcher.conftest import SEMAMPIR, Bus, Roster, Workers, eventually, volunteer

pytestmark = pytest.mark.integration
POJOK = reference.kelurahan("35.71.01.1004")
BANDAR_LOR = reference.kelurahan("35.71.01.1001")


def standby_to(bus: Bus) -> list[str]:
    return sorted(n.recipient.volunteer_id or "" for n in bus.notifications(NotificationKind.STANDBY))


async def view(roster: Roster, alert_id: str) -> WeatherAlertView | None:
    raw = await roster.redis.get(roster.keys.alert(alert_id))
    return WeatherAlertView.model_validate_json(raw) if raw else None


async def test_an_alert_puts_tagana_and_trc_on_standby_once_and_drafts_an_incident(
    bus: Bus, workers: Workers, roster: Roster
) -> None:
    pojok = GeoPoint(lat=POJOK.lat, lon=POJOK.lon)
    await bus.register(
        volunteer("home-semampir", 0.5),
        volunteer("near-semampir-now", 0.1, home=BANDAR_LOR.code),
        volunteer("off-duty", 0.5, on_duty=False),
        volunteer("trc", 0.5, unit=Unit.TRC, skills=(Skill.RAPID_ASSESSMENT,)),
        volunteer("trc-off", 0.5, unit=Unit.TRC, on_duty=False),
        volunteer("both", 0.3).model_copy(update={"units": [Unit.TAGANA, Unit.TRC]}),
        volunteer("kt", 0.3, unit=Unit.KARANG_TARUNA),
        volunteer("pojok", 0.0, home=POJOK.code, where=pojok),
    )
    workers.start()
    await roster.ready(8)
    now = datetime.now(UTC)
    alert = WeatherAlertIssued(
        alert_id="CAP-1",
        event="Hujan Lebat",
        headline="Hujan lebat disertai angin kencang",
        severity="Severe",
        urgency="Immediate",
        certainty="Observed",
        sent=now,
        expires=now + timedelta(hours=1),
        affected_kelurahan=[SEMAMPIR.code],
    )
    await bus.send("weather-alerts", alert)
    semampir_standby = ["both", "home-semampir", "near-semampir-now", "trc"]  # one notice each
    await eventually(lambda: standby_to(bus) == semampir_standby, what="standby notices")
    notice = bus.notifications(NotificationKind.STANDBY)[0]
    assert notice.context.alert_headline == alert.headline and notice.deadline == alert.expires
    banner = await eventually(lambda: view(roster, "CAP-1"), what="alert read model")
    assert banner.status == "active" and banner.affected_kelurahan == [SEMAMPIR.code]
    assert banner.draft_incident is not None
    assert (banner.draft_incident.kelurahan_code, banner.draft_incident.severity.value) == (
        SEMAMPIR.code,
        "severe",
    )
    assert await roster.redis.zscore(roster.keys.active_alerts, "CAP-1") == pytest.approx(
        alert.expires.timestamp()  # type: ignore[union-attr]
    )

    # the same alert again (a re-poll) and an update that widens it: only the newly affected hear
    await bus.send("weather-alerts", alert)
    update = WeatherAlertUpdated(
        **{
            **alert.model_dump(),
            "alert_id": "CAP-2",
            "references": ["CAP-1"],
            "affected_kelurahan": [SEMAMPIR.code, POJOK.code],
            "severity": "Moderate",
        },
    )
    await bus.send("weather-alerts", update)
    await eventually(lambda: "pojok" in standby_to(bus), what="standby to the newly affected")
    await eventually(lambda: _status(roster, "CAP-1", "expired"), what="CAP-1 superseded")
    assert standby_to(bus) == sorted([*semampir_standby, "pojok"])
    widened = (await view(roster, "CAP-2")).draft_incident  # type: ignore[union-attr]
    assert widened is not None and widened.severity.value == "moderate"  # any warning: the operator decides
    assert widened.location.lat == pytest.approx((SEMAMPIR.lat + POJOK.lat) / 2, abs=1e-6)
    assert widened.location.lon == pytest.approx((SEMAMPIR.lon + POJOK.lon) / 2, abs=1e-6)

    await bus.send("weather-alerts", WeatherAlertCancelled(alert_id="CAP-3", cancelled_alert_ids=["CAP-2"]))
    await eventually(lambda: _status(roster, "CAP-2", "cancelled"), what="cancelled")
    assert await roster.redis.zrange(roster.keys.active_alerts, 0, -1) == []

    # an earthquake felt in the city: standby like an alert; still nobody is dispatched
    quake = WeatherAlertIssued(
        alert_id="QUAKE-1",
        kind="earthquake",
        event="Gempa M5.1",
        headline="Gempa dirasakan di Kediri",
        severity="Moderate",
        urgency="Immediate",
        sent=now,
        expires=now + timedelta(hours=2),
        affected_kelurahan=[POJOK.code],
        magnitude=5.1,
    )
    await bus.send("weather-alerts", quake)
    await eventually(lambda: _status(roster, "QUAKE-1", "active"), what="quake banner")
    # the banner is stored before the notices are sent: wait for them
    await eventually(lambda: standby_to(bus).count("pojok") == 2, what="the quake's standby notice")
    assert standby_to(bus).count("pojok") == 2
    assert bus.events("dispatch-log") == [] and bus.notifications(NotificationKind.OFFER) == []
    assert await roster.status("pojok") == "available"


async def _status(roster: Roster, alert_id: str, status: str) -> bool:
    found = await view(roster, alert_id)
    return found is not None and found.status == status
