"""The BMKG fixtures (tests/fixtures/bmkg/, see SOURCE.md there) and documents derived from them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from schemas.reference import all_kelurahan

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bmkg"

GORONTALO = "cap_id_gorontalo_2026-09-24.xml"
KEDIRI = "cap_id_kediri_SYNTHETIC.xml"
KEDIRI_EN = "cap_en_kediri_SYNTHETIC.xml"
KEDIRI_UPDATE = "cap_id_kediri_update_SYNTHETIC.xml"
KEDIRI_CANCEL = "cap_id_kediri_cancel_SYNTHETIC.xml"
RSS = "nowcast_rss_id_2026-09-24.xml"
AUTOGEMPA = "autogempa_2026-09-23.json"
AUTOGEMPA_XML = "autogempa_SYNTHETIC.xml"
GEMPATERKINI = "gempaterkini_2026-09-22.json"

KEDIRI_ID = "2.49.0.1.360.0.2026.01.15.08.35.001"
KEDIRI_UPDATE_ID = "2.49.0.1.360.0.2026.01.15.08.35.002"
KEDIRI_CANCEL_ID = "2.49.0.1.360.0.2026.01.15.08.35.003"
GORONTALO_ID = "2.49.0.1.360.0.2026.09.24.07.75.002"

MOJOROTO, KOTA, PESANTREN = "35.71.01", "35.71.02", "35.71.03"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def codes_of(*kecamatan: str) -> list[str]:
    return sorted(k.code for k in all_kelurahan().values() if k.kecamatan_code in kecamatan)


def _wib(moment: datetime) -> str:
    return (moment + timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%S+07:00")


def shifted(name: str, now: datetime, *, identifier_suffix: str = "") -> bytes:
    """A synthetic Kediri document (alert, update or cancel) moved in time so it is current at `now`:
    sent 20 minutes ago, effective 10 minutes ago, expiring in 2 hours. `identifier_suffix` makes the
    identifiers (and references) unique to one test."""
    text = read(name).decode()
    stamps = {
        "2026-01-15T15:10:00+07:00": _wib(now - timedelta(minutes=20)),
        "2026-01-15T15:20:00+07:00": _wib(now - timedelta(minutes=10)),
        "2026-01-15T15:40:00+07:00": _wib(now - timedelta(minutes=5)),
        "2026-01-15T16:05:00+07:00": _wib(now - timedelta(minutes=1)),
        "2026-01-15T17:30:00+07:00": _wib(now + timedelta(hours=2)),
        "2026-01-15T18:00:00+07:00": _wib(now + timedelta(hours=3)),
    }
    for old, new in stamps.items():
        text = text.replace(old, new)
    if identifier_suffix:
        for ident in (KEDIRI_ID, KEDIRI_UPDATE_ID, KEDIRI_CANCEL_ID):
            text = text.replace(ident, ident + identifier_suffix)
    return text.encode()


def quake_json(
    moment: datetime, *, lat: float, lon: float, magnitude: float, felt: str | None = None
) -> bytes:
    """An autogempa.json document for a quake at `moment` (UTC)."""
    entry = {
        "Tanggal": moment.strftime("%d %b %Y"),
        "Jam": (moment + timedelta(hours=7)).strftime("%H:%M:%S WIB"),
        "DateTime": moment.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "Coordinates": f"{lat:.2f},{lon:.2f}",
        "Lintang": f"{abs(lat):.2f} {'LS' if lat < 0 else 'LU'}",
        "Bujur": f"{abs(lon):.2f} BT",
        "Magnitude": f"{magnitude:.1f}",
        "Kedalaman": "10 km",
        "Wilayah": "Pusat gempa berada di laut 90 km BaratDaya Kab. Blitar",
        "Potensi": "Tidak berpotensi tsunami",
    }
    if felt is not None:
        entry["Dirasakan"] = felt
    return json.dumps({"Infogempa": {"gempa": entry}}).encode()
