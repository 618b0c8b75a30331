"""Coordinates for maps on the phone: GPS gives WGS-84, Chinese map apps draw GCJ-02 (国测局坐标,
"Mars coordinates"), and the links that open the phone's map app at a place.

GCJ-02 is WGS-84 shifted by a published, deliberately irregular offset of a few hundred metres
inside mainland China and by nothing outside it. Stored positions stay WGS-84 (what phones
report and what `geo:` URIs mean, RFC 5870); a position is converted only where it leaves for an
app that expects GCJ-02."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote, urlencode

# The Krasovsky 1940 ellipsoid the offset is defined on: semi-major axis (m), eccentricity².
_AXIS = 6378245.0
_ECCENTRICITY_2 = 0.00669342162296594323
# The rough box the offset applies in (longitude, latitude); outside it, GCJ-02 is WGS-84.
_CHINA = ((72.004, 137.8347), (0.8293, 55.8271))


def in_china(longitude: float, latitude: float) -> bool:
    """Inside the box where GCJ-02 differs from WGS-84 (a box: it also takes in some neighbours,
    as every implementation of the published algorithm does)."""
    (west, east), (south, north) = _CHINA
    return west <= longitude <= east and south <= latitude <= north


def _waves(x: float) -> float:
    """The periodic terms both offsets share, in x (longitude from 105° E)."""
    return (20 * math.sin(6 * math.pi * x) + 20 * math.sin(2 * math.pi * x)) * 2 / 3


def _latitude_offset(x: float, y: float) -> float:
    """Northward offset before scaling, x and y measured from (105° E, 35° N)."""
    polynomial = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    along = (20 * math.sin(math.pi * y) + 40 * math.sin(math.pi * y / 3)) * 2 / 3
    slow = (160 * math.sin(math.pi * y / 12) + 320 * math.sin(math.pi * y / 30)) * 2 / 3
    return polynomial + _waves(x) + along + slow


def _longitude_offset(x: float, y: float) -> float:
    """Eastward offset before scaling, x and y measured from (105° E, 35° N)."""
    polynomial = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    along = (20 * math.sin(math.pi * x) + 40 * math.sin(math.pi * x / 3)) * 2 / 3
    slow = (150 * math.sin(math.pi * x / 12) + 300 * math.sin(math.pi * x / 30)) * 2 / 3
    return polynomial + _waves(x) + along + slow


def wgs84_to_gcj02(longitude: float, latitude: float) -> tuple[float, float]:
    """(longitude, latitude) as Chinese map apps draw it. Unchanged outside China."""
    if not in_china(longitude, latitude):
        return longitude, latitude
    x, y = longitude - 105.0, latitude - 35.0
    phi = math.radians(latitude)
    w = 1 - _ECCENTRICITY_2 * math.sin(phi) ** 2
    # Metres to degrees: the meridian and the parallel radius of curvature at this latitude.
    meridian = _AXIS * (1 - _ECCENTRICITY_2) / (w * math.sqrt(w))
    parallel = _AXIS / math.sqrt(w) * math.cos(phi)
    north = _latitude_offset(x, y) * 180 / (meridian * math.pi)
    east = _longitude_offset(x, y) * 180 / (parallel * math.pi)
    return longitude + east, latitude + north


@dataclass(frozen=True)
class Navigation:
    """Where a "navigate" link on a task points: the place in both systems, and the links."""

    latitude: float  # WGS-84
    longitude: float
    name: str

    @property
    def geo_uri(self) -> str:
        """RFC 5870 `geo:` (WGS-84): Android offers every installed map app. The `q=` form with
        a label drops a pin there instead of only centring the map."""
        point = f"{self.latitude:.6f},{self.longitude:.6f}"
        return f"geo:{point}?q={point}({quote(self.name, safe='')})"

    @property
    def amap_url(self) -> str:
        """AMap's (高德) URI API, route planning from where the phone is: a plain https link, no
        script. With `callnative=1` it opens the AMap app when installed and AMap's mobile web
        map otherwise, on Android and iPhone alike. `coordinate=gaode` says the position is
        GCJ-02, so it is converted here."""
        longitude, latitude = wgs84_to_gcj02(self.longitude, self.latitude)
        # `to` is "longitude,latitude,name": a comma in the name would end it early.
        name = self.name.replace(",", " ").replace("，", " ")
        query = urlencode(
            {
                "to": f"{longitude:.6f},{latitude:.6f},{name}",
                "mode": "car",
                "coordinate": "gaode",
                "callnative": "1",
                "src": "gridsafe",
            }
        )
        return f"https://uri.amap.com/navigation?{query}"


def navigation(name: str, *positions: tuple[float | None, float | None]) -> Navigation | None:
    """The first known (latitude, longitude) of `positions`, most precise first, as a place to
    navigate to; None when none is known."""
    for latitude, longitude in positions:
        if latitude is not None and longitude is not None:
            return Navigation(latitude=latitude, longitude=longitude, name=name)
    return None
