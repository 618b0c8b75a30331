"""The duty roster (值班表): who answers for a street, district or city during a window. Day and
night shifts and holidays are all just shifts. Administrators manage the units of their area;
where no shift covers a moment, escalation tells the unit's officers of the tier's role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, delete, insert, select
from sqlmodel import Session

from backend.audit import Origin, record
from backend.auth.policy import Principal, can_administer, sees_unit
from backend.db import settings_of
from backend.errors import AppError
from backend.models import DutyShift, Unit, UnitLevel, User
from backend.timezone import DEFAULT_ZONE, from_local_input, to_local, zone, zone_for
from backend.validation import text_problem

# Beijing time: the default GRIDSAFE_TIMEZONE, and the zone the demo roster is laid out in.
SHANGHAI = zone(DEFAULT_ZONE)
ROSTER_LEVELS = (UnitLevel.CITY.value, UnitLevel.DISTRICT.value, UnitLevel.STREET.value)
MAX_SHIFT = timedelta(days=31)
MAX_NOTE = 200
DAYS_SHOWN = 14


def parse_moment(text: str, where: tzinfo = SHANGHAI) -> datetime | None:
    """An ISO date-time with an offset, or a wall-clock time in `where` (GRIDSAFE_TIMEZONE); None
    if unreadable. `2026-12-01T08:00`, `2026-12-01 08:00:00+08:00`, `2026/12/01 08:00` all read."""
    return from_local_input(text.replace("/", "-"), where)


def local(moment: datetime, where: tzinfo = SHANGHAI) -> datetime:
    return to_local(moment, where)


@dataclass(frozen=True)
class ShiftInput:
    unit_id: int | None
    user_id: int | None
    starts_at: str
    ends_at: str
    note: str = ""


def _require_admin(principal: Principal) -> None:
    if not can_administer(principal):
        raise AppError("forbidden")


def roster_units(session: Session, principal: Principal) -> list[Unit]:
    """The streets, districts and city of the administrator's area, in tree order."""
    _require_admin(principal)
    return list(
        session.execute(
            select(Unit)
            .where(
                Unit.path.startswith(principal.unit_path),
                Unit.level.in_(ROSTER_LEVELS),
                Unit.active.is_(True),
            )
            .order_by(Unit.path)
        ).scalars()
    )


def roster_unit(session: Session, principal: Principal, unit_id: int | None) -> Unit | None:
    """A unit of the area that can have a roster; None for anything else (outside looks absent)."""
    _require_admin(principal)
    if unit_id is None:
        return None
    unit = session.get(Unit, unit_id)
    if (
        unit is None
        or not unit.active
        or unit.level not in ROSTER_LEVELS
        or not sees_unit(principal, unit.path)
    ):
        return None
    return unit


def people_of(session: Session, unit: Unit) -> list[User]:
    """Who may stand duty for a unit: its active members."""
    return list(
        session.execute(
            select(User)
            .where(User.unit_id == unit.id, User.active.is_(True))
            .order_by(User.display_name, User.id)
        ).scalars()
    )


def shifts(session: Session, unit: Unit, start: datetime, days: int = DAYS_SHOWN) -> list[Any]:
    """A unit's shifts that overlap [start, start + days), with the person's name."""
    end = start + timedelta(days=days)
    return list(
        session.execute(
            select(DutyShift, User.display_name, User.username)
            .join(User, User.id == DutyShift.user_id)
            .where(
                DutyShift.unit_id == unit.id, DutyShift.ends_at > start, DutyShift.starts_at < end
            )
            .order_by(DutyShift.starts_at, DutyShift.id)
        ).all()
    )


def overlaps(
    session: Session, user_id: int, starts_at: datetime, ends_at: datetime, skip: int | None = None
) -> bool:
    """Whether the person already stands duty somewhere during part of this window."""
    stmt = select(DutyShift.id).where(
        DutyShift.user_id == user_id, DutyShift.starts_at < ends_at, DutyShift.ends_at > starts_at
    )
    if skip is not None:
        stmt = stmt.where(DutyShift.id != skip)
    return session.execute(stmt.limit(1)).first() is not None


def window_errors(
    starts_at: datetime | None, ends_at: datetime | None, note: str
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if starts_at is None:
        errors["starts_at"] = "duty.moment"
    if ends_at is None:
        errors["ends_at"] = "duty.moment"
    if starts_at is not None and ends_at is not None:
        if ends_at <= starts_at:
            errors["ends_at"] = "duty.end_before_start"
        elif ends_at - starts_at > MAX_SHIFT:
            errors["ends_at"] = "duty.too_long"
    if len(note) > MAX_NOTE:
        errors["note"] = "too_long"
    elif text_problem(note):
        errors["note"] = "control_chars"
    return errors


def member(session: Session, unit: Unit, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    if user is None or user.unit_id != unit.id or not user.active:
        return None
    return user


def add_shift(session: Session, principal: Principal, data: ShiftInput, origin: Origin) -> int:
    """Validate and add one shift; bad input raises `validation_failed` with per-field keys."""
    unit = roster_unit(session, principal, data.unit_id)
    if unit is None:
        raise AppError("validation_failed", fields={"unit_id": "duty.unit"})
    where = zone_for(settings_of(session))
    starts_at, ends_at = parse_moment(data.starts_at, where), parse_moment(data.ends_at, where)
    note = data.note.strip()
    errors = window_errors(starts_at, ends_at, note)
    user = member(session, unit, data.user_id)
    if user is None:
        errors["user_id"] = "duty.not_member"
    if (
        not errors
        and starts_at
        and ends_at
        and user
        and user.id is not None
        and overlaps(session, user.id, starts_at, ends_at)
    ):
        errors["starts_at"] = "duty.overlap"
    if errors or starts_at is None or ends_at is None or user is None:
        raise AppError("validation_failed", fields=errors)
    shift_id = session.execute(
        insert(DutyShift)
        .values(unit_id=unit.id, user_id=user.id, starts_at=starts_at, ends_at=ends_at, note=note)
        .returning(DutyShift.id)
    ).scalar_one()
    record(
        session,
        origin,
        "duty.shift_added",
        "duty_shift",
        shift_id,
        unit.path,
        unit=unit.code,
        username=user.username,
        starts_at=starts_at.isoformat(),
        ends_at=ends_at.isoformat(),
        note=note,
    )
    session.commit()
    return int(shift_id)


def delete_shift(session: Session, principal: Principal, shift_id: int, origin: Origin) -> int:
    """Remove a shift of the area (the history keeps what it was); returns its unit's id."""
    _require_admin(principal)
    row = session.execute(
        select(DutyShift, Unit, User.username)
        .join(Unit, Unit.id == DutyShift.unit_id)
        .join(User, User.id == DutyShift.user_id)
        .where(DutyShift.id == shift_id, Unit.path.startswith(principal.unit_path))
    ).one_or_none()
    if row is None:
        raise AppError("not_found")
    shift, unit, username = row
    session.execute(delete(DutyShift).where(and_(DutyShift.id == shift_id)))
    record(
        session,
        origin,
        "duty.shift_deleted",
        "duty_shift",
        shift_id,
        unit.path,
        unit=unit.code,
        username=username,
        starts_at=shift.starts_at.isoformat(),
        ends_at=shift.ends_at.isoformat(),
        note=shift.note,
    )
    session.commit()
    return int(unit.id or 0)
