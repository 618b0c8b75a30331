"""Scoped reads of hazards for the pages: lists and one hazard's card with photos and history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select
from sqlmodel import Session, col

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


# The card's reads, built once: a card runs a dozen small statements, and building one costs
# more than running it (bench/pages_bench.py).
_CARD_IN_AREA = _with_names().where(
    Hazard.id == bindparam("hazard_id"), col(Hazard.unit_path).startswith(bindparam("scope"))
)
_CARD_OF_ENTERPRISE = _with_names().where(
    Hazard.id == bindparam("hazard_id"), Hazard.enterprise_id == bindparam("enterprise_id")
)
_HISTORY = (
    select(Event, User.display_name)
    .outerjoin(User, User.id == Event.actor_id)
    .where(Event.entity_type == "hazard", Event.entity_id == bindparam("hazard_id"))
    .order_by(Event.at, Event.id)
)
_REPORT_PHOTOS = (
    select(HazardPhoto.sha256, col(PhotoUpload.sha256).label("uploaded"))
    .outerjoin(PhotoUpload, sent_by(HazardPhoto.sha256, bindparam("reported_by")))
    .where(HazardPhoto.hazard_id == bindparam("hazard_id"))
    .order_by(HazardPhoto.position)
)


def hazard_card(session: Session, principal: Principal, hazard_id: str) -> dict[str, Any]:
    row = session.execute(
        _CARD_OF_ENTERPRISE if principal.is_enterprise else _CARD_IN_AREA,
        {
            "hazard_id": hazard_id.lower(),
            "scope": principal.unit_path,
            "enterprise_id": principal.enterprise_id,
        },
    ).first()
    if row is None:
        raise AppError("not_found")
    photos = report_photos(session, row.Hazard)
    history = session.execute(_HISTORY, {"hazard_id": row.Hazard.id}).all()
    return {"row": row, "hazard": row.Hazard, "photos": photos, "history": history}


def report_photos(session: Session, hazard: Hazard) -> Sequence[Row[Any]]:
    """The report's photos in order: `sha256`, and `uploaded` (None until the reporter has sent
    the bytes; bytes someone else sent do not count)."""
    return session.execute(
        _REPORT_PHOTOS, {"hazard_id": hazard.id, "reported_by": hazard.reported_by}
    ).all()
