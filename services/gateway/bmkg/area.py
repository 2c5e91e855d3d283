"""Which Kota Kediri kelurahan a warning area covers: point-in-polygon against the kelurahan centroids.

BMKG names kecamatan in free text (and one of Kota Kediri's kecamatan is literally "KOTA"), so areas are
matched geometrically: a kelurahan is affected when one of the alert's polygons (or circles) contains its
centroid. Pure functions, no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from schemas.errors import SigapError
from schemas.reference import Kelurahan, all_kelurahan, haversine_km

MAX_POLYGON_POINTS = 20_000
_PAIR_SPACING = re.compile(r"\s*,\s*")


class AreaError(SigapError, ValueError):
    """One malformed polygon or circle; the rest of the document is still used."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Polygon:
    """A closed ring of (lat, lon) vertices with its bounding box."""

    ring: tuple[tuple[float, float], ...]
    south: float
    west: float
    north: float
    east: float

    def in_box(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east

    def contains(self, lat: float, lon: float) -> bool:
        """Even-odd ray casting (a ray towards +lon); points exactly on an edge may go either way."""
        if not self.in_box(lat, lon):
            return False
        inside = False
        ring = self.ring
        for i in range(len(ring) - 1):
            (lat1, lon1), (lat2, lon2) = ring[i], ring[i + 1]
            if (lat1 > lat) != (lat2 > lat):
                cross_lon = lon1 + (lat - lat1) * (lon2 - lon1) / (lat2 - lat1)
                if lon < cross_lon:
                    inside = not inside
        return inside


@dataclass(frozen=True, slots=True)
class Circle:
    """A CAP circle: centre and radius in kilometres."""

    lat: float
    lon: float
    radius_km: float

    def contains(self, lat: float, lon: float) -> bool:
        return haversine_km(self.lat, self.lon, lat, lon) <= self.radius_km


Shape = Polygon | Circle


def _coordinate(token: str, what: str) -> tuple[float, float]:
    parts = token.split(",")
    if len(parts) != 2:
        raise AreaError(f"{what} {token[:40]!r} is not a 'lat,lon' pair")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise AreaError(f"{what} {token[:40]!r} is not a pair of numbers") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise AreaError(f"{what} {token[:40]!r} is not finite")
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise AreaError(f"{what} {token[:40]!r} is outside -90..90, -180..180")
    return lat, lon


def _twice_area(ring: tuple[tuple[float, float], ...]) -> float:
    return sum(ring[i][1] * ring[i + 1][0] - ring[i + 1][1] * ring[i][0] for i in range(len(ring) - 1))


def parse_polygon(text: str, *, max_points: int = MAX_POLYGON_POINTS) -> Polygon:
    """A CAP `<polygon>`: whitespace-separated "lat,lon" pairs. The ring is closed if it is not already.

    Raises AreaError for fewer than three distinct vertices, bad numbers, or a ring with no area.
    """
    tokens = _PAIR_SPACING.sub(",", text.strip()).split()
    if len(tokens) > max_points:
        raise AreaError(f"polygon has {len(tokens)} points, the limit is {max_points}")
    points = [_coordinate(t, "polygon point") for t in tokens]
    if points and points[0] != points[-1]:
        points.append(points[0])
    if len(set(points)) < 3:
        raise AreaError(f"polygon has {len(set(points))} distinct points, it needs at least 3")
    ring = tuple(points)
    if _twice_area(ring) == 0.0:
        raise AreaError("polygon has no area (its points are on one line)")
    lats = [p[0] for p in ring]
    lons = [p[1] for p in ring]
    return Polygon(ring, min(lats), min(lons), max(lats), max(lons))


def parse_circle(text: str) -> Circle:
    """A CAP `<circle>`: "lat,lon radius_km"."""
    parts = _PAIR_SPACING.sub(",", text.strip()).split()
    if len(parts) != 2:
        raise AreaError(f"circle {text[:40]!r} is not 'lat,lon radius'")
    lat, lon = _coordinate(parts[0], "circle centre")
    try:
        radius = float(parts[1])
    except ValueError:
        raise AreaError(f"circle radius {parts[1][:20]!r} is not a number") from None
    if not (math.isfinite(radius) and radius >= 0):
        raise AreaError(f"circle radius {parts[1][:20]!r} is not a distance in km")
    return Circle(lat, lon, radius)


@dataclass(frozen=True, slots=True)
class Affected:
    """The kelurahan (codes, in code order) and kecamatan (names, in code order) an alert covers."""

    kelurahan: tuple[str, ...] = ()
    kecamatan: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.kelurahan)


NOWHERE = Affected()


@dataclass(frozen=True, slots=True)
class _Places:
    items: tuple[Kelurahan, ...]
    south: float
    west: float
    north: float
    east: float


def _places(kelurahan: Mapping[str, Kelurahan]) -> _Places:
    items = tuple(sorted(kelurahan.values(), key=lambda k: k.code))
    return _Places(
        items,
        min(k.lat for k in items),
        min(k.lon for k in items),
        max(k.lat for k in items),
        max(k.lon for k in items),
    )


@cache
def _city() -> _Places:
    return _places(all_kelurahan())


def _may_touch(shape: Shape, places: _Places) -> bool:
    """Bounding-box prefilter: most polygons of a national warning are nowhere near the city."""
    if isinstance(shape, Polygon):
        return not (
            shape.north < places.south
            or shape.south > places.north
            or shape.east < places.west
            or shape.west > places.east
        )
    return True


def affected_kelurahan(shapes: Iterable[Shape], kelurahan: Mapping[str, Kelurahan] | None = None) -> Affected:
    """The kelurahan whose centroid lies inside at least one of the shapes."""
    places = _city() if kelurahan is None else _places(kelurahan)
    candidates = [s for s in shapes if _may_touch(s, places)]
    if not candidates or not places.items:
        return Affected()
    hit = [k for k in places.items if any(s.contains(k.lat, k.lon) for s in candidates)]
    kecamatan = dict.fromkeys(k.kecamatan_name for k in sorted(hit, key=lambda k: k.kecamatan_code))
    return Affected(tuple(k.code for k in hit), tuple(kecamatan))


@cache
def all_of_the_city() -> Affected:
    """Every kelurahan: earthquakes are city-wide."""
    items = _city().items
    kecamatan = dict.fromkeys(k.kecamatan_name for k in sorted(items, key=lambda k: k.kecamatan_code))
    return Affected(tuple(k.code for k in items), tuple(kecamatan))


@cache
def city_centre() -> tuple[float, float]:
    """The mean of the kelurahan centroids: where distances to an epicentre are measured from."""
    items = _city().items
    return sum(k.lat for k in items) / len(items), sum(k.lon for k in items) / len(items)
