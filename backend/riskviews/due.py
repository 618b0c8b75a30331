"""Supervision plan (监管计划): the enterprises due or overdue for inspection in the viewer's area.

The due date itself is the risk profile's (`inspection_due_at`, from the colour's interval,
backend/risk/); this module only selects and orders. The phone does the same from its synced
copy (pwa/static/js/due.js), so the ordering rule is written out here, once, and mirrored there:
nearest first when the position is known, otherwise most overdue first; ties by due date, id."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlmodel import Session, col

from backend.auth.policy import Principal, can_check_in
from backend.models import Enterprise, RiskProfile, Unit
from backend.models.base import UTCDateTime

# "Due" includes what falls due within this many days, so a week's round can be planned.
DUE_WITHIN_DAYS = 7
LIMIT = 200
EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class Position:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class DueItem:
    enterprise_id: int
    name: str
    industry: str
    grid_name: str
    colour: str
    due_at: datetime
    overdue_days: int  # > 0 overdue by that many days, 0 due today, < 0 due in that many days
    latitude: float | None
    longitude: float | None
    distance_m: float | None = None


def can_see_due(principal: Principal) -> bool:
    """Whoever checks in at enterprises (inspectors, street and district officers) has a plan."""
    return not principal.is_enterprise and can_check_in(principal)


def distance_m(a: Position, latitude: float, longitude: float) -> float:
    """Haversine distance: plenty for ordering a grid's enterprises."""
    rad = math.pi / 180
    dp = (latitude - a.latitude) * rad
    dl = (longitude - a.longitude) * rad
    h = math.sin(dp / 2) ** 2 + math.cos(a.latitude * rad) * math.cos(latitude * rad) * (
        math.sin(dl / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def overdue_days(due_at: datetime, now: datetime) -> int:
    """Whole days past due (negative: days left); a due time later today counts as today."""
    return math.floor((now - due_at) / timedelta(days=1))


def order_due(items: list[DueItem], position: Position | None) -> list[DueItem]:
    """Nearest first with a position (enterprises without coordinates last), else most overdue."""
    if position is None:
        return sorted(items, key=lambda item: (item.due_at, item.enterprise_id))
    placed = [
        DueItem(
            **{**item.__dict__, "distance_m": distance_m(position, item.latitude, item.longitude)}
        )
        if item.latitude is not None and item.longitude is not None
        else item
        for item in items
    ]
    return sorted(
        placed,
        key=lambda item: (
            item.distance_m is None,
            item.distance_m or 0.0,
            item.due_at,
            item.enterprise_id,
        ),
    )


# Built once: a request only binds the viewer's unit path, the horizon and the limit. Building
# and cache-keying the statement on each request cost more than running it (home page: the due
# glance 0.39 -> ~0.2 ms CPU in process). The window count rides along for the home page's glance.
_DUE = (
    select(
        Enterprise.id,
        Enterprise.name,
        Enterprise.industry,
        Unit.name,
        RiskProfile.colour,
        RiskProfile.inspection_due_at,
        Enterprise.latitude,
        Enterprise.longitude,
        func.count().over().label("total"),
    )
    .join(Unit, Unit.id == Enterprise.grid_id)
    .join(RiskProfile, RiskProfile.enterprise_id == Enterprise.id)
    .where(
        col(Unit.path).startswith(bindparam("scope")),
        Enterprise.active.is_(True),
        col(RiskProfile.inspection_due_at).is_not(None),
        col(RiskProfile.inspection_due_at) <= bindparam("horizon", type_=UTCDateTime()),
    )
    .order_by(RiskProfile.inspection_due_at, Enterprise.id)
    .limit(bindparam("limit"))
)


def _due(session: Session, principal: Principal, now: datetime, limit: int) -> Sequence[Any]:
    """Active enterprises of the area whose inspection is due by now + DUE_WITHIN_DAYS, most
    overdue first: only the columns a DueItem needs, read as rows (no Enterprise entities)."""
    if not can_see_due(principal):
        return []  # an enterprise officer has no area, and no plan
    params = {
        "scope": principal.unit_path,
        "horizon": now + timedelta(days=DUE_WITHIN_DAYS),
        "limit": limit,
    }
    return session.connection().execute(_DUE, params).all()


def _as_items(rows: Sequence[Any], now: datetime) -> list[DueItem]:
    return [
        DueItem(
            enterprise_id=int(enterprise_id),
            name=name,
            industry=industry,
            grid_name=grid_name,
            colour=colour,
            due_at=due_at,
            overdue_days=overdue_days(due_at, now),
            latitude=latitude,
            longitude=longitude,
        )
        for enterprise_id, name, industry, grid_name, colour, due_at, latitude, longitude, *_ in rows
    ]


def due_list(
    session: Session, principal: Principal, now: datetime, position: Position | None = None
) -> list[DueItem]:
    """What is due in the area, ordered for the round (order_due), at most LIMIT of it."""
    return order_due(_as_items(_due(session, principal, now, LIMIT), now), position)


@dataclass(frozen=True)
class DueSummary:
    """The home page's glance at the plan: how many are due, and the most overdue few."""

    count: int
    first: list[DueItem]


def due_summary(session: Session, principal: Principal, now: datetime, shown: int) -> DueSummary:
    """The first `shown` and the count of all, in one query."""
    rows = _due(session, principal, now, shown)
    return DueSummary(rows[0].total if rows else 0, _as_items(rows, now))
