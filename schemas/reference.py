"""Kota Kediri reference data: its 3 kecamatan and 46 kelurahan, with centroids.

The data file `schemas/data/kediri_wilayah.csv` comes from cahyadsn/wilayah_boundaries (MIT); its
provenance and attribution are in `schemas/data/SOURCE.md`.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class Kelurahan:
    code: str
    name: str
    kecamatan_code: str
    kecamatan_name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Kecamatan:
    code: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A south-west / north-east box in degrees."""

    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east

    @classmethod
    def parse(cls, text: str) -> BoundingBox:
        """Parse `south,west,north,east`."""
        parts = [float(p) for p in text.split(",")]
        if len(parts) != 4:
            raise ValueError("a bounding box is 'south,west,north,east'")
        box = cls(*parts)
        if not (box.south < box.north and box.west < box.east):
            raise ValueError("a bounding box needs south < north and west < east")
        return box

    def __str__(self) -> str:
        return f"{self.south},{self.west},{self.north},{self.east}"


# The city's kelurahan centroids span about -7.863..-7.775 and 111.971..112.069; the box adds a few
# kilometres so places on the city's edge are inside.
KOTA_KEDIRI_AREA = BoundingBox(south=-7.90, west=111.93, north=-7.74, east=112.11)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@cache
def _load() -> tuple[dict[str, Kelurahan], dict[str, Kecamatan]]:
    kelurahan: dict[str, Kelurahan] = {}
    kecamatan: dict[str, Kecamatan] = {}
    text = resources.files("schemas").joinpath("data/kediri_wilayah.csv").read_text("utf-8")
    for row in csv.DictReader(text.splitlines()):
        lat, lon = float(row["lat"]), float(row["lng"])
        if row["level"] == "kelurahan":
            kelurahan[row["kode"]] = Kelurahan(
                row["kode"], row["nama"], row["kode_kecamatan"], row["nama_kecamatan"], lat, lon
            )
        elif row["level"] == "kecamatan":
            kecamatan[row["kode"]] = Kecamatan(row["kode"], row["nama"], lat, lon)
    return kelurahan, kecamatan


def all_kelurahan() -> dict[str, Kelurahan]:
    """Every kelurahan of Kota Kediri by its Kemendagri code (`35.71.CC.NNNN`)."""
    return _load()[0]


def all_kecamatan() -> dict[str, Kecamatan]:
    return _load()[1]


def kelurahan(code: str) -> Kelurahan:
    """The kelurahan with this code; KeyError when there is none."""
    return _load()[0][code]


def nearest_kelurahan(lat: float, lon: float) -> Kelurahan:
    """The kelurahan whose centroid is nearest to the point (the city has no boundary polygons here)."""
    return min(_load()[0].values(), key=lambda k: haversine_km(lat, lon, k.lat, k.lon))


def map_link(lat: float, lon: float) -> str:
    """An OpenStreetMap link to the point, for messages and the board."""
    return f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map=17/{lat:.5f}/{lon:.5f}"
