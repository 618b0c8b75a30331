"""An incident from report to confirmation: the plan proposed, the radius, the tasks drafted for
the plan's roles resolved to people, the commander's edits, and the one confirmation that sends
every task. Refusals are `Rejected` with a stable code, as in the loop (backend/tasks/)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlmodel import Session

from backend.auth.policy import Principal
from backend.db import settings_of
from backend.escalation.clocks import TIER_ROLE, tier_of_path, tier_of_unit_level
from backend.escalation.services import on_duty
from backend.incidents import notices
from backend.models import (
    Incident,
    IncidentState,
    IncidentTask,
    Plan,
    PlanRole,
    PlanTaskTemplate,
    Role,
    Task,
    TaskOffer,
    TaskState,
    Unit,
    User,
)
from backend.offline import changes
from backend.plans.policy import INCIDENT_TYPES, SCALES, ancestor_path, matching, radius_m
from backend.timezone import format_local, zone_for
from backend.validation import (
    Area,
    clean_text,
    identifier,
    position,
    text_problem,
    whole_number,
)
from sync import Rejected, Write

COMMANDERS = frozenset({Role.DISTRICT_OFFICER, Role.CITY_OFFICER})
MAX_TEXT = 2000
# Without a matching plan the radius still has to be something a commander can judge.
FALLBACK_RADIUS = (500, 500)


def require_commander(principal: Principal) -> None:
    if principal.role not in COMMANDERS:
        raise Rejected("incident.role")


def get(
    session: Session, principal: Principal, incident_id: str, *, lock: bool = False
) -> Incident:
    """The incident, or 'not found' when it lies outside the person's area (not told apart)."""
    if principal.is_enterprise:
        raise Rejected("loop.not_found")
    query = select(Incident).where(
        Incident.id == incident_id.lower()[:36],
        Incident.unit_path.startswith(principal.unit_path),
    )
    found = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if not isinstance(found, Incident):
        raise Rejected("loop.not_found")
    return found


@dataclass(frozen=True)
class Report:
    incident_type: str
    latitude: float
    longitude: float
    scale: int
    description: str
    unit_id: int


def read_report(form: Mapping[str, str], area: Area) -> tuple[Report | None, dict[str, str]]:
    """The report form's fields, or the problems by field (`fields.*` codes). Pure: whether the
    unit is the commander's is `report`'s to say."""
    errors: dict[str, str] = {}
    incident_type = form.get("incident_type", "")
    if incident_type not in INCIDENT_TYPES:
        errors["incident_type"] = "choice"
    point, problems = position(form.get("latitude"), form.get("longitude"), area)
    errors.update(problems)
    scale = whole_number(form.get("scale"), min(SCALES), max(SCALES))
    if scale is None:
        errors["scale"] = "choice"
    description, problem = clean_text(form.get("description"), MAX_TEXT)
    if problem:
        errors["description"] = problem
    unit_id = identifier(form.get("unit_id"))
    if unit_id is None:
        errors["unit_id"] = "choice"
    if errors or point is None or scale is None:
        return None, errors
    return Report(incident_type, point[0], point[1], scale, description, unit_id), {}


def active_plans(session: Session) -> list[Plan]:
    return list(session.execute(select(Plan).where(Plan.active.is_(True))).scalars())


def report(
    session: Session, principal: Principal, fields: Report, now: datetime, incident_id: str
) -> list[Write]:
    """A draft incident with the proposed plan, its radius and the drafted tasks."""
    require_commander(principal)
    unit = session.get(Unit, fields.unit_id)
    if unit is None or not unit.path.startswith(principal.unit_path):
        raise Rejected("validation_failed", fields={"unit_id": "choice"})
    plans = matching(active_plans(session), fields.incident_type)
    plan = plans[0] if plans else None
    session.execute(
        insert(Incident).values(
            id=incident_id,
            incident_type=fields.incident_type,
            latitude=fields.latitude,
            longitude=fields.longitude,
            scale=fields.scale,
            description=fields.description.strip(),
            reported_by=principal.id,
            unit_path=unit.path,
            state=IncidentState.DRAFT.value,
            radius_m=_radius(plan, fields.scale),
            plan_id=plan.id if plan else None,
            created_at=now,
        )
    )
    incident = session.get(Incident, incident_id)
    assert incident is not None
    if plan is not None:
        draft_tasks(session, incident, plan, now)
    return [
        changes.event(
            principal.id,
            "incident.reported",
            "incident",
            incident_id,
            unit.path,
            incident_type=fields.incident_type,
            scale=fields.scale,
            plan_id=plan.id if plan else None,
        )
    ]


