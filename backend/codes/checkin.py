"""Checking in (签到) from the scan landing without JavaScript: the same fields and the same rules
(`plan_check_in`) as the outbox mutation `inspection.check_in`, stored the same way."""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session

from backend.auth.policy import Principal
from backend.errors import AppError
from backend.hazards.rules import is_uuid, optional_float
from backend.hazards.services import Lookups, plan_check_in
from backend.models import CheckIn, utcnow
from backend.offline import changes

POSITION_LIMITS = (("latitude", -90, 90), ("longitude", -180, 180), ("accuracy_m", 0, 1_000_000))


def check_in(session: Session, principal: Principal, form: Mapping[str, str]) -> CheckIn:
    """Record a check-in; `sync.Rejected` when the rules refuse it. The id is made when the page
    is drawn, so sending the same form twice records one check-in."""
    check_in_id = str(form.get("id", "")).lower()
    enterprise_id = str(form.get("enterprise_id", ""))
    errors: dict[str, str] = {}
    if not is_uuid(check_in_id):
        errors["id"] = "invalid"
    if not enterprise_id.isdigit() or len(enterprise_id) > 12:
        errors["enterprise_id"] = "invalid"
    position: list[float | None] = []
    for key, low, high in POSITION_LIMITS:
        value, ok = optional_float(form.get(key), low, high)
        if not ok:
            errors[key] = "coordinate"
        position.append(value)
    if errors:
        raise AppError("validation_failed", fields=errors)
    existing = session.get(CheckIn, check_in_id)
    if existing is not None:
        if existing.user_id != principal.id:
            raise AppError("conflict")
        return existing
    now = utcnow()
    writes = plan_check_in(
        Lookups(session),
        principal,
        check_in_id,
        int(enterprise_id),
        (position[0], position[1], position[2]),
        now,
        now,
    )
    changes.store(session, writes)
    session.commit()
    stored = session.get(CheckIn, check_in_id)
    assert stored is not None
    return stored
