"""Enforcement records (行政执法) and accidents (事故): checking a form or CSV row, storing it in
the officer's area, and the reads of the profile page. Bad input changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from backend.audit import Origin, record
from backend.auth.policy import Principal, can_edit_enterprise
from backend.enterprises.services import get_enterprise
from backend.errors import AppError
from backend.models import (
    Accident,
    AccidentLevel,
    EnforcementKind,
    EnforcementRecord,
    Event,
    RecordSource,
    RiskProfile,
    utcnow,
)
from backend.risk import services

MAX_DESCRIPTION = 1000
KINDS = {"enforcement": EnforcementRecord, "accident": Accident}


def _date(value: str, today: date) -> tuple[date | None, str | None]:
    value = value.strip()
    if not value:
        return None, "risk.errors.required"
    try:
        parsed = date.fromisoformat(value.replace("/", "-"))
    except ValueError:
        return None, "risk.errors.bad_date"
    if parsed > today:
        return None, "risk.errors.future_date"
    return parsed, None


def _count(value: str, *, required: bool) -> tuple[int | None, str | None]:
    value = value.strip()
    if not value:
        return (None, "risk.errors.required") if required else (None, None)
    if not value.isdigit() or len(value) > 9:
        return None, "risk.errors.bad_number"
    return int(value), None


def parse(kind: str, form: Mapping[str, str], today: date) -> tuple[dict[str, Any], dict[str, str]]:
    """Values of an enforcement record or an accident, and field → message key for what is wrong."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"description": form.get("description", "").strip()}
    if len(values["description"]) > MAX_DESCRIPTION:
        errors["description"] = "risk.errors.too_long"
    on = "decided_on" if kind == "enforcement" else "occurred_on"
    values[on], problem = _date(form.get(on, ""), today)
    if problem:
        errors[on] = problem
    if kind == "enforcement":
        values["kind"] = form.get("kind", "").strip()
        if values["kind"] not in set(EnforcementKind):
            errors["kind"] = "risk.errors.bad_kind"
        values["amount_yuan"], problem = _count(form.get("amount_yuan", ""), required=False)
        if problem:
            errors["amount_yuan"] = problem
    else:
        values["level"] = form.get("level", "").strip()
        if values["level"] not in set(AccidentLevel):
            errors["level"] = "risk.errors.bad_level"
        for name in ("deaths", "injuries"):
            number, problem = _count(form.get(name, "") or "0", required=True)
            values[name] = number
            if problem:
                errors[name] = problem
    return values, errors


def can_record(principal: Principal, enterprise_id: int, grid_path: str) -> bool:
    """Officers of the area (street, district, city, administrators) record and import."""
    return can_edit_enterprise(principal, enterprise_id, grid_path)


def add(
    session: Session,
    principal: Principal,
    kind: str,
    enterprise_id: int,
    values: Mapping[str, Any],
    origin: Origin,
    source: RecordSource = RecordSource.OFFICER,
) -> None:
    """Store one record (the caller commits); the enterprise is rescored before the commit."""
    _, grid = get_enterprise(session, principal, enterprise_id)
    if not can_record(principal, enterprise_id, grid.path):
        raise AppError("forbidden")
    model = KINDS[kind]
    row = model(
        enterprise_id=enterprise_id,
        unit_path=grid.path,
        source=source.value,
        recorded_by=principal.id,
        created_at=utcnow(),
        **values,
    )
    session.add(row)
    session.flush()
    record(
        session,
        origin,
        f"risk.{kind}_recorded",
        "enterprise",
        enterprise_id,
        grid.path,
        record_id=row.id,
        source=source.value,
    )
    services.touch(session, [enterprise_id])


def profile_of(session: Session, enterprise_id: int) -> RiskProfile | None:
    return session.get(RiskProfile, enterprise_id)


def history(session: Session, enterprise_id: int, limit: int = 50) -> list[Event]:
    return list(
        session.execute(
            select(Event)
            .where(
                Event.entity_type == "enterprise",
                Event.entity_id == str(enterprise_id),
                Event.action == "risk.colour_changed",
            )
            .order_by(Event.id.desc())  # type: ignore[union-attr]
            .limit(limit)
        ).scalars()
    )


def records_of(session: Session, kind: str, enterprise_id: int) -> list[Any]:
    model: Any = KINDS[kind]
    on = model.decided_on if kind == "enforcement" else model.occurred_on
    return list(
        session.execute(
            select(model).where(model.enterprise_id == enterprise_id).order_by(on.desc()).limit(100)
        ).scalars()
    )
