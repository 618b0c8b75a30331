"""Who a warning reaches (定向): the criteria parsed from a form, and one set-based selection.

How criteria combine:
- within one criterion the values are alternatives (any of the ticked units, any of the roles);
- units narrow everything: without them the audience is the sender's whole area;
- roles pick people in that area; industries, risk colours and "near a point" pick enterprises
  in that area (an enterprise must match every one of those given) and reach their safety
  officers;
- the two groups add up: people picked by role OR officers of the picked enterprises. With no
  role and no enterprise criterion, units alone reach everyone in them.
Whatever was asked, the result is intersected with the sender's own area: a district officer
never reaches another district. An enterprise without a risk profile has no colour and never
matches a colour criterion (it is still reached by units, roles, industry or distance).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, false, func, or_, select, true
from sqlmodel import Session

from backend.models import (
    Enterprise,
    Industry,
    PushSubscription,
    RiskColour,
    RiskProfile,
    Role,
    Unit,
    User,
)
from backend.validation import Area, decimal, identifier, position

MAX_RADIUS_KM = 50.0
EARTH_RADIUS_KM = 6371.0088
# Who may be picked by role: everyone but administrators, who run the system, not the field.
TARGET_ROLES = tuple(role.value for role in Role if role is not Role.ADMIN)
U: Table = User.__table__  # type: ignore[attr-defined]
UN: Table = Unit.__table__  # type: ignore[attr-defined]
E: Table = Enterprise.__table__  # type: ignore[attr-defined]
RP: Table = RiskProfile.__table__  # type: ignore[attr-defined]
S: Table = PushSubscription.__table__  # type: ignore[attr-defined]
INDUSTRIES = tuple(industry.value for industry in Industry)
COLOURS = tuple(colour.value for colour in RiskColour)


@dataclass(frozen=True)
class Near:
    latitude: float
    longitude: float
    radius_km: float


@dataclass(frozen=True)
class Targeting:
    unit_ids: tuple[int, ...] = ()
    roles: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    near: Near | None = None

    @property
    def picks_enterprises(self) -> bool:
        return bool(self.industries or self.colours or self.near)

    @property
    def empty(self) -> bool:
        return not (self.unit_ids or self.roles or self.picks_enterprises)

    def as_json(self) -> dict[str, Any]:
        near = self.near
        return {
            "unit_ids": list(self.unit_ids),
            "roles": list(self.roles),
            "industries": list(self.industries),
            "colours": list(self.colours),
            "near": None
            if near is None
            else {
                "latitude": near.latitude,
                "longitude": near.longitude,
                "radius_km": near.radius_km,
            },
        }


def _many(form: Mapping[str, Any], key: str) -> list[str]:
    value = form.get(key, [])
    values = value if isinstance(value, list) else [value]
    return [str(v).strip() for v in values if str(v).strip()]


def parse_targeting(form: Mapping[str, Any], area: Area) -> tuple[Targeting, dict[str, str]]:
    """The criteria of the compose form, and the errors by field (message keys); "near a point"
    must be a point inside the deployment's `area`."""
    errors: dict[str, str] = {}
    unit_ids = [identifier(u) for u in _many(form, "units")]
    if None in unit_ids:
        errors["units"] = "warnings.errors.unit"
    roles = _many(form, "roles")
    if not set(roles) <= set(TARGET_ROLES):
        errors["roles"] = "warnings.errors.role"
    industries = _many(form, "industries")
    if not set(industries) <= set(INDUSTRIES):
        errors["industries"] = "warnings.errors.industry"
    colours = _many(form, "colours")
    if not set(colours) <= set(COLOURS):
        errors["colours"] = "warnings.errors.colour"
    near = None
    texts = [str(form.get(key, "")).strip() for key in ("latitude", "longitude", "radius_km")]
    if any(texts):
        point, problems = position(texts[0], texts[1], area)
        radius = decimal(texts[2], 0, MAX_RADIUS_KM)
        if problems:
            out = "out_of_area" in problems.values()
            errors["latitude"] = "fields.out_of_area" if out else "warnings.errors.coordinate"
        if radius is None or radius <= 0:
            errors["radius_km"] = "warnings.errors.radius"
        if point is not None and radius:
            near = Near(point[0], point[1], radius)
    targeting = Targeting(
        unit_ids=tuple(sorted({u for u in unit_ids if u is not None})),
        roles=tuple(sorted(set(roles))),
        industries=tuple(sorted(set(industries))),
        colours=tuple(sorted(set(colours))),
        near=near,
    )
    if not errors and targeting.empty:
        errors["criteria"] = "warnings.errors.no_criteria"
    return targeting, errors


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(near: Near) -> tuple[float, float, float, float]:
    """South, north, west, east: a box the circle fits in, for an indexable prefilter."""
    dlat = math.degrees(near.radius_km / EARTH_RADIUS_KM)
    cos = max(math.cos(math.radians(near.latitude)), 1e-6)
    dlon = min(180.0, dlat / cos)
    return near.latitude - dlat, near.latitude + dlat, near.longitude - dlon, near.longitude + dlon


