"""Point-in-polygon and the kelurahan matching behind every weather alert."""

from __future__ import annotations

import pytest

from schemas.reference import all_kelurahan, haversine_km
from services.gateway.bmkg.area import (
    AreaError,
    Circle,
    Polygon,
    affected_kelurahan,
    all_of_the_city,
    city_centre,
    parse_circle,
    parse_polygon,
)
from tests.unit.bmkg.documents import KOTA, MOJOROTO, PESANTREN, codes_of

SQUARE = "0,0 0,10 10,10 10,0 0,0"


def test_square_contains_its_inside_and_not_its_outside() -> None:
    square = parse_polygon(SQUARE)
    assert square.contains(5, 5)
    assert not square.contains(15, 5)
    assert not square.contains(-1, -1)
    assert not square.contains(5, 10.5)


def test_unclosed_ring_is_closed() -> None:
    closed, unclosed = parse_polygon(SQUARE), parse_polygon("0,0 0,10 10,10 10,0")
    assert unclosed.ring == closed.ring
    assert unclosed.contains(5, 5)


def test_concave_polygon_excludes_its_notch() -> None:
    # a "U": the notch between the arms (lat 5..10, lon 4..6) is outside
    u_shape = parse_polygon("0,0 10,0 10,4 5,4 5,6 10,6 10,10 0,10")
    assert u_shape.contains(2, 5)  # the base
    assert u_shape.contains(8, 2)  # left arm
    assert u_shape.contains(8, 8)  # right arm
    assert not u_shape.contains(8, 5)  # the notch


def test_spaces_after_commas_are_forgiven() -> None:
    assert parse_polygon("0, 0 0, 10 10, 10 10, 0").contains(5, 5)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "distinct points"),
        ("1,1 2,2", "distinct points"),
        ("1,1 1,1 1,1 1,1", "distinct points"),
        ("0,0 1,1 2,2 0,0", "no area"),
        ("0,0 0,1 1", "not a 'lat,lon' pair"),
        ("0,0 0,1,2 1,1", "not a 'lat,lon' pair"),
        ("0,0 0,x 1,1", "not a pair of numbers"),
        ("0,0 0,inf 1,1", "not finite"),
        ("0,0 0,181 1,1", "outside"),
        ("91,0 0,1 1,1", "outside"),
    ],
)
def test_malformed_polygons_raise_area_error(text: str, reason: str) -> None:
    with pytest.raises(AreaError, match=reason):
        parse_polygon(text)


def test_too_many_points_is_refused() -> None:
    with pytest.raises(AreaError, match="limit is 3"):
        parse_polygon(SQUARE, max_points=3)


def test_circle() -> None:
    circle = parse_circle("-7.8166,112.0119 2.5")
    assert circle == Circle(-7.8166, 112.0119, 2.5)
    assert circle.contains(-7.82, 112.01)
    assert not circle.contains(-7.9, 112.1)
    for bad in ("-7.8,112.0", "-7.8,112.0 -1", "-7.8,112.0 far", "x,y 1"):
        with pytest.raises(AreaError):
            parse_circle(bad)


def test_a_polygon_around_one_centroid_affects_only_that_kelurahan() -> None:
    kemasan = all_kelurahan()["35.71.02.1010"]
    d = 0.0005  # ~50 m
    corners = [(-d, -d), (-d, d), (d, d), (d, -d)]
    ring = " ".join(f"{kemasan.lat + a},{kemasan.lon + b}" for a, b in corners)
    affected = affected_kelurahan([parse_polygon(ring)])
    assert affected.kelurahan == ("35.71.02.1010",)
    assert affected.kecamatan == ("Kota",)


def test_a_polygon_over_the_whole_region_affects_all_46() -> None:
    affected = affected_kelurahan([parse_polygon("-8.5,111.5 -8.5,112.5 -7.5,112.5 -7.5,111.5")])
    assert len(affected.kelurahan) == 46
    assert affected.kecamatan == ("Mojoroto", "Kota", "Pesantren")
    assert affected == all_of_the_city()


def test_nothing_affected_is_falsy() -> None:
    assert not affected_kelurahan([parse_polygon("0,0 0,1 1,1")])
    assert not affected_kelurahan([])


class _Exploding(Polygon):
    """A polygon whose ring must never be walked."""

    def contains(self, lat: float, lon: float) -> bool:
        raise AssertionError("walked the ring of a polygon the bounding box rules out")


def test_far_polygons_are_skipped_by_the_bounding_box() -> None:
    ring = parse_polygon("4,96 4,97 5,97 5,96").ring
    in_aceh = _Exploding(ring, south=4.0, west=96.0, north=5.0, east=97.0)
    over_kediri = _Exploding(ring, south=-8.0, west=111.9, north=-7.7, east=112.1)

    assert not affected_kelurahan([in_aceh] * 150)
    with pytest.raises(AssertionError, match="walked the ring"):
        affected_kelurahan([over_kediri])


def test_kecamatan_codes_add_up() -> None:
    assert len(codes_of(MOJOROTO)) == 14
    assert len(codes_of(KOTA)) == 17
    assert len(codes_of(PESANTREN)) == 15


def test_city_centre_is_inside_the_city() -> None:
    lat, lon = city_centre()
    assert haversine_km(lat, lon, -7.8164, 112.0119) < 5  # a few km from the town hall area
