"""BMKG earthquake reports (autogempa, gempaterkini, gempadirasakan; JSON or XML) and the rule that
decides whether one concerns Kota Kediri. No I/O.

JSON: `{"Infogempa": {"gempa": {…} | [{…}, …]}}`; XML: `<Infogempa><gempa>…</gempa>…` with the same
field names. `Magnitude` is a string, `Coordinates` is "lat,lon", `DateTime` is UTC; list entries may
lack `Dirasakan`, `Potensi` or `Shakemap`. An earthquake is city-wide: a relevant one affects all 46
kelurahan.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

from schemas.events import WeatherAlertIssued
from schemas.fields import GeoPoint
from schemas.reference import haversine_km
from schemas.vocabulary import Language
from services.gateway.bmkg.area import all_of_the_city, city_centre
from services.gateway.bmkg.errors import QuakeError
from services.gateway.bmkg.outcome import Ignored, Outcome, Produce
from services.gateway.bmkg.xmlsafe import DEFAULT_MAX_BYTES, local_name, parse_xml

SHAKEMAP_BASE = "https://data.bmkg.go.id/DataMKG/TEWS/"
MAX_ENTRIES = 500
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_LATITUDE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(LS|LU)\s*$", re.IGNORECASE)
_LONGITUDE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(BT|BB)\s*$", re.IGNORECASE)
_SHAKEMAP_FILE = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")


@dataclass(frozen=True, slots=True)
class QuakeRules:
    """When an earthquake concerns the city (SIGAP_QUAKE_* settings)."""

    min_magnitude: float = 5.0
    max_distance_km: float = 150.0
    strong_magnitude: float = 6.0  # a stronger quake is felt further away: a simple attenuation rule
    strong_distance_km: float = 300.0
    alert_ttl_s: float = 6 * 3600.0  # the banner's life; older reports are ignored
    felt_pattern: str = r"\bkediri\b"


DEFAULT_RULES = QuakeRules()


@dataclass(frozen=True, slots=True)
class Quake:
    time: datetime  # UTC
    magnitude: float
    lat: float
    lon: float
    depth_km: float | None = None
    region: str = ""
    potential: str = ""
    felt: str = ""
    shakemap: str = ""
    local_time: str = ""

    @property
    def alert_id(self) -> str:
        return "gempa-" + self.time.strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True, slots=True)
class QuakeFeed:
    quakes: tuple[Quake, ...]
    rejected: tuple[str, ...] = ()  # entries skipped, with the reason


# --- parsing ----------------------------------------------------------------------------------


def _text(entry: Mapping[str, Any], field: str, limit: int = 1000) -> str:
    value = entry.get(field)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise QuakeError("invalid", f"{field} is a {type(value).__name__}, not text")
    return str(value).strip()[:limit]


def _float(text: str, field: str, low: float, high: float) -> float:
    match = _NUMBER.search(text)
    if match is None:
        raise QuakeError("invalid", f"{field} {text[:40]!r} is not a number")
    value = float(match.group())
    if not (math.isfinite(value) and low <= value <= high):
        raise QuakeError("invalid", f"{field} {text[:40]!r} is outside {low}..{high}")
    return value


def _pair(text: str, field: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise QuakeError("invalid", f"{field} {text[:40]!r} is not 'lat,lon'")
    return _float(parts[0], field, -90, 90), _float(parts[1], field, -180, 180)


def _position(entry: Mapping[str, Any]) -> tuple[float, float]:
    coordinates = _text(entry, "Coordinates")
    if coordinates:
        return _pair(coordinates, "Coordinates")
    lat_text, lon_text = _text(entry, "Lintang"), _text(entry, "Bujur")
    lat_match, lon_match = _LATITUDE.match(lat_text), _LONGITUDE.match(lon_text)
    if lat_match and lon_match:
        lat = float(lat_match.group(1)) * (-1 if lat_match.group(2).upper() == "LS" else 1)
        lon = float(lon_match.group(1)) * (-1 if lon_match.group(2).upper() == "BB" else 1)
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            return lat, lon
    point = _text(entry, "point.coordinates")
    if point:
        return _pair(point, "point/coordinates")
    raise QuakeError("invalid", "no usable position (Coordinates, or Lintang and Bujur)")


def _time(entry: Mapping[str, Any]) -> datetime:
    text = _text(entry, "DateTime")
    if not text:
        raise QuakeError("invalid", "DateTime is missing")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise QuakeError("invalid", f"DateTime {text[:40]!r} is not an ISO date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # BMKG documents DateTime as UTC
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise QuakeError("invalid", f"DateTime {text[:40]!r} is out of range") from None


def parse_quake_entry(entry: Any) -> Quake:
    """One `gempa` object; QuakeError naming the field that is missing or wrong."""
    if not isinstance(entry, Mapping):
        raise QuakeError("invalid", f"a gempa entry is a {type(entry).__name__}, not an object")
    magnitude_text = _text(entry, "Magnitude")
    if not magnitude_text:
        raise QuakeError("invalid", "Magnitude is missing")
    depth_text = _text(entry, "Kedalaman")
    lat, lon = _position(entry)
    return Quake(
        time=_time(entry),
        magnitude=_float(magnitude_text, "Magnitude", 0, 10),
        lat=lat,
        lon=lon,
        depth_km=_float(depth_text, "Kedalaman", 0, 1000) if depth_text else None,
        region=_text(entry, "Wilayah", 300),
        potential=_text(entry, "Potensi", 300),
        felt=_text(entry, "Dirasakan", 1000),
        shakemap=_text(entry, "Shakemap", 100),
        local_time=f"{_text(entry, 'Tanggal', 40)} {_text(entry, 'Jam', 40)}".strip(),
    )


def _feed(entries: Any) -> QuakeFeed:
    if isinstance(entries, Mapping):
        return QuakeFeed((parse_quake_entry(entries),))  # autogempa: one report, nothing else to use
    if not isinstance(entries, list):
        raise QuakeError("invalid", f"Infogempa.gempa is a {type(entries).__name__}, not an object or list")
    if len(entries) > MAX_ENTRIES:
        raise QuakeError("invalid", f"the list has {len(entries)} entries, the limit is {MAX_ENTRIES}")
    quakes: list[Quake] = []
    rejected: list[str] = []
    for index, entry in enumerate(entries, start=1):
        try:
            quakes.append(parse_quake_entry(entry))
        except QuakeError as exc:
            rejected.append(f"entry {index}: {exc.reason}")
    return QuakeFeed(tuple(quakes), tuple(rejected))


def parse_quake_json(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> QuakeFeed:
    """autogempa.json / gempaterkini.json / gempadirasakan.json."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise QuakeError("too_large", f"document is {len(raw)} bytes, the limit is {max_bytes}")
    try:
        document = orjson.loads(raw)  # bounded nesting depth, unlike json.loads
    except orjson.JSONDecodeError as exc:
        raise QuakeError("not_json", f"not JSON: {exc}") from None
    info = document.get("Infogempa") if isinstance(document, dict) else None
    if not isinstance(info, dict) or "gempa" not in info:
        raise QuakeError("invalid", 'expected {"Infogempa": {"gempa": …}}')
    return _feed(info["gempa"])


