"""WGS-84 → GCJ-02 against published point pairs, no shift outside China, and the links that
open a phone's map app at a task's place."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from backend.geo import Navigation, in_china, navigation, wgs84_to_gcj02

# (WGS-84 longitude, latitude) → (GCJ-02 longitude, latitude), and how close a published value
# is given: full precision from other implementations of the algorithm, 7 decimals (about 1 m
# after rounding and the map service's own rounding) from a table of city centres.
PAIRS = [
    # Beijing, Tian'anmen: wandergis/coordtransform's documented example.
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164), 1e-9),
    # 40° N 116° E: geoToolbox's test pair.
    ((116.0, 40.0), (116.006141221789, 40.001213650174), 1e-6),
    # Near Shanghai: geotool's test pair.
    ((121.0917077, 30.6107779), (121.09626935575027, 30.608604331756705), 1e-6),
    # Hubei, around Wuhan (gcoord's china-cities fixture): Jingmen, Yichang, Ezhou.
    ((112.1935849, 31.0376011), (112.1994301, 31.0354012), 1e-5),
    ((111.2808211, 30.6944096), (111.2864741, 30.6919691), 1e-5),
    ((114.8898012, 30.3946322), (114.8948492, 30.3919431), 1e-5),
    # Far west and far north-east of the same table: Jiuquan, Shenyang.
    ((98.4937175, 39.7319946), (98.4943595, 39.7328234), 1e-5),
    ((123.4253306, 41.8032629), (123.4314787, 41.8057023), 1e-5),
]


@pytest.mark.parametrize(("wgs", "gcj", "tolerance"), PAIRS)
def test_known_pairs(wgs: tuple[float, float], gcj: tuple[float, float], tolerance: float) -> None:
    longitude, latitude = wgs84_to_gcj02(*wgs)
    assert longitude == pytest.approx(gcj[0], abs=tolerance)
    assert latitude == pytest.approx(gcj[1], abs=tolerance)


def test_wuhan_moves_a_few_hundred_metres_south_east() -> None:
    """Wuhan's centre (the demo city): the shift is the one every Chinese map app draws, about
    0.0055° east and 0.0024° south, some 600 m."""
    longitude, latitude = wgs84_to_gcj02(114.3055, 30.5928)
    assert longitude - 114.3055 == pytest.approx(0.00545, abs=0.0002)
    assert latitude - 30.5928 == pytest.approx(-0.00241, abs=0.0002)


@pytest.mark.parametrize(
    "point",
    [
        (2.3522, 48.8566),  # Paris
        (-74.006, 40.7128),  # New York
        (151.2093, -33.8688),  # Sydney
        (139.9, 56.0),  # north of the box
        (71.9, 39.0),  # west of the box
    ],
)
def test_outside_china_nothing_moves(point: tuple[float, float]) -> None:
    assert not in_china(*point)
    assert wgs84_to_gcj02(*point) == point


def test_navigation_takes_the_first_known_position() -> None:
    assert navigation("厂", (None, None), (30.5, None)) is None
    chosen = navigation("厂", (None, None), (30.59, 114.30), (30.6, 114.4))
    assert chosen == Navigation(latitude=30.59, longitude=114.30, name="厂")


def test_the_links() -> None:
    place = Navigation(latitude=30.5928, longitude=114.3055, name="武汉某厂, 一号门")
    # geo: stays WGS-84 (RFC 5870), with a labelled pin.
    assert place.geo_uri == (
        "geo:30.592800,114.305500?q=30.592800,114.305500"
        "(%E6%AD%A6%E6%B1%89%E6%9F%90%E5%8E%82%2C%20%E4%B8%80%E5%8F%B7%E9%97%A8)"
    )
    # AMap gets GCJ-02 and is told so.
    url = urlsplit(place.amap_url)
    assert (url.scheme, url.netloc, url.path) == ("https", "uri.amap.com", "/navigation")
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    longitude, latitude = wgs84_to_gcj02(114.3055, 30.5928)
    assert query["to"] == f"{longitude:.6f},{latitude:.6f},武汉某厂  一号门"
    assert (query["coordinate"], query["callnative"]) == ("gaode", "1")
