"""Kota Kediri reference data and the nearest-kelurahan lookup."""

from __future__ import annotations

import pytest

from schemas.reference import all_kecamatan, all_kelurahan, haversine_km, kelurahan, nearest_kelurahan


def test_the_city_has_3_kecamatan_and_46_kelurahan() -> None:
    assert sorted(k.name for k in all_kecamatan().values()) == ["Kota", "Mojoroto", "Pesantren"]
    assert len(all_kelurahan()) == 46
    per_kecamatan = dict.fromkeys(("Mojoroto", "Kota", "Pesantren"), 0)
    for kel in all_kelurahan().values():
        per_kecamatan[kel.kecamatan_name] += 1
    assert per_kecamatan == {"Mojoroto": 14, "Kota": 17, "Pesantren": 15}


def test_nearest_kelurahan_of_a_centroid_is_itself() -> None:
    for kel in all_kelurahan().values():
        assert nearest_kelurahan(kel.lat, kel.lon).code == kel.code


def test_nearest_kelurahan_of_a_point_near_manisrenggo() -> None:
    manis = kelurahan("35.71.02.1015")
    assert manis.name == "Manisrenggo"
    assert nearest_kelurahan(manis.lat + 0.001, manis.lon - 0.001).code == manis.code


def test_unknown_code_raises() -> None:
    with pytest.raises(KeyError):
        kelurahan("35.71.09.0001")


def test_haversine_known_distance() -> None:
    # one degree of latitude is about 111.2 km
    assert haversine_km(-7.0, 112.0, -8.0, 112.0) == pytest.approx(111.19, abs=0.05)
    assert haversine_km(-7.8, 112.0, -7.8, 112.0) == 0.0
