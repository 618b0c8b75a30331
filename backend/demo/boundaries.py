"""Plausible outlines for the demo grids, so the risk map has boundaries to draw (一张图).

The demo has no surveyed grid boundaries; each grid gets the convex hull of its enterprises'
positions, pushed out from its centre by a margin, or a small square where a grid has fewer
than three placed enterprises. Only units without a boundary are touched, so running it again
changes nothing and an outline drawn by an administrator is never replaced."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from backend.models import Enterprise, Unit, UnitLevel

MARGIN = 0.003  # degrees (~300 m): the outermost enterprise sits inside the line, not on it
HALF_SIDE = 0.006  # a lone enterprise's grid: a square ~1.3 km across

Point = tuple[float, float]  # (longitude, latitude), GeoJSON order


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def convex_hull(points: list[Point]) -> list[Point]:
    """Andrew's monotone chain; counter-clockwise, as GeoJSON wants an exterior ring."""
    unique = sorted(set(points))
    if len(unique) < 3:
        return unique
    lower: list[Point] = []
    for point in unique:
        while len(lower) >= 2 and _cross(lower[-2], lower[-1], point) <= 0:
            lower.pop()
        lower.append(point)
    upper: list[Point] = []
    for point in reversed(unique):
        while len(upper) >= 2 and _cross(upper[-2], upper[-1], point) <= 0:
            upper.pop()
        upper.append(point)
    return lower[:-1] + upper[:-1]


def outline(points: list[Point]) -> dict[str, Any]:
    """A closed GeoJSON Polygon around the points."""
    hull = convex_hull(points)
    lng = sum(p[0] for p in points) / len(points)
    lat = sum(p[1] for p in points) / len(points)
    if len(hull) < 3:
        ring = [
            (lng - HALF_SIDE, lat - HALF_SIDE),
            (lng + HALF_SIDE, lat - HALF_SIDE),
            (lng + HALF_SIDE, lat + HALF_SIDE),
            (lng - HALF_SIDE, lat + HALF_SIDE),
        ]
    else:
        ring = []
        for x, y in hull:
            dx, dy = x - lng, y - lat
            length = (dx * dx + dy * dy) ** 0.5 or 1.0
            ring.append((x + dx / length * MARGIN, y + dy / length * MARGIN))
    closed = [[round(x, 6), round(y, 6)] for x, y in [*ring, ring[0]]]
    return {"type": "Polygon", "coordinates": [closed]}


def seed_boundaries(session: Session) -> dict[str, int]:
    """Give every demo grid without a boundary one; returns how many were drawn (none: {})."""
    grids = session.execute(
        select(Unit).where(Unit.level == UnitLevel.GRID, col(Unit.boundary).is_(None))
    ).scalars()
    missing = {grid.id: grid for grid in grids}
    if not missing:
        return {}
    positions: dict[int, list[Point]] = defaultdict(list)
    rows = session.execute(
        select(Enterprise.grid_id, Enterprise.longitude, Enterprise.latitude).where(
            col(Enterprise.grid_id).in_(missing),
            col(Enterprise.longitude).is_not(None),
            col(Enterprise.latitude).is_not(None),
        )
    ).all()
    for grid_id, lng, lat in rows:
        positions[grid_id].append((float(lng), float(lat)))
    drawn = 0
    for grid_id, grid in missing.items():
        if positions[grid_id]:
            grid.boundary = outline(positions[grid_id])
            session.add(grid)
            drawn += 1
    session.flush()
    return {"grid_boundaries": drawn} if drawn else {}
