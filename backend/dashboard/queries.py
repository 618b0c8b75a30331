"""The numbers on each tier's dashboard, each one set-based SQL over the officer's area (scope in
the WHERE clause, like every list): open, overdue, escalated, supervised, times to accept and to
rectify, on-time rate per child unit, what escalated to this tier and who is on duty."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, cast, func, select
from sqlmodel import Session, col

from backend.auth.policy import Principal
from backend.escalation.clocks import TIER_ROLE, tier_path
from backend.escalation.services import on_duty
from backend.hazards.views import scoped
from backend.models import (
    TIERS,
    Enterprise,
    Event,
    Hazard,
    HazardState,
    Rectification,
    Role,
    Task,
    Tier,
    Unit,
    User,
)
from backend.tasks.queries import overdue

ROLE_TIER: dict[Role, Tier] = {role: tier for tier, role in TIER_ROLE.items()}
# What moved a hazard to a tier; a hand-down is how the street hears of it from above.
MOVES = ("hazard.escalated", "hazard.whistled", "hazard.pulled_up", "hazard.handed_down")
PERIODS = (7, 30, 90, 365)
DEFAULT_DAYS = 30
RECENT = 50
_CLOSED = (HazardState.CLOSED.value, HazardState.RETURNED.value)


def tier_of(principal: Principal) -> Tier | None:
    return ROLE_TIER.get(principal.role)


def _sum(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _seconds(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    """`later - earlier` in seconds: PostgreSQL has intervals, SQLite has Julian days."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


@dataclass(frozen=True)
class Counts:
    open: int
    overdue: int
    at_my_tier: int
    escalated: int
    supervised: int


def counts(session: Session, principal: Principal, tier: Tier, now: datetime) -> Counts:
    """One pass over the open hazards of the area."""
    stmt = scoped(
        select(
            func.count(Hazard.id),
            _sum(overdue(now)),
            _sum(Hazard.tier == tier.value),
            _sum(Hazard.escalated_at.is_not(None)),
            _sum(Hazard.supervised.is_(True)),
        ).where(Hazard.state.not_in(_CLOSED)),
        principal,
    )
    row = session.execute(stmt).one()
    return Counts(*(int(value or 0) for value in row))


@dataclass(frozen=True)
class Average:
    seconds: float | None  # None: nothing in the period
    count: int

    @property
    def hours(self) -> float | None:
        return None if self.seconds is None else self.seconds / 3600


def time_to_accept(session: Session, principal: Principal, since: datetime) -> Average:
    """Tasks of the area accepted in the period: accepted_at - created_at."""
    row = session.execute(
        select(
            func.avg(cast(_seconds(session, Task.accepted_at, Task.created_at), Float)),
            func.count(Task.id),
        ).where(
            Task.unit_path.startswith(principal.unit_path),
            Task.accepted_at.is_not(None),
            col(Task.accepted_at) >= since,
        )
    ).one()
    return Average(None if row[0] is None else float(row[0]), int(row[1]))


def time_to_rectify(session: Session, principal: Principal, since: datetime) -> Average:
    """Tasks of the area first rectified in the period: first evidence - accepted_at."""
    first = (
        select(Rectification.task_id, func.min(Rectification.at).label("first_at"))
        .group_by(Rectification.task_id)
        .subquery()
    )
    row = session.execute(
        select(
            func.avg(cast(_seconds(session, first.c.first_at, Task.accepted_at), Float)),
            func.count(Task.id),
        )
        .join(first, first.c.task_id == Task.id)
        .where(
            Task.unit_path.startswith(principal.unit_path),
            Task.accepted_at.is_not(None),
            first.c.first_at >= since,
        )
    ).one()
    return Average(None if row[0] is None else float(row[0]), int(row[1]))


@dataclass(frozen=True)
class OnTime:
    unit_id: int
    name: str
    level: str
    closed: int
    on_time: int

    @property
    def rate(self) -> float | None:
        return None if not self.closed else self.on_time / self.closed


def on_time_by_child(session: Session, principal: Principal, since: datetime) -> list[OnTime]:
    """Per unit directly below the officer's (a district's streets, the city's districts, a
    street's grids): hazards closed in the period, and how many closed by their rectify_by."""
    closed = and_(
        Hazard.unit_path.startswith(Unit.path),
        Hazard.state == HazardState.CLOSED.value,
        col(Hazard.closed_at) >= since,
    )
    rows = session.execute(
        select(
            Unit.id,
            Unit.name,
            Unit.level,
            func.count(Hazard.id),
            _sum(col(Hazard.closed_at) <= col(Hazard.rectify_by)),
        )
        .select_from(Unit)
        .outerjoin(Hazard, closed)
        .where(Unit.parent_id == principal.unit_id, Unit.active.is_(True))
        .group_by(Unit.id, Unit.name, Unit.level, Unit.path)
        .order_by(Unit.path)
    ).all()
    return [OnTime(int(r[0]), r[1], r[2], int(r[3]), int(r[4] or 0)) for r in rows]


def escalated_to(
    session: Session, principal: Principal, tier: Tier, since: datetime
) -> Sequence[Any]:
    """The moves that brought a hazard of the area to this tier, newest first, with the reason:
    automatic escalations, whistles (吹哨), pull-ups and, for the tier below, hand-downs."""
    to_tier = Event.__table__.c.data["to_tier"].as_string()  # type: ignore[attr-defined]
    return session.execute(
        scoped(
            select(
                Event,
                Hazard,
                Enterprise.name.label("enterprise_name"),
                Unit.name.label("grid_name"),
                User.display_name.label("actor"),
            )
            .join(Hazard, Hazard.id == Event.entity_id)
            .join(Unit, Unit.id == Hazard.grid_id)
            .outerjoin(Enterprise, Enterprise.id == Hazard.enterprise_id)
            .outerjoin(User, User.id == Event.actor_id)
            .where(
                Event.entity_type == "hazard",
                Event.action.in_(MOVES),
                Event.unit_path.startswith(principal.unit_path),
                Event.at >= since,
                to_tier == tier.value,
            ),
            principal,
        )
        .order_by(Event.at.desc(), Event.id.desc())
        .limit(RECENT)
    ).all()


@dataclass(frozen=True)
class Duty:
    unit_name: str
    tier: str
    people: list[str]
    mine: bool


def who_is_on_duty(session: Session, principal: Principal, tier: Tier, now: datetime) -> list[Duty]:
    """My unit, the tier above it, and the units directly below that are a tier (a district's
    streets, the city's districts)."""
    paths = [principal.unit_path]
    index = TIERS.index(tier)
    if index + 1 < len(TIERS):
        paths.insert(0, tier_path(principal.unit_path, TIERS[index + 1]))
    if index > 0:
        paths += list(
            session.execute(
                select(Unit.path)
                .where(Unit.parent_id == principal.unit_id, Unit.active.is_(True))
                .order_by(Unit.path)
            ).scalars()
        )
    duty = on_duty(session, paths, now)
    units = {
        row.path: row
        for row in session.execute(
            select(Unit.path, Unit.name, Unit.level).where(Unit.path.in_(paths))
        ).all()
    }
    ids = {user_id for people in duty.values() for user_id in people}
    names = (
        dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())
        if ids
        else {}
    )
    return [
        Duty(
            units[path].name,
            units[path].level,
            [names[user_id] for user_id in duty.get(path, []) if user_id in names],
            path == principal.unit_path,
        )
        for path in paths
        if path in units
    ]


def period_start(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)
