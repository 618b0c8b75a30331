"""Scoped reads for the incident pages: the list, the draft's proposals, the protection targets
inside the radius, similar past incidents, the board, and an incident task's card."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from backend.auth.policy import Principal
from backend.incidents.responder import may_check
from backend.models import (
    Incident,
    IncidentState,
    IncidentTask,
    Notification,
    Plan,
    PlanTargetKind,
    ProtectionTarget,
    TargetCheck,
    Task,
    TaskOffer,
    TaskState,
    User,
)
from backend.plans.policy import bounding_box, inside, matching, similar_order


def incidents(session: Session, principal: Principal, limit: int = 100) -> Sequence[Incident]:
    if principal.is_enterprise:
        return []
    return (
        session.execute(
            select(Incident)
            .where(Incident.unit_path.startswith(principal.unit_path))
            .order_by(Incident.created_at.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def targets_inside(
    session: Session, lat: float, lon: float, radius: float, kinds: Sequence[str] | None = None
) -> list[tuple[ProtectionTarget, float]]:
    """Targets within `radius` metres, nearest first: an indexed box in SQL, then the exact
    great-circle distance (the box's corners lie outside the circle)."""
    box = bounding_box(lat, lon, radius)
    query = select(ProtectionTarget).where(
        ProtectionTarget.latitude.between(box.south, box.north),
        ProtectionTarget.longitude.between(box.west, box.east),
    )
    if kinds is not None:
        query = query.where(ProtectionTarget.kind.in_(list(kinds)))
    return inside(session.execute(query).scalars().all(), lat, lon, radius)


def plan_kinds(session: Session, plan_id: int | None) -> list[str] | None:
    """The kinds of target the plan checks; None (every kind) without a plan or a list."""
    if plan_id is None:
        return None
    kinds = list(
        session.execute(select(PlanTargetKind.kind).where(PlanTargetKind.plan_id == plan_id))
        .scalars()
        .all()
    )
    return kinds or None


def targets_of(session: Session, incident: Incident) -> list[tuple[ProtectionTarget, float]]:
    return targets_inside(
        session,
        incident.latitude,
        incident.longitude,
        incident.radius_m,
        plan_kinds(session, incident.plan_id),
    )


def similar(
    session: Session, principal: Principal, incident: Incident, now: datetime
) -> list[tuple[Incident, float]]:
    """Past incidents of the same type the person may see: nearest, then most recent."""
    rows = (
        session.execute(
            select(Incident)
            .where(
                Incident.incident_type == incident.incident_type,
                Incident.id != incident.id,
                Incident.state != IncidentState.DRAFT.value,
                Incident.unit_path.startswith(principal.unit_path),
            )
            .order_by(Incident.created_at.desc())
            .limit(200)
        )
        .scalars()
        .all()
    )
    by_id = {row.id: row for row in rows}
    order = similar_order(
        [(r.id, r.latitude, r.longitude, (now - r.created_at).total_seconds()) for r in rows],
        incident.latitude,
        incident.longitude,
    )
    return [(by_id[i], distance) for i, distance in order]


def names(session: Session, user_ids: Sequence[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return {
        int(i): n
        for i, n in session.execute(
            select(User.id, User.display_name).where(User.id.in_(sorted(set(user_ids))))
        ).all()
    }


def draft_context(
    session: Session, principal: Principal, incident: Incident, now: datetime
) -> dict[str, Any]:
    from backend.incidents.services import active_plans, candidates

    drafts = list(
        session.execute(
            select(IncidentTask)
            .where(IncidentTask.incident_id == incident.id)
            .order_by(IncidentTask.sort)
        ).scalars()
    )
    people = candidates(session, incident)
    return {
        "plans": matching(active_plans(session), incident.incident_type),
        "plan": session.get(Plan, incident.plan_id) if incident.plan_id else None,
        "drafts": drafts,
        "candidates": people,
        "names": {row[0]: row[1] for row in people}
        | names(session, [u for d in drafts for u in d.people]),
        "targets": targets_of(session, incident),
        "similar": similar(session, principal, incident, now),
    }


def board(session: Session, principal: Principal, incident: Incident) -> dict[str, Any]:
    """Every task with its people and state (sent, seen, accepted, done), from the task and the
    notifications' receipts; the targets and who checked each."""
    rows = session.execute(
        select(IncidentTask, Task)
        .outerjoin(Task, Task.id == IncidentTask.id)
        .where(IncidentTask.incident_id == incident.id, IncidentTask.dropped.is_(False))
        .order_by(IncidentTask.sort)
    ).all()
    task_ids = [row.IncidentTask.id for row in rows]
    receipts: dict[tuple[str, int], dict[str, Any]] = {}
    if task_ids:
        for n in session.execute(
            select(
                Notification.task_id,
                Notification.user_id,
                Notification.seen_at,
                Notification.accepted_at,
            ).where(Notification.task_id.in_(task_ids), Notification.kind == "incident.task")
        ).all():
            receipts[(str(n.task_id), int(n.user_id))] = {"seen": n.seen_at is not None}
    declined = {
        (o.task_id, o.user_id)
        for o in session.execute(
            select(TaskOffer).where(
                TaskOffer.task_id.in_(task_ids or [""]), TaskOffer.declined_at.is_not(None)
            )
        ).scalars()
    }
    who = names(session, [u for row in rows for u in row.IncidentTask.people])
    tasks = []
    for row in rows:
        draft, task = row.IncidentTask, row.Task
        people = []
        for user_id in draft.people:
            status = "drafted"
            if task is not None:
                status = "sent" if (task.id, user_id) in receipts else "pending"
                if receipts.get((task.id, user_id), {}).get("seen"):
                    status = "seen"
                if (task.id, user_id) in declined:
                    status = "declined"
                if task.accepted_by == user_id:
                    status = "done" if task.state == TaskState.DONE else "accepted"
            people.append({"id": user_id, "name": who.get(user_id, "?"), "status": status})
        tasks.append({"draft": draft, "task": task, "people": people})
    checks = {
        row.TargetCheck.target_id: row
        for row in session.execute(
            select(TargetCheck, User.display_name)
            .join(User, User.id == TargetCheck.user_id)
            .where(TargetCheck.incident_id == incident.id)
        ).all()
    }
    counts = dict(
        session.execute(
            select(Task.state, func.count())
            .where(Task.incident_id == incident.id)
            .group_by(Task.state)
        ).all()
    )
    return {
        "tasks": tasks,
        "targets": targets_of(session, incident),
        "checks": checks,
        "counts": counts,
        "may_check": may_check(session, principal, incident),
        "plan": session.get(Plan, incident.plan_id) if incident.plan_id else None,
    }


def task_card(session: Session, principal: Principal, task_id: str) -> dict[str, Any] | None:
    """An incident task as its people see it. Those it was offered to and officers whose area
    holds the incident may open it; anyone else gets 'not found'."""
    row = session.execute(
        select(Task, IncidentTask, Incident)
        .join(IncidentTask, IncidentTask.id == Task.id)
        .join(Incident, Incident.id == Task.incident_id)
        .where(Task.id == task_id.lower()[:36])
    ).first()
    if row is None or principal.is_enterprise:
        return None
    offer = session.execute(
        select(TaskOffer).where(TaskOffer.task_id == row.Task.id, TaskOffer.user_id == principal.id)
    ).scalar_one_or_none()
    in_area = row.Incident.unit_path.startswith(principal.unit_path)
    if offer is None and not in_area and row.Task.accepted_by != principal.id:
        return None
    task = row.Task
    holds = task.accepted_by == principal.id
    return {
        "task": task,
        "draft": row.IncidentTask,
        "incident": row.Incident,
        "place": row.IncidentTask.title,
        "offer": offer,
        "holder": names(session, [task.accepted_by]).get(task.accepted_by or 0)
        if task.accepted_by
        else None,
        "may_answer": task.state == TaskState.OFFERED
        and offer is not None
        and offer.declined_at is None,
        "may_finish": holds and task.state == TaskState.ACCEPTED,
        "targets": targets_of(session, row.Incident),
        "checks": {
            c.target_id: c
            for c in session.execute(
                select(TargetCheck).where(TargetCheck.incident_id == row.Incident.id)
            ).scalars()
        },
        "may_check": holds and row.Incident.state == IncidentState.CONFIRMED,
        # The board is for those whose area holds the incident's (services.get): a grid's
        # inspector offered a street incident's task gets no link that would answer 'not found'.
        "may_open_board": in_area,
    }
