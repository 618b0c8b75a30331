"""Incident tasks climb the tiers like hazards: an incident task not accepted by its deadline, or
accepted but not done by its completion deadline, goes to the tier above, under the same pure rule
(backend/escalation/policy.py `due`) and the same duty roster. Called from the escalation sweep,
in its transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from backend.escalation.clocks import Policies, tier_path
from backend.escalation.policy import Clock, Standing, due
from backend.incidents import notices
from backend.models import TIERS, Incident, IncidentTask, Severity, Task, TaskState, Tier
from backend.offline import changes

# Which deadline a task's state runs against: offered -> accept by, accepted -> done by.
CLOCKS = {TaskState.OFFERED.value: Clock.ACCEPT, TaskState.ACCEPTED.value: Clock.RECTIFY}


def _due_rows(session: Session, now: datetime, limit: int) -> list[Any]:
    query = (
        select(
            IncidentTask.id,
            IncidentTask.tier,
            IncidentTask.due_at,
            IncidentTask.fired,
            IncidentTask.title,
            Incident.id.label("incident_id"),
            Incident.unit_path,
            Incident.incident_type,
            Task.state,
        )
        .join(Incident, Incident.id == IncidentTask.incident_id)
        .join(Task, Task.id == IncidentTask.id)
        .where(col(IncidentTask.due_at) <= now)
        .order_by(IncidentTask.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Two sweeps take disjoint rows; on SQLite the caller holds the one write lock already.
        return list(session.execute(query.with_for_update(skip_locked=True, of=IncidentTask)))
    return list(session.execute(query))


def sweep_tasks(session: Session, now: datetime, limit: int = 1000) -> tuple[int, int]:
    """Escalate the overdue incident tasks; returns (escalated, renotified). The caller commits.
    Incidents are emergencies: the major-hazard policy times them."""
    from backend.escalation.services import on_duty  # that module calls this one

    rows = _due_rows(session, now, limit)
    if not rows:
        return 0, 0
    policy = Policies(session).for_hazard(Severity.MAJOR.value, "*")
    duty = on_duty(session, {tier_path(r.unit_path, tier) for r in rows for tier in TIERS}, now)
    escalated = renotified = 0
    writes = []
    for row in rows:
        step = None
        clock = CLOCKS.get(row.state)
        if clock is not None:
            staffed = {tier for tier in TIERS if duty[tier_path(row.unit_path, tier)]}
            standing = Standing(Tier(row.tier), clock, row.due_at, frozenset(row.fired or []))
            step = due(policy, standing, now, staffed)
        if step is None:
            # Answered meanwhile (or nothing left to do): stop watching it.
            session.execute(
                update(IncidentTask).where(IncidentTask.id == row.id).values(due_at=None)
            )
            continue
        tier = step.escalate_to or Tier(row.tier)
        people = duty[tier_path(row.unit_path, tier)]
        kind = "incident.escalated" if step.escalate_to else "incident.overdue"
        if clock is Clock.RECTIFY:
            kind += "_unfinished"
        notices.send(
            session,
            people,
            kind,
            f"/incidents/{row.incident_id}",
            incident_type=row.incident_type,
            title=row.title,
        )
        session.execute(
            update(IncidentTask)
            .where(IncidentTask.id == row.id)
            .values(tier=tier.value, due_at=step.next_due, fired=sorted(step.fired))
        )
        writes.append(
            changes.event(
                None,
                "incident.task_escalated" if step.escalate_to else "incident.task_renotified",
                "incident",
                row.incident_id,
                row.unit_path,
                task_id=row.id,
                from_tier=row.tier,
                to_tier=tier.value,
                reason=step.reason,
                notified=people,
            )
        )
        if step.escalate_to:
            escalated += 1
        else:
            renotified += 1
    changes.store(session, writes)
    return escalated, renotified
