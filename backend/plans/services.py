"""Breaking a plan into its elements (拆解预案关键要素): the plan, its roles, the task templates per
role and the kinds of protection target it checks. Administrators and city officers only; each
change bumps the plan's version so an incident can say which version it followed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlmodel import Session

from backend.auth.policy import Principal
from backend.models import (
    IncidentTask,
    Plan,
    PlanRole,
    PlanTargetKind,
    PlanTaskTemplate,
    Role,
)
from backend.offline import changes
from backend.plans.policy import INCIDENT_TYPES, MAX_RADIUS_M, TARGET_KINDS, UNIT_LEVELS
from backend.validation import clean_text, identifier, whole_number
from sync import Rejected, Write

PLAN_MANAGERS = frozenset({Role.ADMIN, Role.CITY_OFFICER})
POSITIONS = tuple(r.value for r in Role if r not in (Role.ADMIN, Role.ENTERPRISE_OFFICER))
MAX_TEXT = 2000


def may_manage(principal: Principal) -> bool:
    return principal.role in PLAN_MANAGERS


def _require(principal: Principal) -> None:
    if not may_manage(principal):
        raise Rejected("plan.role")


def _whole(text: str, low: int, high: int, name: str) -> int:
    number = whole_number(text, low, high)
    if number is None:
        raise Rejected("validation_failed", fields={name: "range"})
    return number


def _name(text: str, name: str, limit: int) -> str:
    text, problem = clean_text(text, limit, required=True)
    if problem:
        raise Rejected("validation_failed", fields={name: problem})
    return text


@dataclass(frozen=True)
class PlanInput:
    name: str
    incident_types: Sequence[str]
    base_radius_m: str
    radius_per_level_m: str
    target_kinds: Sequence[str]
    active: bool = True


def save_plan(
    session: Session, principal: Principal, plan_id: int | None, form: PlanInput, now: datetime
) -> tuple[int, list[Write]]:
    """Create a plan, or change one (a new version number)."""
    _require(principal)
    types = sorted(set(form.incident_types))
    if not types or not set(types) <= set(INCIDENT_TYPES):
        raise Rejected("validation_failed", fields={"incident_types": "choice"})
    kinds = sorted(set(form.target_kinds))
    if not set(kinds) <= set(TARGET_KINDS):
        raise Rejected("validation_failed", fields={"target_kinds": "choice"})
    values = {
        "name": _name(form.name, "name", 200),
        "incident_types": types,
        "base_radius_m": _whole(form.base_radius_m, 0, MAX_RADIUS_M, "base_radius_m"),
        "radius_per_level_m": _whole(
            form.radius_per_level_m, 0, MAX_RADIUS_M, "radius_per_level_m"
        ),
        "active": form.active,
        "updated_at": now,
    }
    if plan_id is None:
        plan = Plan(**values, created_at=now)  # type: ignore[arg-type]
    else:
        found = session.get(Plan, plan_id)
        if found is None:
            raise Rejected("loop.not_found")
        plan = found
        for key, value in values.items():
            setattr(plan, key, value)
        plan.version += 1
    session.add(plan)
    session.flush()
    assert plan.id is not None
    session.execute(delete(PlanTargetKind).where(PlanTargetKind.plan_id == plan.id))
    if kinds:
        session.execute(insert(PlanTargetKind), [{"plan_id": plan.id, "kind": k} for k in kinds])
    event = changes.event(
        principal.id, "plan.saved", "plan", plan.id, principal.unit_path, version=plan.version
    )
    return plan.id, [event]


def _plan(session: Session, principal: Principal, plan_id: int) -> Plan:
    _require(principal)
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise Rejected("loop.not_found")
    return plan


def _bump(session: Session, plan: Plan, now: datetime) -> None:
    plan.version += 1
    plan.updated_at = now
    session.add(plan)


def add_role(
    session: Session,
    principal: Principal,
    plan_id: int,
    key: str,
    title: str,
    unit_level: str,
    position: str,
    now: datetime,
) -> list[Write]:
    plan = _plan(session, principal, plan_id)
    key = _name(key, "key", 64)
    if unit_level not in UNIT_LEVELS:
        raise Rejected("validation_failed", fields={"unit_level": "choice"})
    if position not in POSITIONS:
        raise Rejected("validation_failed", fields={"position": "choice"})
    taken = session.execute(
        select(PlanRole.id).where(PlanRole.plan_id == plan_id, PlanRole.key == key)
    ).first()
    if taken is not None:
        raise Rejected("validation_failed", fields={"key": "taken"})
    count = len(session.execute(select(PlanRole.id).where(PlanRole.plan_id == plan_id)).all())
    session.add(
        PlanRole(
            plan_id=plan_id,
            key=key,
            title=_name(title, "title", 100),
            unit_level=unit_level,
            position=position,
            sort=count,
        )
    )
    _bump(session, plan, now)
    return []


def remove_role(
    session: Session, principal: Principal, plan_id: int, role_id: int, now: datetime
) -> list[Write]:
    plan = _plan(session, principal, plan_id)
    role = session.get(PlanRole, role_id)
    if role is None or role.plan_id != plan_id:
        raise Rejected("loop.not_found")
    used = session.execute(select(IncidentTask.id).where(IncidentTask.role_id == role_id)).first()
    if used is not None:
        raise Rejected("plan.role_in_use")
    session.execute(delete(PlanTaskTemplate).where(PlanTaskTemplate.role_id == role_id))
    session.execute(delete(PlanRole).where(PlanRole.id == role_id))
    _bump(session, plan, now)
    return []


@dataclass(frozen=True)
class TemplateInput:
    role_id: str
    title: str
    instructions: str
    manual: str
    risk_tips: str
    accept_minutes: str
    complete_minutes: str


def add_template(
    session: Session, principal: Principal, plan_id: int, form: TemplateInput, now: datetime
) -> list[Write]:
    plan = _plan(session, principal, plan_id)
    role_id = identifier(form.role_id)
    role = session.get(PlanRole, role_id) if role_id else None
    if role is None or role.plan_id != plan_id:
        raise Rejected("validation_failed", fields={"role_id": "choice"})
    for name, text in (
        ("instructions", form.instructions),
        ("manual", form.manual),
        ("risk_tips", form.risk_tips),
    ):
        problem = clean_text(text, MAX_TEXT)[1]
        if problem:
            raise Rejected("validation_failed", fields={name: problem})
    accept = _whole(form.accept_minutes, 1, 7 * 24 * 60, "accept_minutes")
    session.add(
        PlanTaskTemplate(
            plan_id=plan_id,
            role_id=role_id,
            title=_name(form.title, "title", 200),
            instructions=form.instructions.strip(),
            manual=form.manual.strip(),
            risk_tips=form.risk_tips.strip(),
            accept_minutes=accept,
            complete_minutes=_whole(
                form.complete_minutes, accept, 30 * 24 * 60, "complete_minutes"
            ),
        )
    )
    _bump(session, plan, now)
    return []


def remove_template(
    session: Session, principal: Principal, plan_id: int, template_id: int, now: datetime
) -> list[Write]:
    plan = _plan(session, principal, plan_id)
    template = session.get(PlanTaskTemplate, template_id)
    if template is None or template.plan_id != plan_id:
        raise Rejected("loop.not_found")
    session.execute(delete(PlanTaskTemplate).where(PlanTaskTemplate.id == template_id))
    _bump(session, plan, now)
    return []