def _radius(plan: Plan | None, scale: int) -> int:
    base, step = (plan.base_radius_m, plan.radius_per_level_m) if plan else FALLBACK_RADIUS
    return radius_m(base, step, scale)


def choose_plan(
    session: Session, principal: Principal, incident_id: str, plan_id: int, now: datetime
) -> list[Write]:
    """Another of the matching plans: the radius and the draft tasks are made again."""
    require_commander(principal)
    incident = _draft(session, principal, incident_id)
    plan = session.get(Plan, plan_id)
    fitting = {p.id for p in matching(active_plans(session), incident.incident_type)}
    if plan is None or plan.id not in fitting:
        raise Rejected("incident.plan_not_matching")
    session.execute(delete(IncidentTask).where(IncidentTask.incident_id == incident.id))
    incident.plan_id, incident.radius_m = plan.id, _radius(plan, incident.scale)
    session.add(incident)
    session.flush()
    draft_tasks(session, incident, plan, now)
    return [
        changes.event(
            principal.id,
            "incident.plan_chosen",
            "incident",
            incident.id,
            incident.unit_path,
            plan_id=plan.id,
        )
    ]


def _draft(session: Session, principal: Principal, incident_id: str) -> Incident:
    incident = get(session, principal, incident_id, lock=True)
    if incident.state != IncidentState.DRAFT:
        raise Rejected("incident.not_draft")
    return incident


# ---- drafting ---------------------------------------------------------------------------------


def resolve_people(
    session: Session, unit_path: str, level: str, position: str, now: datetime
) -> list[int]:
    """Who fills a plan role for an incident at `unit_path`: at the unit of `level` above it,
    the people on duty there when the role is that tier's duty role (the roster first), else the
    active users of `position` there. A role below the incident's unit (its grids' inspectors for
    a street's incident) takes everyone of that position under the incident's unit."""
    depth = {"city": 1, "district": 2, "street": 3, "grid": 4}[level]
    below = depth > len([part for part in unit_path.split("/") if part])
    query = (
        select(User.id)
        .join(Unit, Unit.id == User.unit_id)
        .where(User.active.is_(True), User.role == position, Unit.level == level)
    )
    if below:
        query = query.where(Unit.path.startswith(unit_path))
    else:
        target = ancestor_path(unit_path, level)
        tier = tier_of_unit_level(level)
        if tier is not None and TIER_ROLE[tier].value == position:
            return on_duty(session, [target], now).get(target, [])
        query = query.where(Unit.path == target)
    return sorted(int(user_id) for user_id in session.execute(query).scalars())


def draft_tasks(session: Session, incident: Incident, plan: Plan, now: datetime) -> None:
    rows = session.execute(
        select(PlanTaskTemplate, PlanRole)
        .join(PlanRole, PlanRole.id == PlanTaskTemplate.role_id)
        .where(PlanTaskTemplate.plan_id == plan.id)
        .order_by(PlanRole.sort, PlanRole.id, PlanTaskTemplate.id)
    ).all()
    drafts = []
    for number, (template, role) in enumerate(rows):
        people = resolve_people(session, incident.unit_path, role.unit_level, role.position, now)
        drafts.append(
            {
                "id": str(uuid.uuid4()),
                "incident_id": incident.id,
                "role_id": role.id,
                "role_title": role.title,
                "title": template.title,
                "instructions": template.instructions,
                "manual": template.manual,
                "risk_tips": template.risk_tips,
                "people": people,
                "accept_minutes": template.accept_minutes,
                "complete_minutes": template.complete_minutes,
                "dropped": False,
                "sort": number,
                "tier": tier_of_path(incident.unit_path).value,
                "fired": [],
                "done_note": "",
            }
        )
    if drafts:
        session.execute(insert(IncidentTask), drafts)


def candidates(session: Session, incident: Incident) -> list[tuple[int, str, str, str]]:
    """Who a draft task may be given to (id, name, role, unit): anyone who can see the incident
    (their unit holds it) or works under its unit; never an enterprise or an administrator."""
    district = ancestor_path(incident.unit_path, "district")
    rows = session.execute(
        select(User.id, User.display_name, User.role, Unit.name, Unit.path)
        .join(Unit, Unit.id == User.unit_id)
        .where(
            User.active.is_(True),
            User.role.not_in([Role.ENTERPRISE_OFFICER.value, Role.ADMIN.value]),
            Unit.path.startswith(ancestor_path(incident.unit_path, "city")),
        )
        .order_by(User.role, User.display_name)
    ).all()
    return [
        (int(r.id), r.display_name, r.role, r.name)
        for r in rows
        if incident.unit_path.startswith(r.path)
        or (r.path.startswith(incident.unit_path) and r.path.startswith(district))
    ]


