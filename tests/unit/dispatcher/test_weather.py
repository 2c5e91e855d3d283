"""The answer to a BMKG alert: banner, standby recipients, draft incident (DESIGN.md §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas import reference
from schemas.events import VolunteerProfile, WeatherAlertIssued
from schemas.fields import GeoPoint
from schemas.vocabulary import IncidentType, Severity, Unit
from services.dispatcher import weather

NOW = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
SEMAMPIR, BANDAR_LOR = "35.71.02.1001", "35.71.01.1001"


def alert(**kw: object) -> WeatherAlertIssued:
    base: dict[str, object] = {
        "alert_id": "CAP-1",
        "event": "Hujan Lebat",
        "headline": "Hujan lebat disertai petir",
        "severity": "Severe",
        "urgency": "Immediate",
        "sent": NOW,
        "expires": NOW + timedelta(hours=3),
        "affected_kelurahan": [SEMAMPIR, BANDAR_LOR],
    }
    base.update(kw)
    return WeatherAlertIssued(**base)  # type: ignore[arg-type]


def profile(home: str, location: GeoPoint | None = None) -> VolunteerProfile:
    return VolunteerProfile(
        volunteer_id="v1",
        name="Siti",
        phone="081234567890",
        unit=Unit.TAGANA,
        home_kelurahan_code=home,
        location=location,
    )


def test_a_severe_immediate_alert_drafts_an_incident_at_the_centroid_of_the_affected_kelurahan() -> None:
    draft = weather.draft_incident(alert())
    assert draft is not None
    semampir, bandar_lor = reference.kelurahan(SEMAMPIR), reference.kelurahan(BANDAR_LOR)
    assert (draft.type, draft.severity) == (IncidentType.EXTREME_WEATHER, Severity.SEVERE)
    assert draft.location.lat == pytest.approx((semampir.lat + bandar_lor.lat) / 2, abs=1e-6)
    assert draft.location.lon == pytest.approx((semampir.lon + bandar_lor.lon) / 2, abs=1e-6)
    assert draft.kelurahan_code in (SEMAMPIR, BANDAR_LOR)  # the affected one nearest that centroid
    assert "+1 kelurahan" in draft.title and "Sumber: BMKG" in draft.description
    assert draft.needs is None  # the run card applies when the ops room posts it
    flood = weather.draft_incident(alert(event="Banjir", severity="Extreme"))
    assert flood is not None and (flood.type, flood.severity) == (IncidentType.FLOOD, Severity.EXTREME)
    quake = weather.draft_incident(alert(kind="earthquake"))
    assert quake is not None and quake.type == IncidentType.EARTHQUAKE
    ash = weather.draft_incident(alert(event="Hujan abu vulkanik Gunung Kelud"))
    assert ash is not None and ash.type == IncidentType.ASH_FALL


def test_the_centroid_is_not_the_first_kelurahan_in_code_order() -> None:
    codes = sorted(reference.all_kelurahan())
    spread = [codes[0], codes[len(codes) // 2], codes[-1]]
    draft = weather.draft_incident(alert(affected_kelurahan=spread))
    assert draft is not None
    places = [reference.kelurahan(c) for c in spread]
    assert draft.location.lat == pytest.approx(sum(p.lat for p in places) / 3, abs=1e-6)
    nearest = min(
        places, key=lambda p: reference.haversine_km(draft.location.lat, draft.location.lon, p.lat, p.lon)
    )
    assert draft.kelurahan_code == nearest.code


def test_any_alert_over_the_city_drafts_an_incident_the_operator_may_post() -> None:
    moderate = weather.draft_incident(alert(severity="Moderate", urgency="Expected"))
    assert moderate is not None and moderate.severity == Severity.MODERATE  # BMKG's usual nowcast
    assert weather.draft_incident(alert(severity="Minor")).severity == Severity.MINOR  # type: ignore[union-attr]
    assert weather.draft_incident(alert(severity="Unknown")) is not None
    assert weather.draft_incident(alert(affected_kelurahan=[])) is None  # nothing of the city touched


def test_standby_goes_to_tagana_and_trc() -> None:
    assert set(weather.STANDBY_UNITS) == {Unit.TAGANA, Unit.TRC}


def test_alert_view_status() -> None:
    assert weather.alert_view(alert(), NOW).status == "active"
    assert weather.alert_view(alert(expires=NOW - timedelta(minutes=1)), NOW).status == "expired"
    assert weather.alert_view(alert(expires=None), NOW).status == "active"
    assert weather.alert_view(alert(), NOW, "cancelled").status == "cancelled"
    assert weather.alert_view(alert(), NOW).draft_incident is not None


def test_standby_goes_by_home_or_by_where_the_volunteer_is_now() -> None:
    affected = {SEMAMPIR}
    assert weather.standby_kelurahan(profile(SEMAMPIR), affected) == SEMAMPIR
    assert weather.standby_kelurahan(profile(BANDAR_LOR), affected) is None
    near_semampir = GeoPoint(lat=-7.7982, lon=112.0101)
    assert weather.standby_kelurahan(profile(BANDAR_LOR, near_semampir), affected) == SEMAMPIR
    assert weather.kelurahan_of(profile(BANDAR_LOR, near_semampir)) == {SEMAMPIR, BANDAR_LOR}


def test_updates_share_the_thread_of_the_first_alert() -> None:
    assert weather.thread_id(alert()) == "CAP-1"
    assert weather.thread_id(alert(alert_id="CAP-2", references=["CAP-1"])) == "CAP-1"
    cap_ref = "bmkg@bmkg.go.id,CAP-1,2026-01-10T08:00:00+07:00"
    assert weather.thread_id(alert(alert_id="CAP-2", references=[cap_ref])) == "CAP-1"
