"""A unit's boundary entered by an administrator as GeoJSON (e.g. exported from a GIS): checked
here, stored as a bare Polygon geometry on `unit.boundary`, recorded in the history."""

from __future__ import annotations

import json
import math
from typing import Any

from sqlmodel import Session

from backend.audit import Origin, record
from backend.auth.policy import Principal, can_administer
from backend.db import settings_of
from backend.errors import AppError
from backend.models import Unit
from backend.units.services import get_unit
from backend.validation import Area, area_of

MAX_POSITIONS = 5000
MAX_TEXT = 512 * 1024


def _refuse(code: str) -> AppError:
    return AppError("validation_failed", fields={"boundary": f"boundary.{code}"})


def _polygon_of(value: Any) -> Any:
    """The Polygon geometry in a geometry, a Feature, or a FeatureCollection of one Feature."""
    if isinstance(value, dict) and value.get("type") == "FeatureCollection":
        features = value.get("features")
        if not isinstance(features, list) or len(features) != 1:
            raise _refuse("not_polygon")
        value = features[0]
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or value.get("type") != "Polygon":
        raise _refuse("not_polygon")
    return value.get("coordinates")


def _position(value: Any, area: Area) -> list[float]:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise _refuse("position")
    if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in value):
        raise _refuse("position")
    lng, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lng) and math.isfinite(lat) and -180 <= lng <= 180 and -90 <= lat <= 90):
        raise _refuse("position")
    if not area.contains(lat, lng):
        raise AppError("validation_failed", fields={"boundary": "out_of_area"})
    return [round(lng, 7), round(lat, 7)]  # ~1 cm; the height, if any, is dropped


def parse_boundary(text: str, area: Area) -> dict[str, Any] | None:
    """GeoJSON text to a Polygon geometry inside the deployment's `area`; empty text clears the
    boundary. AppError otherwise."""
    text = text.strip()
    if not text:
        return None
    if len(text) > MAX_TEXT:
        raise _refuse("too_big")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise _refuse("not_json") from None
    rings = _polygon_of(value)
    if not isinstance(rings, list) or not rings:
        raise _refuse("ring")
    checked: list[list[list[float]]] = []
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 4:
            raise _refuse("ring")
        positions = [_position(p, area) for p in ring]
        if positions[0] != positions[-1]:
            raise _refuse("ring")
        checked.append(positions)
    if sum(len(ring) for ring in checked) > MAX_POSITIONS:
        raise _refuse("too_big")
    return {"type": "Polygon", "coordinates": checked}


def editable_unit(session: Session, principal: Principal, unit_id: int) -> Unit:
    """Administrators draw the boundaries of units in their area (others: as if it did not exist)."""
    if not can_administer(principal):
        raise AppError("forbidden")
    return get_unit(session, principal, unit_id)


def set_boundary(
    session: Session, principal: Principal, unit_id: int, text: str, origin: Origin
) -> Unit:
    unit = editable_unit(session, principal, unit_id)
    boundary = parse_boundary(text, area_of(settings_of(session)))
    if boundary == unit.boundary:
        return unit
    unit.boundary = boundary
    session.add(unit)
    record(
        session,
        origin,
        "unit.boundary_changed",
        "unit",
        unit.id,
        unit.path,
        cleared=boundary is None,
        positions=0 if boundary is None else sum(len(r) for r in boundary["coordinates"]),
    )
    session.commit()
    return unit
