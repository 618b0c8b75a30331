"""Escalation policies (升级策略) as administrators edit them: a change is always a new version of
the (severity, category) pair; the previous one is switched off, never edited, so hazards keep
the version they started with (their policy_id)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend.audit import Origin, record
from backend.auth.policy import Principal, can_administer
from backend.errors import AppError
from backend.escalation.policy import Policy
from backend.models import EscalationPolicy, HazardCategory, Severity, UnitLevel

ANY = "*"
SEVERITIES = (ANY, *(s.value for s in Severity))
CATEGORIES = (ANY, *(c.value for c in HazardCategory))
# Sane upper bounds: nobody means "accept within a month" or "re-notify every 10 years".
BOUNDS = {
    "accept_minutes": (1, 7 * 24 * 60),
    "rectify_hours": (1, 366 * 24),
    "renotify_minutes": (5, 7 * 24 * 60),
}
HISTORY = 30


def may_edit(principal: Principal, unit_level: str) -> bool:
    """Policies hold for the whole city, so only the city's administrators write them."""
    return can_administer(principal) and unit_level == UnitLevel.CITY


@dataclass(frozen=True)
class PolicyInput:
    severity: str
    category: str
    accept_minutes: str
    rectify_hours: str
    renotify_minutes: str
    tiers: str


def active(session: Session) -> list[EscalationPolicy]:
    return list(
        session.execute(
            select(EscalationPolicy)
            .where(EscalationPolicy.active.is_(True))
            .order_by(EscalationPolicy.severity, EscalationPolicy.category)
        ).scalars()
    )


def retired(session: Session) -> list[EscalationPolicy]:
    return list(
        session.execute(
            select(EscalationPolicy)
            .where(EscalationPolicy.active.is_(False))
            .order_by(EscalationPolicy.created_at.desc(), EscalationPolicy.id.desc())
            .limit(HISTORY)
        ).scalars()
    )


def _number(text: str, name: str, errors: dict[str, str]) -> int:
    low, high = BOUNDS[name]
    text = text.strip()
    if not text:
        errors[name] = "required"
    elif not text.isdecimal() or len(text) > 9:
        errors[name] = "policy.whole_number"
    elif not low <= int(text) <= high:
        errors[name] = f"policy.range_{name}"
    else:
        return int(text)
    return 0


def parse(data: PolicyInput) -> tuple[dict[str, object], dict[str, str]]:
    """The new version's values, or per-field message keys."""
    errors: dict[str, str] = {}
    if data.severity not in SEVERITIES:
        errors["severity"] = "policy.severity"
    if data.category not in CATEGORIES:
        errors["category"] = "policy.category"
    values: dict[str, object] = {
        name: _number(getattr(data, name), name, errors) for name in BOUNDS
    }
    try:
        tiers = Policy.parse_tiers(data.tiers)
    except ValueError:
        errors["tiers"] = "policy.tiers"
    else:
        values["tiers"] = ",".join(tier.value for tier in tiers)
    return {"severity": data.severity, "category": data.category, **values}, errors


def new_version(
    session: Session, principal: Principal, unit_level: str, data: PolicyInput, origin: Origin
) -> EscalationPolicy:
    if not may_edit(principal, unit_level):
        raise AppError("forbidden")
    values, errors = parse(data)
    if errors:
        raise AppError("validation_failed", fields=errors)
    same = (
        EscalationPolicy.severity == data.severity,
        EscalationPolicy.category == data.category,
    )
    previous = session.execute(
        select(EscalationPolicy.id, EscalationPolicy.version).where(
            *same, EscalationPolicy.active.is_(True)
        )
    ).all()
    version = session.execute(select(func.max(EscalationPolicy.version)).where(*same)).scalar()
    session.execute(
        update(EscalationPolicy)
        .where(*same, EscalationPolicy.active.is_(True))
        .values(active=False)
    )
    policy = EscalationPolicy(
        **values,  # type: ignore[arg-type]
        version=(version or 0) + 1,
        active=True,
        created_by=principal.id,
    )
    session.add(policy)
    try:
        session.flush()
    except IntegrityError:
        # Someone saved a version of the same pair at the same moment: theirs stands.
        session.rollback()
        raise AppError("conflict") from None
    record(
        session,
        origin,
        "escalation_policy.versioned",
        "escalation_policy",
        policy.id,
        principal.unit_path,
        replaces=[row.id for row in previous],
        **values,
        version=policy.version,
    )
    session.commit()
    return policy
