"""Escalation against the database: which policy applies, who is on duty, the clocks the closed
loop starts and stops, and the sweep that moves overdue hazards up a tier."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlmodel import Session, col

from backend.escalation.clocks import MAJOR_RULE, TIER_ROLE, Policies, tier_of_unit_level, tier_path
from backend.escalation.policy import Clock, Standing, Step, due
from backend.models import (
    TIERS,
    DutyShift,
    Hazard,
    Severity,
    Tier,
    Unit,
    User,
    UTCDateTime,
)
from backend.offline import changes
from backend.risk import services as risk
from backend.tasks import notices

# ---- who is on duty ---------------------------------------------------------------------------


# Each unit asked for, with the active people whose shift covers `now` (one row each), or one
# row with no one: the units and their shifts in one statement.
_SHIFTS_NOW = (
    select(Unit.path, Unit.id, Unit.level, col(User.id).label("user_id"))
    .outerjoin(
        DutyShift,
        and_(
            DutyShift.unit_id == Unit.id,
            DutyShift.starts_at <= bindparam("now", type_=UTCDateTime()),
            DutyShift.ends_at > bindparam("now", type_=UTCDateTime()),
        ),
    )
    .outerjoin(User, and_(User.id == DutyShift.user_id, User.active.is_(True)))
    .where(col(Unit.path).in_(bindparam("paths", expanding=True)))
)


def on_duty(session: Session, unit_paths: Iterable[str], now: datetime) -> dict[str, list[int]]:
    """Who answers for each unit right now: the roster's shifts covering this moment, or where
    none does, the unit's officers of the tier's role. A unit with nobody maps to []."""
    paths = sorted(set(unit_paths))
    if not paths:
        return {}
    result: dict[str, list[int]] = {path: [] for path in paths}
    units: dict[str, tuple[int, str]] = {}
    for row in session.execute(_SHIFTS_NOW, {"paths": paths, "now": now}):
        units[row.path] = (row.id, row.level)
        if row.user_id is not None:
            result[row.path].append(row.user_id)
    by_unit = {unit_id: path for path, (unit_id, _) in units.items()}
    fallback = [path for path in paths if not result[path] and path in units]
    if fallback:
        conditions = []
        for path in fallback:
            unit_id, level = units[path]
            tier = tier_of_unit_level(level)
            if tier is not None:
                conditions.append((User.unit_id == unit_id) & (User.role == TIER_ROLE[tier].value))
        if conditions:
            for unit_id, user_id in session.execute(
                select(User.unit_id, User.id).where(User.active.is_(True), or_(*conditions))
            ).all():
                result[by_unit[unit_id]].append(user_id)
    return {path: sorted(set(users)) for path, users in result.items()}


# ---- the sweep --------------------------------------------------------------------------------


@dataclass
class SweepResult:
    escalated: int = 0
    renotified: int = 0
    supervised: int = 0
    skipped_tiers: int = 0
    seen: int = 0  # overdue rows looked at (a full batch means there may be more)

    @property
    def touched(self) -> int:
        return self.escalated + self.renotified + self.supervised


_DUE_COLUMNS = (
    Hazard.id,
    Hazard.tier,
    Hazard.due_kind,
    Hazard.due_at,
    Hazard.fired,
    Hazard.policy_id,
    Hazard.severity,
    Hazard.category,
    Hazard.unit_path,
    Hazard.suspended,
    Hazard.reported_at,
    # What a notification names: the place (enterprise or grid).
    Hazard.enterprise_id,
    Hazard.grid_id,
)


def _due_rows(session: Session, now: datetime, limit: int) -> Sequence[Any]:
    """The overdue hazards, locked: on PostgreSQL two sweeps take disjoint rows (SKIP LOCKED);
    SQLite has one writer, taken first, so a second sweep waits and then finds them moved on."""
    due_at = Hazard.__table__.c.due_at  # type: ignore[attr-defined]
    query = select(*_DUE_COLUMNS).where(due_at <= now).order_by(due_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(query.with_for_update(skip_locked=True, of=Hazard)).all()
    session.execute(update(Hazard).where(Hazard.id == "").values(tier=Hazard.tier))
    return session.execute(query).all()


def sweep(session: Session, now: datetime, limit: int = 1000) -> SweepResult:
    """Escalate what is overdue, in one transaction (the caller commits): a sweep that dies
    half-way leaves everything as it was, for the next one to do."""
    result = SweepResult()
    rows = _due_rows(session, now, limit)
    result.seen = len(rows)
    # Incident tasks (backend/incidents/) climb under the same rule, in this transaction (and
    # behind the write lock _due_rows took on SQLite). Imported here: that module imports this.
    from backend.incidents.escalation import sweep_tasks

    up, again = sweep_tasks(session, now, limit)
    result.escalated += up
    result.renotified += again
    if not rows:
        return result
    tells: list[Tell] = []
    policies = Policies(session)
    old = policies.by_id(row.policy_id for row in rows if row.policy_id is not None)
    paths = {tier_path(row.unit_path, tier) for row in rows for tier in TIERS}
    duty = on_duty(session, paths, now)
    updates: list[dict[str, Any]] = []
    writes = []
    for row in rows:
        policy = old.get(row.policy_id) if row.policy_id is not None else None
        policy = policy or policies.for_hazard(row.severity, row.category)
        fired = frozenset(row.fired or [])
        if row.severity == Severity.MAJOR and MAJOR_RULE not in fired:
            # A major hazard: the district is told at once and supervises it until it closes.
            people = duty[tier_path(row.unit_path, Tier.DISTRICT)]
            accept_due = (
                max(now, row.reported_at + policy.accept)
                if row.due_kind == "accept"
                else row.due_at
            )
            updates.append(
                {
                    "b_id": row.id,
                    "b_tier": row.tier,
                    "b_due": accept_due,
                    "b_fired": sorted(fired | {MAJOR_RULE}),
                    "b_escalated": None,
                }
            )
            writes.append(
                changes.event(
                    None, "hazard.supervised", "hazard", row.id, row.unit_path, notified=people
                )
            )
            tells.append(_tell(row, people, "hazard.supervised", reason_code="major"))
            result.supervised += 1
            continue
        staffed = {tier for tier in TIERS if duty[tier_path(row.unit_path, tier)]}
        standing = Standing(
            tier=Tier(row.tier),
            clock=Clock(row.due_kind) if row.due_kind else None,
            due_at=row.due_at,
            fired=fired,
            suspended=row.suspended,
        )
        step = due(policy, standing, now, staffed)
        if step is None:
            # Suspended or not timed, yet found due: stop looking at it until a clock restarts.
            updates.append(
                {
                    "b_id": row.id,
                    "b_tier": row.tier,
                    "b_due": None,
                    "b_fired": sorted(fired),
                    "b_escalated": None,
                }
            )
            continue
        result.skipped_tiers += len(step.skipped)
        writes += _record(row, step, duty, now)
        if step.escalate_to is not None:
            people = duty[tier_path(row.unit_path, step.escalate_to)]
            tells.append(_tell(row, people, "hazard.escalated", reason_code=step.reason))
            result.escalated += 1
        else:
            people = duty[tier_path(row.unit_path, Tier(row.tier))]
            tells.append(_tell(row, people, "hazard.overdue", reason_code=step.reason))
            result.renotified += 1
        escalated = now if step.escalate_to is not None else None
        tier = (step.escalate_to or Tier(row.tier)).value
        updates.append(_moved(row.id, tier, step.next_due, step.fired, escalated))
    _apply(session, updates)
    changes.store(session, writes)
    # A rectification deadline that passed is a risk factor: rescored after commit, as of `now`.
    risk.touch(session, [row.enterprise_id for row in rows if row.due_kind == "rectify"], at=now)
    # Every notification of the batch at once: one insert per table, not a few per hazard.
    notices.send_many(session, [tell for tell in tells if tell[0]])
    return result


def _moved(
    hazard_id: str,
    tier: str,
    due_at: datetime | None,
    fired: Iterable[str],
    escalated_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "b_id": hazard_id,
        "b_tier": tier,
        "b_due": due_at,
        "b_fired": sorted(fired),
        "b_escalated": escalated_at,
    }


def _record(row: Any, step: Step, duty: Mapping[str, list[int]], now: datetime) -> list[Any]:
    events = [
        changes.event(
            None,
            "hazard.tier_skipped",
            "hazard",
            row.id,
            row.unit_path,
            tier=tier.value,
            reason="nobody_on_duty",
        )
        for tier in step.skipped
    ]
    if step.escalate_to is not None:
        events.append(
            changes.event(
                None,
                "hazard.escalated",
                "hazard",
                row.id,
                row.unit_path,
                from_tier=row.tier,
                to_tier=step.escalate_to.value,
                reason=step.reason,
                rule=step.rule,
                due_was=row.due_at.isoformat(),
                notified=duty[tier_path(row.unit_path, step.escalate_to)],
            )
        )
    else:
        events.append(
            changes.event(
                None,
                "hazard.renotified",
                "hazard",
                row.id,
                row.unit_path,
                tier=row.tier,
                reason=step.reason,
            )
        )
    return events


def _apply(session: Session, updates: list[dict[str, Any]]) -> None:
    """One executemany for every hazard the sweep moved."""
    if not updates:
        return
    table = Hazard.__table__  # type: ignore[attr-defined]
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            tier=bindparam("b_tier"),
            due_at=bindparam("b_due"),
            fired=bindparam("b_fired"),
            # Kept as it was unless this sweep moved it up a tier.
            escalated_at=func.coalesce(bindparam("b_escalated"), table.c.escalated_at),
        )
    )
    session.connection().execute(statement, updates)


# (people, kind, hazard, url, params): one notification per person, sent with the batch.
Tell = tuple[Sequence[int], str, notices.Named, str, dict[str, Any]]


def _tell(hazard: Any, people: Sequence[int], kind: str, **params: Any) -> Tell:
    """`hazard`: the due row, which carries what a notification names (no ORM object needed)."""
    return (people, kind, hazard, f"/hazards/{hazard.id}", {"reason": "", **params})
