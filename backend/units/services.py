"""Reading and changing the unit tree; every read is bounded by the principal's own unit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlmodel import Session, col

from backend.audit import Origin, record
from backend.auth.policy import Principal, can_administer, sees_unit
from backend.errors import AppError
from backend.models import LEVEL_ORDER, Unit, UnitLevel
from backend.validation import text_problem


def child_level(level: str) -> UnitLevel | None:
    index = LEVEL_ORDER.index(UnitLevel(level))
    return LEVEL_ORDER[index + 1] if index + 1 < len(LEVEL_ORDER) else None


def path_for(parent: Unit | None, code: str) -> str:
    return f"{parent.path if parent else '/'}{code}/"


_UNITS_UNDER = select(Unit).where(col(Unit.path).startswith(bindparam("scope"))).order_by(Unit.path)
_UNITS_UNDER_AT = _UNITS_UNDER.where(Unit.level == bindparam("level"))


def units_under(
    session: Session, principal: Principal, level: UnitLevel | None = None
) -> Sequence[Unit]:
    """The principal's unit and everything below it, in tree order."""
    if principal.is_enterprise:
        return []
    if level is None:
        return session.execute(_UNITS_UNDER, {"scope": principal.unit_path}).scalars().all()
    return (
        session.execute(_UNITS_UNDER_AT, {"scope": principal.unit_path, "level": level.value})
        .scalars()
        .all()
    )


def get_unit(session: Session, principal: Principal, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None or not sees_unit(principal, unit.path):
        raise AppError("not_found")
    return unit


def create_unit(
    session: Session,
    principal: Principal,
    parent_id: int,
    code: str,
    name: str,
    name_en: str,
    origin: Origin,
) -> Unit:
    if not can_administer(principal):
        raise AppError("forbidden")
    parent = get_unit(session, principal, parent_id)
    level = child_level(parent.level)
    fields: dict[str, str] = {}
    code, name, name_en = code.strip(), name.strip(), name_en.strip()
    if level is None:
        fields["parent_id"] = "unit.no_children"
    if not code.isalnum() or not 1 <= len(code) <= 32:
        fields["code"] = "unit.code"
    elif session.execute(select(Unit.id).where(Unit.code == code)).first():
        fields["code"] = "unit.code_taken"
    if not name or len(name) > 100:
        fields["name"] = "required"
    elif text_problem(name) or text_problem(name_en):
        fields["name"] = "control_chars"
    if fields or level is None:
        raise AppError("validation_failed", fields=fields)
    unit = Unit(
        code=code,
        name=name,
        name_en=name_en[:100],
        level=level.value,
        parent_id=parent.id,
        path=path_for(parent, code),
    )
    session.add(unit)
    session.flush()
    record(session, origin, "unit.created", "unit", unit.id, unit.path, code=code, name=name)
    session.commit()
    return unit


def rename_unit(
    session: Session, principal: Principal, unit_id: int, name: str, name_en: str, origin: Origin
) -> Unit:
    if not can_administer(principal):
        raise AppError("forbidden")
    unit = get_unit(session, principal, unit_id)
    name = name.strip()
    if not name or len(name) > 100:
        raise AppError("validation_failed", fields={"name": "required"})
    if text_problem(name) or text_problem(name_en):
        raise AppError("validation_failed", fields={"name": "control_chars"})
    before = {"name": unit.name, "name_en": unit.name_en}
    unit.name, unit.name_en = name, name_en.strip()[:100]
    record(
        session,
        origin,
        "unit.renamed",
        "unit",
        unit.id,
        unit.path,
        before=before,
        name=name,
        name_en=unit.name_en,
    )
    session.commit()
    return unit
