"""Checking in (签到) from the scan landing without JavaScript: the same fields and the same rules
(`plan_check_in`) as the outbox mutation `inspection.check_in`, stored the same way."""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session

from backend.auth.policy import Principal
from backend.db import settings_of
from backend.errors import AppError
from backend.hazards.rules import is_uuid
from backend.hazards.services import Lookups, plan_check_in
from backend.models import CheckIn, utcnow
from backend.offline import changes
from backend.validation import area_of, identifier, phone_fix


def check_in(session: Session, principal: Principal, form: Mapping[str, str]) -> CheckIn:
    """Record a check-in; `sync.Rejected` when the rules refuse it. The id is made when the page
    is drawn, so sending the same form twice records one check-in."""
    check_in_id = str(form.get("id", "")).lower()
    enterprise_id = identifier(form.get("enterprise_id"))
    position, errors = phone_fix(form, area_of(settings_of(session)))
    if not is_uuid(check_in_id):
        errors["id"] = "invalid"
    if enterprise_id is None:
        errors["enterprise_id"] = "invalid"
    if errors or enterprise_id is None:
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
        enterprise_id,
        position,
        now,
        now,
    )
    changes.store(session, writes)
    session.commit()
    stored = session.get(CheckIn, check_in_id)
    assert stored is not None
    return stored
