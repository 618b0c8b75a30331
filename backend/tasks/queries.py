"""Scoped reads for the loop's pages: the dispatch queue, the inbox, a task's card."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, or_, select
from sqlmodel import Session, col

from backend.auth.policy import Principal
from backend.db import Paged, paged, run_page
from backend.geo import navigation
from backend.hazards.views import report_photos, scoped
from backend.models import (
    Enterprise,
    Hazard,
    HazardState,
    Incident,
    IncidentTask,
    KeyPoint,
    Rectification,
    Task,
    TaskOffer,
    TaskState,
    Tier,
    Unit,
    User,
    UTCDateTime,
    utcnow,
)
from backend.models.push import Notification
from backend.tasks import services


@dataclass(frozen=True)
class QueueFilters:
    state: str = ""
    severity: str = ""
    grid_id: int | None = None
    enterprise_id: int | None = None
    # The dashboard's links (backend/dashboard/): the lists behind its numbers.
    tier: str = ""
    overdue: bool = False
    escalated: bool = False
    supervised: bool = False
    unit_id: int | None = None
    days: int | None = None  # with `basis`: accepted / rectified / closed within the last N days
    basis: str = ""
    on_time: bool = False

    def dashboard_query(self) -> str:
        """The dashboard filters as a query string, for the pager and the refresh."""
        pairs = [
            ("tier", self.tier),
            ("overdue", "1" if self.overdue else ""),
            ("escalated", "1" if self.escalated else ""),
            ("supervised", "1" if self.supervised else ""),
            ("unit", str(self.unit_id or "")),
            ("days", str(self.days or "")),
            ("basis", self.basis),
            ("on_time", "1" if self.on_time else ""),
        ]
        return "&".join(f"{name}={value}" for name, value in pairs if value)


DASHBOARD_BASES = ("accepted", "rectified", "closed")


def dashboard_filters(params: Mapping[str, str]) -> dict[str, Any]:
    """The dashboard's filters from a query string; anything malformed is ignored."""

    def number(name: str, top: int) -> int | None:
        value = params.get(name, "")
        return int(value) if value.isdecimal() and 0 < int(value) <= top else None

    basis = params.get("basis", "")
    return {
        "tier": params.get("tier", "") if params.get("tier", "") in set(Tier) else "",
        "overdue": params.get("overdue") == "1",
        "escalated": params.get("escalated") == "1",
        "supervised": params.get("supervised") == "1",
        "unit_id": number("unit", 2_000_000_000),
        "days": number("days", 3660),
        "basis": basis if basis in DASHBOARD_BASES else "",
        "on_time": params.get("on_time") == "1",
    }