def _under(column: Any, paths: Sequence[str]) -> ColumnElement[bool]:
    return or_(*(column.startswith(path, autoescape=True) for path in paths)) if paths else false()


def _enterprises_near(session: Session, near: Near, area: ColumnElement[bool]) -> list[int]:
    south, north, west, east = bounding_box(near)
    rows = session.execute(
        select(E.c.id, E.c.latitude, E.c.longitude)
        .join(UN, UN.c.id == E.c.grid_id)
        .where(area, E.c.latitude.between(south, north), E.c.longitude.between(west, east))
    ).all()
    return [
        int(enterprise_id)
        for enterprise_id, lat, lon in rows
        if haversine_km(near.latitude, near.longitude, lat, lon) <= near.radius_km
    ]


def _chosen_paths(session: Session, targeting: Targeting) -> list[str]:
    return [
        str(path)
        for path in session.execute(
            select(UN.c.path).where(UN.c.id.in_(targeting.unit_ids))
        ).scalars()
    ]


def audience(session: Session, sender_path: str, targeting: Targeting) -> Select[Any]:
    """SELECT user id, unit path of everyone the warning reaches (active people only)."""
    paths = [sender_path]
    if targeting.unit_ids:
        # A unit outside the sender's area is dropped here, not just refused by the form.
        paths = [p for p in _chosen_paths(session, targeting) if p.startswith(sender_path)]
    area = and_(UN.c.path.startswith(sender_path, autoescape=True), _under(UN.c.path, paths))
    people: ColumnElement[bool] = false()
    if targeting.roles:
        people = U.c.role.in_(targeting.roles)
    elif not targeting.picks_enterprises:
        people = true()
    officers: ColumnElement[bool] = false()
    if targeting.picks_enterprises:
        enterprises = select(E.c.id).join(UN, UN.c.id == E.c.grid_id).where(area)
        if targeting.industries:
            enterprises = enterprises.where(E.c.industry.in_(targeting.industries))
        if targeting.colours:
            coloured = select(RP.c.enterprise_id).where(RP.c.colour.in_(targeting.colours))
            enterprises = enterprises.where(E.c.id.in_(coloured))
        if targeting.near is not None:
            nearby = _enterprises_near(session, targeting.near, area)
            enterprises = enterprises.where(E.c.id.in_(nearby))
        officers = and_(
            U.c.role == Role.ENTERPRISE_OFFICER.value, U.c.enterprise_id.in_(enterprises)
        )
    return (
        select(U.c.id, UN.c.path)
        .join(UN, UN.c.id == U.c.unit_id)
        .where(U.c.active.is_(True), area, or_(people, officers))
    )


@dataclass(frozen=True)
class Reach:
    people: int
    devices: int


def reach(session: Session, sender_path: str, targeting: Targeting) -> Reach:
    """How many people and devices (push subscriptions) a warning would reach."""
    who = audience(session, sender_path, targeting).subquery()
    people = session.execute(select(func.count()).select_from(who)).scalar_one()
    devices = session.execute(
        select(func.count(S.c.id)).where(S.c.user_id.in_(select(who.c.id)))
    ).scalar_one()
    return Reach(int(people), int(devices))


def units_outside(session: Session, sender_path: str, targeting: Targeting) -> bool:
    """Whether a chosen unit does not exist or lies outside the sender's area (refused by the
    form; `audience` would drop it anyway)."""
    if not targeting.unit_ids:
        return False
    inside = [p for p in _chosen_paths(session, targeting) if p.startswith(sender_path)]
    return len(inside) != len(targeting.unit_ids)
