"""The answer to a BMKG alert: banner, standby recipients, draft incident (DESIGN.md §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


def test_a_severe_immediate_alert_drafts_an_incident_at_the_first_kelurahan() -> None:
    draft = weather.draft_incident(alert())
    assert draft is not None
    assert (draft.type, draft.severity, draft.kelurahan_code) == (
        IncidentType.EXTREME_WEATHER,
        Severity.SEVERE,
        SEMAMPIR,
    )
    assert abs(draft.location.lat - -7.7981) < 0.001
    assert "Semampir" in draft.title and "+1 kelurahan" in draft.title
    assert draft.needs is None  # the run card applies when the ops room posts it
    flood = weather.draft_incident(alert(event="Banjir", severity="Extreme"))
    assert flood is not None and (flood.type, flood.severity) == (IncidentType.FLOOD, Severity.EXTREME)
    quake = weather.draft_incident(alert(kind="earthquake"))
    assert quake is not None and quake.type == IncidentType.EARTHQUAKE


def test_no_draft_for_milder_or_later_alerts_or_without_kelurahan() -> None:
    assert weather.draft_incident(alert(severity="Moderate")) is None
    assert weather.draft_incident(alert(urgency="Expected")) is None
    assert weather.draft_incident(alert(affected_kelurahan=[])) is None


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