def overdue(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """Past a deadline: the escalation clock (unless suspended), or the open task's accept
    deadline, or its rectification deadline while it is being rectified."""
    late_task = (
        select(Task.id)
        .where(
            Task.hazard_id == Hazard.id,
            or_(
                and_(Task.state == TaskState.OFFERED.value, Task.accept_by <= now),
                and_(
                    Task.state == TaskState.ACCEPTED.value,
                    Task.rectify_by <= now,
                    # Evidence submitted stops the rectification clock, as in escalation.
                    Hazard.state == HazardState.RECTIFYING.value,
                ),
            ),
        )
        .exists()
    )
    clock = and_(
        col(Hazard.due_at).is_not(None), col(Hazard.due_at) <= now, Hazard.suspended.is_(False)
    )
    return or_(clock, late_task)


def within(basis: str, since: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """Hazards whose task was accepted, with evidence submitted, or which closed since `since`."""
    if basis == "accepted":
        exists: ColumnElement[bool] = (
            select(Task.id)
            .where(Task.hazard_id == Hazard.id, col(Task.accepted_at) >= since)
            .exists()
        )
        return exists
    if basis == "rectified":
        exists = (
            select(Rectification.id)
            .where(Rectification.hazard_id == Hazard.id, Rectification.at >= since)
            .exists()
        )
        return exists
    return and_(Hazard.state == HazardState.CLOSED.value, col(Hazard.closed_at) >= since)


# Waiting for the street first (new, then declined by everyone), then the rest of the loop.
_STATE_ORDER = case(
    (Hazard.state == HazardState.REPORTED.value, 0),
    (Hazard.state == HazardState.ASSIGNED.value, 1),
    (Hazard.state == HazardState.RECTIFIED.value, 2),
    (Hazard.state == HazardState.CONFIRMING.value, 3),
    (Hazard.state == HazardState.RECTIFYING.value, 4),
    else_=5,
)


def _names() -> Select[Any]:
    return (
        select(
            Hazard,
            Enterprise.name.label("enterprise_name"),
            Unit.name.label("grid_name"),
            User.display_name.label("reporter"),
        )
        .join(Unit, Unit.id == Hazard.grid_id)
        .join(User, User.id == Hazard.reported_by)
        .outerjoin(Enterprise, Enterprise.id == Hazard.enterprise_id)
    )


@dataclass(frozen=True)
class _QueueShape:
    """Which filters a queue request sets: the statement is built once per shape, with every value
    bound at execution (building a statement of this size costs more than running it)."""

    enterprise: bool  # an enterprise officer's queue: their enterprise instead of an area
    state: bool
    severity: bool
    grid: bool
    enterprise_filter: bool
    tier: bool
    overdue: bool
    escalated: bool
    supervised: bool
    unit: bool
    basis: str  # with `days`: accepted / rectified / closed within the last N days
    on_time: bool


_NOW = bindparam("now", type_=UTCDateTime())


@cache
def _queue_statements(shape: _QueueShape) -> Paged:
    # Each row says whether it is past a deadline (`late`), for the list to mark it.
    stmt = (
        _names()
        .add_columns(overdue(_NOW).label("late"))
        .where(
            Hazard.enterprise_id == bindparam("scope_enterprise")
            if shape.enterprise
            else col(Hazard.unit_path).startswith(bindparam("scope"))
        )
    )
    if shape.tier:
        stmt = stmt.where(Hazard.tier == bindparam("tier"))
    if shape.overdue:
        stmt = stmt.where(overdue(_NOW))
    if shape.escalated:
        stmt = stmt.where(col(Hazard.escalated_at).is_not(None))
    if shape.supervised:
        stmt = stmt.where(Hazard.supervised.is_(True))
    if shape.unit:
        # Not correlated with the grid the list joins: this is the unit the link names.
        unit_path = (
            select(Unit.path)
            .where(Unit.id == bindparam("unit_id"))
            .correlate(None)
            .scalar_subquery()
        )
        stmt = stmt.where(col(Hazard.unit_path).startswith(unit_path))
    if shape.basis:
        stmt = stmt.where(within(shape.basis, bindparam("since", type_=UTCDateTime())))
    if shape.on_time:
        stmt = stmt.where(col(Hazard.closed_at) <= col(Hazard.rectify_by))
    if shape.state:
        stmt = stmt.where(Hazard.state == bindparam("state"))
    elif not shape.basis:
        # Open ones only, unless it is a history list (accepted, rectified, closed in a period).
        stmt = stmt.where(
            col(Hazard.state).not_in([HazardState.CLOSED.value, HazardState.RETURNED.value])
        )
    if shape.severity:
        stmt = stmt.where(Hazard.severity == bindparam("severity"))
    if shape.grid:
        stmt = stmt.where(Hazard.grid_id == bindparam("grid_id"))
    if shape.enterprise_filter:
        stmt = stmt.where(Hazard.enterprise_id == bindparam("enterprise_id"))
    return paged(
        stmt,
        _STATE_ORDER,
        (Hazard.severity == "major").desc(),
        col(Hazard.reported_at).desc(),
        Hazard.id,
    )


def queue(
    session: Session, principal: Principal, filters: QueueFilters, *, limit: int, offset: int
) -> tuple[Sequence[Any], int]:
    """The street's hazards: by default everything still open, what needs the street first,
    then major before general, then newest."""
    now = utcnow()
    basis = filters.basis if filters.days is not None else ""
    shape = _QueueShape(
        enterprise=principal.is_enterprise,
        state=bool(filters.state),
        severity=bool(filters.severity),
        grid=filters.grid_id is not None,
        enterprise_filter=filters.enterprise_id is not None,
        tier=bool(filters.tier),
        overdue=filters.overdue,
        escalated=filters.escalated,
        supervised=filters.supervised,
        unit=filters.unit_id is not None,
        basis=basis,
        on_time=filters.on_time,
    )
    params: dict[str, Any] = {
        "scope_enterprise": principal.enterprise_id,
        "scope": principal.unit_path,
        "now": now,
        "since": now - timedelta(days=filters.days or 0),
        "tier": filters.tier,
        "unit_id": filters.unit_id,
        "state": filters.state,
        "severity": filters.severity,
        "grid_id": filters.grid_id,
        "enterprise_id": filters.enterprise_id,
    }
    return run_page(session, _queue_statements(shape), params, limit=limit, offset=offset)


def inbox(session: Session, principal: Principal) -> Sequence[Any]:
    """Tasks offered to this person and not declined, and those they hold, open ones first.
    An enterprise officer also sees what was given to their enterprise."""
    mine = or_(
        Task.accepted_by == principal.id,
        and_(
            Task.state == TaskState.OFFERED.value,
            TaskOffer.user_id == principal.id,
            TaskOffer.declined_at.is_(None),
        ),
    )
    if principal.is_enterprise:
        mine = or_(mine, Task.enterprise_id == principal.enterprise_id)
    # An incident's task (backend/incidents/) has no hazard: its title and type come instead.
    return session.execute(
        select(
            Task,
            Hazard,
            Enterprise.name.label("enterprise_name"),
            Unit.name.label("grid_name"),
            IncidentTask.title.label("incident_title"),
            Incident.incident_type,
        )
        .outerjoin(Hazard, Hazard.id == Task.hazard_id)
        .outerjoin(Unit, Unit.id == Hazard.grid_id)
        .outerjoin(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .outerjoin(IncidentTask, IncidentTask.id == Task.id)
        .outerjoin(Incident, Incident.id == Task.incident_id)
        .outerjoin(TaskOffer, and_(TaskOffer.task_id == Task.id, TaskOffer.user_id == principal.id))
        .where(mine, Task.state.in_([TaskState.OFFERED.value, TaskState.ACCEPTED.value]))
        .order_by((Task.state == TaskState.OFFERED.value).desc(), Task.accept_by, Task.id)
        .limit(200)
    ).all()


def task_card(session: Session, principal: Principal, task_id: str) -> dict[str, Any] | None:
    """A task as its people see it: the hazard, the deadlines, who has it, what they may do.
    Anyone who may see the hazard may open it."""
    row = session.execute(
        scoped(
            select(
                Task,
                Hazard,
                Enterprise.name.label("enterprise_name"),
                Unit.name.label("grid_name"),
                # Where to navigate to (WGS-84): the key point, the report's fix, the gate.
                KeyPoint.latitude.label("point_latitude"),
                KeyPoint.longitude.label("point_longitude"),
                Enterprise.latitude.label("enterprise_latitude"),
                Enterprise.longitude.label("enterprise_longitude"),
            )
            .join(Hazard, Hazard.id == Task.hazard_id)
            .join(Unit, Unit.id == Hazard.grid_id)
            .outerjoin(Enterprise, Enterprise.id == Hazard.enterprise_id)
            .outerjoin(KeyPoint, KeyPoint.id == Hazard.key_point_id)
            .where(Task.id == task_id.lower()[:36]),
            principal,
        )
    ).first()
    if row is None:
        return None
    holder = None
    if row.Task.accepted_by is not None:
        holder = session.execute(
            select(User.display_name).where(User.id == row.Task.accepted_by)
        ).scalar()
    offer = session.execute(
        select(TaskOffer).where(TaskOffer.task_id == row.Task.id, TaskOffer.user_id == principal.id)
    ).scalar_one_or_none()
    loaded = services.Loaded(row.Hazard, row.Task, [offer] if offer else [])
    facts = services.facts_for(principal, loaded)
    is_current = row.Task.state in services.OPEN_TASK_STATES
    return {
        "task": row.Task,
        "hazard": row.Hazard,
        "place": row.enterprise_name or row.grid_name,
        "holder": holder,
        "offer": offer,
        "may_answer": is_current and facts.offered_to_actor,
        "may_rectify": is_current
        and facts.holds_task
        and row.Hazard.state == HazardState.RECTIFYING.value,
        "photos": report_photos(session, row.Hazard),
        # Not "navigation": base.html's tab bar has a global of that name.
        "directions": navigation(
            row.enterprise_name or row.grid_name,
            (row.point_latitude, row.point_longitude),
            (row.Hazard.latitude, row.Hazard.longitude),
            (row.enterprise_latitude, row.enterprise_longitude),
        ),
    }


_OFFER_NAMES = (
    select(User.display_name, TaskOffer.declined_at, TaskOffer.decline_reason)
    .join(User, User.id == TaskOffer.user_id)
    .where(TaskOffer.task_id == bindparam("task_id"))
    .order_by(User.display_name)
)
_NOTIFICATIONS = (
    select(Notification, User.display_name)
    .join(User, User.id == Notification.user_id)
    .where(Notification.hazard_id == bindparam("hazard_id"))
    .order_by(Notification.created_at, Notification.id)
)


def offer_names(session: Session, task_id: str) -> list[tuple[str, bool, str]]:
    """Who a task was offered to: name, declined, reason."""
    rows = session.execute(_OFFER_NAMES, {"task_id": task_id}).all()
    return [(row.display_name, row.declined_at is not None, row.decline_reason) for row in rows]


def notifications_of(session: Session, hazard_id: str) -> Sequence[Any]:
    """For the timeline: who was told what about this hazard, and whether it reached them."""
    return session.execute(_NOTIFICATIONS, {"hazard_id": hazard_id}).all()


_LATE = select(Hazard.id).where(col(Hazard.id).in_(bindparam("ids", expanding=True)), overdue(_NOW))


def late_among(session: Session, hazard_ids: Sequence[str], now: datetime) -> set[str]:
    """Which of a page's hazards are past a deadline (`overdue`, the rule the dashboard and its
    lists count by), for the lists to mark them."""
    if not hazard_ids:
        return set()
    return set(session.execute(_LATE, {"ids": list(hazard_ids), "now": now}).scalars())
