"""The risk map's data (一张图): one scoped GeoJSON FeatureCollection of grid boundaries,
enterprises coloured by risk and hazards, filtered by industry, colour and hazard state.

Every query is bounded by the viewer's unit path in SQL; the filters only narrow that."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from backend.auth.policy import OFFICER_ROLES, Principal
from backend.errors import AppError
from backend.models import (
    RISK_COLOURS,
    Enterprise,
    Hazard,
    HazardState,
    Industry,
    RiskProfile,
    Unit,
)
from backend.units.names import unit_label

# Enough for a district at a glance; the FeatureCollection says when it was cut.
MAX_ENTERPRISES = 5000
MAX_HAZARDS = 2000
OPEN_STATES = tuple(
    state.value for state in HazardState if state not in (HazardState.CLOSED, HazardState.RETURNED)
)
UNRATED = "none"  # an enterprise without a risk profile yet


@dataclass(frozen=True)
class MapFilter:
    industry: str = ""
    colour: str = ""
    state: str = ""  # "": every open state; "none": no hazards at all


def can_view_map(principal: Principal) -> bool:
    """Street dispatchers, district and city officers (and administrators) see the map of their area."""
    return principal.role in OFFICER_ROLES


def parse_filter(industry: str, colour: str, state: str) -> MapFilter:
    """Unknown values are refused with the field named, never silently widened to "all"."""
    fields: dict[str, str] = {}
    if industry and industry not in {i.value for i in Industry}:
        fields["industry"] = "invalid"
    if colour and colour not in {*(c.value for c in RISK_COLOURS), UNRATED}:
        fields["colour"] = "invalid"
    if state and state not in {*(s.value for s in HazardState), "none"}:
        fields["state"] = "invalid"
    if fields:
        raise AppError("validation_failed", fields=fields)
    return MapFilter(industry, colour, state)


def _feature(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _point(longitude: float, latitude: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [longitude, latitude]}


def _grids(session: Session, principal: Principal, locale: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Unit.id, Unit.name, Unit.name_en, Unit.level, Unit.boundary)
        .where(
            Unit.path.startswith(principal.unit_path),
            Unit.active.is_(True),
            col(Unit.boundary).is_not(None),
        )
        .order_by(Unit.path)
    ).all()
    return [
        _feature(
            boundary,
            {
                "kind": "unit",
                "id": unit_id,
                "name": unit_label(name, name_en, locale),
                "level": level,
            },
        )
        for unit_id, name, name_en, level, boundary in rows
    ]


def _enterprise_colour_filter(stmt: Any, wanted: MapFilter) -> Any:
    if wanted.industry:
        stmt = stmt.where(Enterprise.industry == wanted.industry)
    if wanted.colour == UNRATED:
        stmt = stmt.where(col(RiskProfile.colour).is_(None))
    elif wanted.colour:
        stmt = stmt.where(RiskProfile.colour == wanted.colour)
    return stmt


def _enterprises(
    session: Session, principal: Principal, wanted: MapFilter, locale: str
) -> tuple[list[dict[str, Any]], bool]:
    open_hazards = (
        select(Hazard.enterprise_id, func.count(Hazard.id).label("open"))
        .where(col(Hazard.state).in_(OPEN_STATES))
        .group_by(Hazard.enterprise_id)
        .subquery()
    )
    stmt = (
        select(
            Enterprise.id,
            Enterprise.name,
            Enterprise.industry,
            Enterprise.latitude,
            Enterprise.longitude,
            Unit.name,
            Unit.name_en,
            RiskProfile.colour,
            RiskProfile.score,
            func.coalesce(open_hazards.c.open, 0),
        )
        .join(Unit, Unit.id == Enterprise.grid_id)
        .outerjoin(RiskProfile, RiskProfile.enterprise_id == Enterprise.id)
        .outerjoin(open_hazards, open_hazards.c.enterprise_id == Enterprise.id)
        .where(
            Unit.path.startswith(principal.unit_path),
            Enterprise.active.is_(True),
            col(Enterprise.latitude).is_not(None),
            col(Enterprise.longitude).is_not(None),
        )
    )
    stmt = _enterprise_colour_filter(stmt, wanted)
    rows = session.execute(stmt.order_by(Enterprise.id).limit(MAX_ENTERPRISES + 1)).all()
    features = [
        _feature(
            _point(lng, lat),
            {
                "kind": "enterprise",
                "id": eid,
                "name": name,
                "industry": industry,
                "grid": unit_label(grid, grid_en, locale),
                "colour": colour or UNRATED,
                "score": score,
                "open_hazards": int(open_count),
            },
        )
        for eid, name, industry, lat, lng, grid, grid_en, colour, score, open_count in rows[
            :MAX_ENTERPRISES
        ]
    ]
    return features, len(rows) > MAX_ENTERPRISES


def _hazards(
    session: Session, principal: Principal, wanted: MapFilter
) -> tuple[list[dict[str, Any]], bool]:
    if wanted.state == "none":
        return [], False
    latitude = func.coalesce(Hazard.latitude, Enterprise.latitude)
    longitude = func.coalesce(Hazard.longitude, Enterprise.longitude)
    stmt = (
        select(
            Hazard.id,
            Hazard.severity,
            Hazard.state,
            Hazard.category,
            Enterprise.name,
            latitude,
            longitude,
        )
        .outerjoin(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .outerjoin(RiskProfile, RiskProfile.enterprise_id == Hazard.enterprise_id)
        .where(
            Hazard.unit_path.startswith(principal.unit_path),
            latitude.is_not(None),
            longitude.is_not(None),
        )
    )
    states = (wanted.state,) if wanted.state else OPEN_STATES
    stmt = stmt.where(col(Hazard.state).in_(states))
    stmt = _enterprise_colour_filter(stmt, wanted)
    rows = session.execute(
        stmt.order_by(Hazard.reported_at.desc(), Hazard.id).limit(MAX_HAZARDS + 1)  # type: ignore[attr-defined]
    ).all()
    features = [
        _feature(
            _point(lng, lat),
            {
                "kind": "hazard",
                "id": hid,
                "severity": severity,
                "state": state,
                "category": category,
                "enterprise": enterprise or "",
            },
        )
        for hid, severity, state, category, enterprise, lat, lng in rows[:MAX_HAZARDS]
    ]
    return features, len(rows) > MAX_HAZARDS


def feature_collection(
    session: Session, principal: Principal, wanted: MapFilter, locale: str = "zh"
) -> dict[str, Any]:
    """Boundaries first, so the browser draws them under the points; units named in `locale`."""
    if not can_view_map(principal):
        raise AppError("forbidden")
    enterprises, more_enterprises = _enterprises(session, principal, wanted, locale)
    hazards, more_hazards = _hazards(session, principal, wanted)
    return {
        "type": "FeatureCollection",
        "features": [*_grids(session, principal, locale), *enterprises, *hazards],
        "truncated": more_enterprises or more_hazards,
    }