def parse_quake_xml(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> QuakeFeed:
    """autogempa.xml / gempaterkini.xml / gempadirasakan.xml (parsed with defusedxml)."""
    root = parse_xml(data, max_bytes=max_bytes, error=QuakeError)
    if local_name(root.tag) != "Infogempa":
        raise QuakeError("invalid", f"the root element is <{local_name(root.tag)[:40]}>, not <Infogempa>")
    entries: list[dict[str, str]] = []
    for gempa in (child for child in root if local_name(child.tag) == "gempa"):
        entry: dict[str, str] = {}
        for field in gempa:
            name = local_name(field.tag)
            if name == "point":
                coordinates = next((c for c in field if local_name(c.tag) == "coordinates"), None)
                if coordinates is not None:
                    entry["point.coordinates"] = (coordinates.text or "").strip()
            else:
                entry[name] = (field.text or "").strip()
        entries.append(entry)
    if not entries:
        raise QuakeError("invalid", "<Infogempa> has no <gempa>")
    return _feed(entries[0] if len(entries) == 1 else entries)


def parse_quake(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> QuakeFeed:
    """JSON or XML, whichever the document is."""
    head = data.lstrip()[:1] if isinstance(data, str) else data.lstrip()[:1].decode("latin-1")
    if head == "<":
        return parse_quake_xml(data, max_bytes=max_bytes)
    return parse_quake_json(data, max_bytes=max_bytes)


# --- rules ------------------------------------------------------------------------------------


def distance_km(quake: Quake) -> float:
    """From the epicentre to the centre of Kota Kediri."""
    lat, lon = city_centre()
    return haversine_km(quake.lat, quake.lon, lat, lon)


def _severity(magnitude: float) -> Literal["Extreme", "Severe", "Moderate", "Minor"]:
    if magnitude >= 7.0:
        return "Extreme"
    if magnitude >= 6.0:
        return "Severe"
    if magnitude >= 5.0:
        return "Moderate"
    return "Minor"


def _description(quake: Quake, distance: float) -> str:
    parts = [quake.region or f"Pusat gempa {quake.lat:.2f}, {quake.lon:.2f}"]
    if quake.depth_km is not None:
        parts.append(f"kedalaman {quake.depth_km:g} km")
    parts.append(f"{distance:.0f} km dari Kota Kediri")
    text = ", ".join(parts) + "."
    if quake.felt:
        text += f" Dirasakan: {quake.felt}."
    if quake.potential:
        text += f" {quake.potential}."
    return text


def assess_quake(quake: Quake, *, now: datetime, rules: QuakeRules = DEFAULT_RULES) -> Outcome:
    """Relevant when felt in Kediri, or strong enough for its distance; then it affects the whole city."""
    ident = quake.alert_id
    expires = quake.time + timedelta(seconds=rules.alert_ttl_s)
    if expires <= now:
        return Ignored(ident, "expired", f"happened at {quake.time.isoformat()}, too long ago to alert")
    distance = distance_km(quake)
    felt_here = bool(quake.felt and re.search(rules.felt_pattern, quake.felt, re.IGNORECASE))
    near_enough = (quake.magnitude >= rules.min_magnitude and distance <= rules.max_distance_km) or (
        quake.magnitude >= rules.strong_magnitude and distance <= rules.strong_distance_km
    )
    if not (felt_here or near_enough):
        return Ignored(
            ident,
            "elsewhere",
            f"M{quake.magnitude:.1f} at {distance:.0f} km from Kota Kediri, not reported felt there",
        )
    city = all_of_the_city()
    shakemap = SHAKEMAP_BASE + quake.shakemap if _SHAKEMAP_FILE.match(quake.shakemap) else ""
    payload = WeatherAlertIssued(
        alert_id=ident,
        kind="earthquake",
        sender="BMKG",
        language=Language.ID,
        event="Gempabumi",
        headline=f"Gempabumi M{quake.magnitude:.1f}, {distance:.0f} km dari Kota Kediri",
        description=_description(quake, distance)[:4000],
        severity=_severity(quake.magnitude),
        urgency="Immediate",
        certainty="Observed",
        sent=quake.time,
        effective=quake.time,
        expires=expires,
        affected_kelurahan=list(city.kelurahan),
        affected_kecamatan=list(city.kecamatan),
        web=shakemap,
        magnitude=quake.magnitude,
        depth_km=quake.depth_km,
        epicentre=GeoPoint(lat=quake.lat, lon=quake.lon),
        distance_km=round(distance, 1),
        felt=quake.felt,
    )
    return Produce(ident, "issued", payload, f"{ident}:Alert", city)
