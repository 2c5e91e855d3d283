"""The dispatcher's answer to BMKG warnings and earthquakes (DESIGN.md §6). Pure.

A relevant alert gets a banner (the `WeatherAlertView` read model), standby notices to on-duty Tagana
and TRC in the affected kelurahan (TRC assesses first, so it is readied too), and a draft incident the
ops room can post with one click for any warning that touches the city (BMKG's nowcasts are rarely
"Severe": the operator decides), placed at the centroid of the affected kelurahan. It never dispatches
by itself.
"""

from __future__ import annotations

from datetime import datetime

from schemas import reference
from schemas.api import IncidentCreate, WeatherAlertView
from schemas.events import VolunteerProfile, WeatherAlertInfo
from schemas.fields import GeoPoint
from schemas.vocabulary import IncidentType, Severity, Unit

STANDBY_UNITS = (Unit.TAGANA, Unit.TRC)
_DRAFT_SEVERITY = {
    "Extreme": Severity.EXTREME,
    "Severe": Severity.SEVERE,
    "Moderate": Severity.MODERATE,
    "Minor": Severity.MINOR,
    "Unknown": Severity.MINOR,
}
_FLOOD_WORDS = ("banjir", "flood")
_ASH_WORDS = ("hujan abu", "abu vulkanik", "volcanic ash", "ash fall")


def reference_id(reference_text: str) -> str:
    """CAP `references` are `sender,identifier,sent`; BMKG's parser may pass bare identifiers."""
    parts = reference_text.split(",")
    return parts[1].strip() if len(parts) == 3 else reference_text.strip()


def thread_id(alert: WeatherAlertInfo) -> str:
    """The first alert of an update chain: a volunteer gets one standby notice per chain."""
    return reference_id(alert.references[0]) if alert.references else alert.alert_id


def is_active(alert: WeatherAlertInfo, now: datetime) -> bool:
    return alert.expires is None or alert.expires > now


def centre_of(codes: list[str]) -> tuple[GeoPoint, reference.Kelurahan] | None:
    """The centroid of the kelurahan's centroids, and the one of them nearest to it (where the draft
    incident is placed and which kelurahan it names); None when none is known."""
    places = []
    for code in codes:
        try:
            places.append(reference.kelurahan(code))
        except KeyError:
            continue
    if not places:
        return None
    lat = sum(p.lat for p in places) / len(places)
    lon = sum(p.lon for p in places) / len(places)
    nearest = min(places, key=lambda p: (reference.haversine_km(lat, lon, p.lat, p.lon), p.code))
    return GeoPoint(lat=round(lat, 6), lon=round(lon, 6)), nearest


def draft_incident(alert: WeatherAlertInfo) -> IncidentCreate | None:
    """For any alert over known kelurahan of the city: the incident the ops room may post (or not)."""
    severity = _DRAFT_SEVERITY.get(alert.severity, Severity.MINOR)
    centre = centre_of(alert.affected_kelurahan)
    if centre is None:
        return None
    location, place = centre
    text_of = f"{alert.event} {alert.headline}".lower()
    if alert.kind == "earthquake":
        incident_type = IncidentType.EARTHQUAKE
    elif any(w in text_of for w in _ASH_WORDS):
        incident_type = IncidentType.ASH_FALL
    elif any(w in text_of for w in _FLOOD_WORDS):
        incident_type = IncidentType.FLOOD
    else:
        incident_type = IncidentType.EXTREME_WEATHER
    others = len(alert.affected_kelurahan) - 1
    where = place.name + (f" +{others} kelurahan" if others else "")
    title = f"{alert.event or 'Peringatan BMKG'} — {where}"[:120]
    text = "\n\n".join(t for t in (alert.headline, alert.description) if t)
    return IncidentCreate(
        type=incident_type,
        severity=severity,
        title=title,
        description=f"{text}\n\nSumber: BMKG ({alert.alert_id})"[-2000:]
        if text
        else f"Sumber: BMKG ({alert.alert_id})",
        location=location,
        kelurahan_code=place.code,
    )


def alert_view(alert: WeatherAlertInfo, now: datetime, status: str | None = None) -> WeatherAlertView:
    return WeatherAlertView(
        alert_id=alert.alert_id,
        kind=alert.kind,
        event=alert.event,
        headline=alert.headline,
        severity=alert.severity,
        urgency=alert.urgency,
        sent=alert.sent,
        expires=alert.expires,
        affected_kelurahan=list(alert.affected_kelurahan),
        affected_kecamatan=list(alert.affected_kecamatan),
        status=status or ("active" if is_active(alert, now) else "expired"),
        draft_incident=draft_incident(alert),
    )


def standby_kelurahan(profile: VolunteerProfile, affected: set[str]) -> str | None:
    """The affected kelurahan this volunteer lives in, or is nearest to now; None when neither."""
    if profile.home_kelurahan_code in affected:
        return profile.home_kelurahan_code
    if profile.location is not None:
        near = reference.nearest_kelurahan(profile.location.lat, profile.location.lon).code
        if near in affected:
            return near
    return None


def kelurahan_of(profile: VolunteerProfile) -> set[str]:
    """The kelurahan a volunteer is indexed under for standby notices: home and nearest to now."""
    codes = {profile.home_kelurahan_code}
    if profile.location is not None:
        codes.add(reference.nearest_kelurahan(profile.location.lat, profile.location.lon).code)
    return codes
