"""Scoped reads and audited changes of enterprises; the one place these rules live."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Select, String, bindparam, func, or_, select, update
from sqlmodel import Session, col

from backend.audit import Origin, record
from backend.auth.policy import (
    Principal,
    can_create_enterprise_in,
    can_edit_enterprise,
    sees_enterprise,
)
from backend.enterprises.fields import EnterpriseFields
from backend.errors import AppError
from backend.models import Enterprise, KeyPoint, RiskProfile, Unit, UnitLevel, User, utcnow
from backend.offline import changes as changes_log
from backend.offline.entities import enterprise_data
from backend.risk import services as risk


def _base() -> Select[tuple[Enterprise, Unit]]:
    return select(Enterprise, Unit).join(Unit, Unit.id == Enterprise.grid_id)


def _listing(columns: Select[Any], of_enterprise: bool) -> Select[Any]:
    """The list's one rule (scope, active, the search box and the industry filter), written
    with bound parameters so the statement is built once; `_listing_params` fills them in."""
    scope = (
        Enterprise.id == bindparam("enterprise_id")
        if of_enterprise
        else col(Unit.path).startswith(bindparam("scope"))
    )
    return columns.join(Unit, Unit.id == Enterprise.grid_id).where(
        scope,
        Enterprise.active.is_(True),
        or_(
            bindparam("like", type_=String) == "",
            col(Enterprise.name).like(bindparam("like")),
            col(Enterprise.credit_code).like(bindparam("like_upper")),
        ),
        or_(
            bindparam("industry", type_=String) == "",
            Enterprise.industry == bindparam("industry"),
        ),
    )


def _listing_params(principal: Principal, query: str, industry: str) -> dict[str, Any]:
    like = f"%{query.strip()}%" if query.strip() else ""
    return {
        "scope": principal.unit_path,
        "enterprise_id": principal.enterprise_id,
        "like": like,
        "like_upper": like.upper(),
        "industry": industry,
    }


_ORDER = (Enterprise.name, Enterprise.id)
# Built once per kind of viewer (an enterprise officer sees their own enterprise, anyone else
# their unit's); a request binds its values (see backend.riskviews.due._DUE).
_ENTITIES = {
    kind: _listing(select(Enterprise, Unit), kind).order_by(*_ORDER) for kind in (False, True)
}
_ROWS = {
    kind: _listing(
        select(
            Enterprise.id,
            Enterprise.name,
            Enterprise.industry,
            Unit.name.label("grid_name"),
            func.count().over().label("total"),
        ),
        kind,
    )
    .order_by(*_ORDER)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
    for kind in (False, True)
}
_COUNT = {
    kind: select(func.count()).select_from(_listing(select(Enterprise.id), kind).subquery())
    for kind in (False, True)
}


def list_enterprises(
    session: Session,
    principal: Principal,
    *,
    query: str = "",
    industry: str = "",
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[tuple[Enterprise, Unit]], int]:
    kind = principal.is_enterprise
    params = _listing_params(principal, query, industry)
    total = session.execute(_COUNT[kind], params).scalar_one()
    rows = session.execute(_ENTITIES[kind].limit(limit).offset(offset), params).all()
    return rows, int(total)


def enterprise_rows(
    session: Session,
    principal: Principal,
    *,
    query: str = "",
    industry: str = "",
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Any], int]:
    """What a list or a choice of enterprises shows: rows of (id, name, industry, grid_name) and
    the count of all (a window column), in one statement built once, with no entities loaded.
    Past the last page no row carries the count, and the count statement answers."""
    kind = principal.is_enterprise
    params = _listing_params(principal, query, industry)
    database = session.connection()
    rows = database.execute(_ROWS[kind], {**params, "limit": limit, "offset": offset}).all()
    if rows:
        return rows, int(rows[0].total)
    total = database.execute(_COUNT[kind], params).scalar_one() if offset else 0
    return rows, int(total)


def get_enterprise(
    session: Session, principal: Principal, enterprise_id: int
) -> tuple[Enterprise, Unit]:
    """Not found and not allowed look the same, so ids outside the scope reveal nothing."""
    row = session.execute(_base().where(Enterprise.id == enterprise_id)).one_or_none()
    if row is None or not sees_enterprise(principal, enterprise_id, row[1].path):
        raise AppError("not_found")
    return row


def key_points(session: Session, principal: Principal, enterprise_id: int) -> Sequence[KeyPoint]:
    get_enterprise(session, principal, enterprise_id)
    stmt = select(KeyPoint).where(
        KeyPoint.enterprise_id == enterprise_id, KeyPoint.active.is_(True)
    )
    return session.execute(stmt.order_by(KeyPoint.name)).scalars().all()


def grid_in_scope(session: Session, principal: Principal, grid_id: int) -> Unit:
    grid = session.get(Unit, grid_id)
    if (
        grid is None
        or grid.level != UnitLevel.GRID
        or not can_create_enterprise_in(principal, grid.path)
    ):
        raise AppError("validation_failed", fields={"grid_id": "grid"})
    return grid


def create_enterprise(
    session: Session, principal: Principal, fields: EnterpriseFields, grid_id: int, origin: Origin
) -> Enterprise:
    grid = grid_in_scope(session, principal, grid_id)
    if session.execute(
        select(Enterprise.id).where(Enterprise.credit_code == fields.credit_code)
    ).first():
        raise AppError("validation_failed", fields={"credit_code": "credit_code.taken"})
    enterprise = Enterprise(**asdict(fields), grid_id=grid_id)
    session.add(enterprise)
    session.flush()
    record(
        session,
        origin,
        "enterprise.created",
        "enterprise",
        enterprise.id,
        grid.path,
        **_changes_of(fields, grid_id),
    )
    assert enterprise.id is not None
    publish(session, [enterprise.id])
    session.commit()
    return enterprise


def update_enterprise(
    session: Session,
    principal: Principal,
    enterprise_id: int,
    fields: EnterpriseFields,
    grid_id: int,
    origin: Origin,
) -> Enterprise:
    enterprise, current_grid = get_enterprise(session, principal, enterprise_id)
    if not can_edit_enterprise(principal, enterprise_id, current_grid.path):
        raise AppError("forbidden")
    grid = grid_in_scope(session, principal, grid_id)
    clash = session.execute(
        select(Enterprise.id).where(
            Enterprise.credit_code == fields.credit_code, Enterprise.id != enterprise_id
        )
    ).first()
    if clash:
        raise AppError("validation_failed", fields={"credit_code": "credit_code.taken"})
    changes = apply_fields(enterprise, fields, grid_id)
    if "grid_id" in changes:
        move_officers(session, enterprise_id, grid_id)
    if changes:
        session.flush()
        publish(session, [enterprise_id], {enterprise_id: current_grid.path})
        record(
            session,
            origin,
            "enterprise.updated",
            "enterprise",
            enterprise_id,
            grid.path,
            changes=changes,
        )
    session.commit()
    return enterprise


def apply_fields(enterprise: Enterprise, fields: EnterpriseFields, grid_id: int) -> dict[str, Any]:
    """Set what differs; return {field: [old, new]} for the history (empty when nothing changed)."""
    changes: dict[str, Any] = {}
    for key, value in _changes_of(fields, grid_id).items():
        old = getattr(enterprise, key)
        if old != value:
            changes[key] = [old, value]
            setattr(enterprise, key, value)
    if changes:
        enterprise.updated_at = utcnow()
    return changes


def publish(
    session: Session, enterprise_ids: Sequence[int], moved_from: dict[int, str] | None = None
) -> None:
    """Put the enterprises' current state in the change log, so phones update their copies; an
    enterprise that moved grid is also removed from the phones of its old grid."""
    rows = session.execute(
        select(Enterprise, Unit, RiskProfile)
        .join(Unit, Unit.id == Enterprise.grid_id)
        .outerjoin(RiskProfile, RiskProfile.enterprise_id == Enterprise.id)
        .where(Enterprise.id.in_(enterprise_ids))
    ).all()
    # Industry or grid may have changed: rescored after commit (published again if it moved).
    risk.touch(session, enterprise_ids)
    writes = []
    for enterprise, grid, profile in rows:
        old_path = (moved_from or {}).get(enterprise.id)
        if old_path and old_path != grid.path:
            writes.append(
                changes_log.change("enterprise", enterprise.id, "remove", old_path, None, {})
            )
        data = enterprise_data(enterprise, grid, profile)
        writes.append(
            changes_log.change(
                "enterprise", enterprise.id, "upsert", grid.path, enterprise.id, data
            )
        )
    changes_log.store(session, writes)


def move_officers(session: Session, enterprise_id: int, grid_id: int) -> None:
    """An enterprise officer (企业安全员) sits in their enterprise's grid, so they move with it.
    Their scope changes, so offline clients must re-pull; the caller commits with the move."""
    session.execute(
        update(User)
        .where(col(User.enterprise_id) == enterprise_id)
        .values(unit_id=grid_id, scope_version=col(User.scope_version) + 1)
    )


def _changes_of(fields: EnterpriseFields, grid_id: int) -> dict[str, Any]:
    return {**asdict(fields), "industry": fields.industry.value, "grid_id": grid_id}
