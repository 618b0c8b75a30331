"""Scoped reads of hazards for the pages: lists and one hazard's card with photos and history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, func, literal, select
from sqlmodel import Session

from backend.auth.policy import Principal
from backend.errors import AppError
from backend.models import Enterprise, Event, Hazard, HazardPhoto, PhotoUpload, Unit, User
from backend.offline.photos import sent_by


def scoped(stmt: Select[Any], principal: Principal) -> Select[Any]:
    if principal.is_enterprise:
        return stmt.where(Hazard.enterprise_id == principal.enterprise_id)
    return stmt.where(Hazard.unit_path.startswith(principal.unit_path))


def _with_names() -> Select[Any]:
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


def list_hazards(
    session: Session, principal: Principal, *, severity: str = "", limit: int = 30, offset: int = 0
) -> tuple[Sequence[Any], int]:
    """Newest and most severe first."""
    stmt = scoped(_with_names(), principal)
    if severity:
        stmt = stmt.where(Hazard.severity == severity)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(
        stmt.order_by(Hazard.reported_at.desc(), (Hazard.severity == "major").desc(), Hazard.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, int(total)


def hazard_card(session: Session, principal: Principal, hazard_id: str) -> dict[str, Any]:
    stmt = _with_names().where(Hazard.id == hazard_id.lower())
    row = session.execute(scoped(stmt, principal)).first()
    if row is None:
        raise AppError("not_found")
    photos = report_photos(session, row.Hazard)
    history = session.execute(
        select(Event, User.display_name)
        .outerjoin(User, User.id == Event.actor_id)
        .where(Event.entity_type == "hazard", Event.entity_id == row.Hazard.id)
        .order_by(Event.at, Event.id)
    ).all()
    return {"row": row, "hazard": row.Hazard, "photos": photos, "history": history}


def report_photos(session: Session, hazard: Hazard) -> Sequence[Row[Any]]:
    """The report's photos in order: `sha256`, and `uploaded` (None until the reporter has sent
    the bytes; bytes someone else sent do not count)."""
    return session.execute(
        select(HazardPhoto.sha256, PhotoUpload.sha256.label("uploaded"))
        .outerjoin(PhotoUpload, sent_by(HazardPhoto.sha256, literal(hazard.reported_by)))
        .where(HazardPhoto.hazard_id == hazard.id)
        .order_by(HazardPhoto.position)
    ).all()