@dataclass(frozen=True)
class TaskEdit:
    instructions: str
    people: tuple[int, ...]
    dropped: bool


def edit_task(
    session: Session, principal: Principal, incident_id: str, task_id: str, edit: TaskEdit
) -> list[Write]:
    require_commander(principal)
    incident = _draft(session, principal, incident_id)
    draft = session.get(IncidentTask, task_id.lower()[:36])
    if draft is None or draft.incident_id != incident.id:
        raise Rejected("loop.not_found")
    if text_problem(edit.instructions):
        raise Rejected("validation_failed", fields={"instructions": "control_chars"})
    if len(edit.instructions) > MAX_TEXT:
        raise Rejected("loop.too_long")
    allowed = {row[0] for row in candidates(session, incident)}
    if not set(edit.people) <= allowed:
        raise Rejected("loop.not_assignable")
    draft.instructions = edit.instructions.strip()
    draft.people = sorted(set(edit.people))
    draft.dropped = edit.dropped
    session.add(draft)
    session.flush()
    return []


# ---- confirmation -----------------------------------------------------------------------------


def confirm(session: Session, principal: Principal, incident_id: str, now: datetime) -> list[Write]:
    """Send every task at once. Exactly once: the draft→confirmed UPDATE is conditional, so a
    second press (or a second commander) finds nothing to do and creates nothing. The tasks,
    offers and notification rows commit together; delivery is queued after the commit, and a
    broker that is down then only delays it (the outbox's sweep re-sends pending ones)."""
    require_commander(principal)
    incident = get(session, principal, incident_id)
    drafts = [
        d
        for d in session.execute(
            select(IncidentTask)
            .where(IncidentTask.incident_id == incident.id)
            .order_by(IncidentTask.sort)
        ).scalars()
        if not d.dropped and d.people
    ]
    moved = session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.state == IncidentState.DRAFT.value)
        .values(state=IncidentState.CONFIRMED.value, confirmed_by=principal.id, confirmed_at=now)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return []  # confirmed already (a double press, or another commander): nothing more
    if not drafts:
        raise Rejected("incident.no_tasks")
    for draft in drafts:
        accept_by = now + timedelta(minutes=draft.accept_minutes)
        session.execute(
            insert(Task).values(
                id=draft.id,
                hazard_id=None,
                incident_id=incident.id,
                unit_path=incident.unit_path,
                state=TaskState.OFFERED.value,
                instructions=draft.instructions,
                accept_by=accept_by,
                rectify_by=now
                + timedelta(minutes=max(draft.complete_minutes, draft.accept_minutes)),
                assigned_by=principal.id,
                created_at=now,
            )
        )
        session.execute(
            insert(TaskOffer), [{"task_id": draft.id, "user_id": u} for u in draft.people]
        )
        # The accept clock the escalation sweep watches (backend/incidents/escalation.py).
        session.execute(
            update(IncidentTask).where(IncidentTask.id == draft.id).values(due_at=accept_by)
        )
        notices.send(
            session,
            draft.people,
            "incident.task",
            f"/tasks/{draft.id}",
            incident_type=incident.incident_type,
            task_id=draft.id,
            actions=("accept", "decline"),
            title=draft.title,
            # Local wall-clock time, as the pages and the hazard tasks' pushes show it.
            deadline=format_local(accept_by, zone_for(settings_of(session)), "%m-%d %H:%M"),
        )
    return [
        changes.event(
            principal.id,
            "incident.confirmed",
            "incident",
            incident.id,
            incident.unit_path,
            tasks=[d.id for d in drafts],
        )
    ]


def close(session: Session, principal: Principal, incident_id: str, now: datetime) -> list[Write]:
    """The incident is over: open tasks are withdrawn, their clocks stop."""
    require_commander(principal)
    incident = get(session, principal, incident_id, lock=True)
    if incident.state != IncidentState.CONFIRMED:
        raise Rejected("incident.not_confirmed")
    session.execute(
        update(Incident).where(Incident.id == incident.id).values(state=IncidentState.CLOSED.value)
    )
    session.execute(
        update(Task)
        .where(Task.incident_id == incident.id, Task.state == TaskState.OFFERED.value)
        .values(state=TaskState.CANCELLED.value, ended_at=now)
    )
    session.execute(
        update(IncidentTask).where(IncidentTask.incident_id == incident.id).values(due_at=None)
    )
    return [
        changes.event(principal.id, "incident.closed", "incident", incident.id, incident.unit_path)
    ]
