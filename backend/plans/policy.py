"""The plans' rules as pure functions: which plans fit an incident, how far it reaches, which
points lie inside that reach. No database: services and tests call them alike."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

# 危化品泄漏, 火灾, 粉尘爆炸, 燃气泄漏
INCIDENT_TYPES = ("chemical_leak", "fire", "dust_explosion", "gas_leak")
# 学校, 幼儿园, 医院, 养老院
TARGET_KINDS = ("school", "kindergarten", "hospital", "nursing_home")
UNIT_LEVELS = ("grid", "street", "district", "city")
SCALES = (1, 2, 3, 4)  # 一般, 较大, 重大, 特别重大 (IV … I)
MAX_RADIUS_M = 50_000
EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180


class PlanLike(Protocol):
    id: int | None
    incident_types: list[str]
    version: int
    active: bool
    base_radius_m: int
    radius_per_level_m: int


P = TypeVar("P", bound=PlanLike)


def matching(plans: Iterable[P], incident_type: str) -> list[P]:
    """The active plans written for this incident type, newest version first (the first is the
    one proposed; the commander may pick another)."""
    found = [p for p in plans if p.active and incident_type in (p.incident_types or [])]
    return sorted(found, key=lambda p: (-p.version, p.id or 0))


def radius_m(base_m: int, per_level_m: int, scale: int) -> int:
    """The affected radius: the base for scale 1, one step more per level above; capped."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}")
    return max(0, min(MAX_RADIUS_M, base_m + per_level_m * (scale - 1)))


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Box:
    south: float
    north: float
    west: float
    east: float


def bounding_box(lat: float, lon: float, radius: float) -> Box:
    """A box that holds the whole circle, for an indexed prefilter; the exact test follows.
    Widened a little so a point on the circle is never cut by rounding."""
    dlat = radius / METRES_PER_DEGREE * 1.001 + 1e-9
    # Longitude degrees shrink towards the poles; at the circle's extreme latitude they are
    # smallest, so use that latitude's cosine.
    edge = min(89.9, abs(lat) + dlat)
    dlon = radius / (METRES_PER_DEGREE * math.cos(math.radians(edge))) * 1.001 + 1e-9
    return Box(lat - dlat, lat + dlat, lon - dlon, lon + dlon)


class Located(Protocol):
    latitude: float
    longitude: float


L = TypeVar("L", bound=Located)


def inside(points: Iterable[L], lat: float, lon: float, radius: float) -> list[tuple[L, float]]:
    """The points within `radius` metres (on the circle counts), nearest first."""
    found = [(p, haversine_m(lat, lon, p.latitude, p.longitude)) for p in points]
    return sorted(((p, d) for p, d in found if d <= radius), key=lambda pair: pair[1])


def ancestor_path(unit_path: str, level: str) -> str:
    """The path of the unit at `level` above (or at) a unit: city, district, street or grid."""
    depth = {"city": 1, "district": 2, "street": 3, "grid": 4}[level]
    parts = [part for part in unit_path.split("/") if part]
    return "/" + "/".join(parts[:depth]) + "/"


def similar_order(
    candidates: Sequence[tuple[str, float, float, float]], lat: float, lon: float, limit: int = 5
) -> list[tuple[str, float]]:
    """Past incidents (id, lat, lon, age in seconds) of the same type: nearest first, then most
    recent; returns (id, distance in metres)."""
    scored = [(i, haversine_m(lat, lon, la, lo), age) for i, la, lo, age in candidates]
    scored.sort(key=lambda row: (round(row[1] / 1000), row[2]))  # by km, then recency
    return [(i, d) for i, d, _ in scored[:limit]]
