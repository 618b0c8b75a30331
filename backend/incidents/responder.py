"""What a responder does with an incident's task: accept (first one wins), decline with a reason,
report it done with a note, and mark a protection target checked. The loop's `task.accept` and
`task.decline` (pages and sync mutations alike) hand incident tasks to this module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from backend.auth.policy import Principal
from backend.incidents import notices
from backend.models import (
    Incident,
    IncidentState,
    IncidentTask,
    ProtectionTarget,
    TargetCheck,
    Task,
    TaskOffer,
    TaskState,
    User,
)
from backend.offline import changes
from backend.plans.policy import haversine_m
from backend.push import outbox
from backend.validation import refuse_control_chars
from sync import Rejected, Write

if TYPE_CHECKING:
    from backend.tasks.services import Origin

MAX_REASON = 500
MAX_NOTE = 2000


@dataclass
class Loaded:
    task: Task
    incident: Incident
    offers: list[TaskOffer]


def _load(session: Session, task_id: str) -> Loaded:
    """The task, locked for this transaction (SQLite: its write lock taken first, so two people
    answering at once queue here instead of one failing on commit)."""
    task_id = task_id.lower()[:36]
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Task).where(Task.id == task_id).values(state=Task.state))
    task = session.execute(
        select(Task).where(Task.id == task_id).with_for_update()
    ).scalar_one_or_none()
    if task is None or task.incident_id is None:
        raise Rejected("loop.not_found")
    incident = session.get(Incident, task.incident_id)
    assert incident is not None
    offers = list(session.execute(select(TaskOffer).where(TaskOffer.task_id == task.id)).scalars())
    return Loaded(task, incident, offers)


def _offered(loaded: Loaded, principal: Principal) -> bool:
    return any(o.user_id == principal.id and o.declined_at is None for o in loaded.offers)


def _event(
    principal: Principal, action: str, loaded: Loaded, origin: Origin, **data: object
) -> Write:
    at, synced_later = origin.timing()
    return changes.event(
        principal.id,
        action,
        "incident",
        loaded.incident.id,
        loaded.incident.unit_path,
        task_id=loaded.task.id,
        device=origin.device,
        client_id=origin.client_id,
        mutation_id=origin.mutation_id,
        synced_later=synced_later,
        claimed_at=at.isoformat(),
        **data,
    )


def accept(session: Session, principal: Principal, task_id: str, origin: Origin) -> list[Write]:
    """The first to accept takes the task, and the others still offered it are told who."""
    loaded = _load(session, task_id)
    task = loaded.task
    if task.state == TaskState.ACCEPTED:
        if task.accepted_by == principal.id:
            return []  # accepted already, from the notification or another tab
        holder = session.execute(
            select(User.display_name).where(User.id == task.accepted_by)
        ).scalar_one()
        raise Rejected("task.taken", by=holder)
    if task.state == TaskState.CANCELLED:
        raise Rejected("task.withdrawn")
    if task.state != TaskState.OFFERED:
        raise Rejected("task.over")
    if not _offered(loaded, principal):
        raise Rejected("loop.not_offered")
    at, _ = origin.timing()
    session.execute(
        update(Task)
        .where(Task.id == task.id, Task.state == TaskState.OFFERED.value)
        .values(state=TaskState.ACCEPTED.value, accepted_by=principal.id, accepted_at=at)
    )
    # Accepted: the accept clock stops and the completion clock starts; a task accepted but not
    # done by its deadline climbs too (backend/incidents/escalation.py).
    session.execute(
        update(IncidentTask).where(IncidentTask.id == task.id).values(due_at=task.rectify_by)
    )
    outbox.mark(session, user_id=principal.id, event="accepted", task_id=task.id)
    _tell_the_others(session, principal, loaded)
    return [_event(principal, "incident.task_accepted", loaded, origin)]


def _tell_the_others(session: Session, principal: Principal, loaded: Loaded) -> None:
    """Everyone else still offered the task (not those who declined) hears who took it."""
    others = [
        o.user_id for o in loaded.offers if o.user_id != principal.id and o.declined_at is None
    ]
    if not others:
        return
    title = session.execute(
        select(IncidentTask.title).where(IncidentTask.id == loaded.task.id)
    ).scalar_one()
    notices.task_taken(
        session,
        loaded.incident.incident_type,
        loaded.task.id,
        title,
        others,
        principal.display_name,
    )


def decline(
    session: Session, principal: Principal, task_id: str, reason: str, origin: Origin
) -> list[Write]:
    """A decline with its reason; when everyone has declined, the commander is told."""
    reason = reason.strip()
    refuse_control_chars("reason", reason)
    if not reason:
        raise Rejected("loop.reason_required")
    if len(reason) > MAX_REASON:
        raise Rejected("loop.too_long")
    loaded = _load(session, task_id)
    task = loaded.task
    if task.state == TaskState.ACCEPTED:
        raise Rejected("task.taken_decline")
    if task.state != TaskState.OFFERED:
        raise Rejected("task.over")
    if not _offered(loaded, principal):
        raise Rejected("loop.not_offered")
    at, _ = origin.timing()
    session.execute(
        update(TaskOffer)
        .where(TaskOffer.task_id == task.id, TaskOffer.user_id == principal.id)
        .values(declined_at=at, decline_reason=reason)
    )
    everyone = not [o for o in loaded.offers if o.declined_at is None and o.user_id != principal.id]
    if everyone:
        session.execute(
            update(Task)
            .where(Task.id == task.id)
            .values(state=TaskState.DECLINED.value, ended_at=origin.now)
        )
        session.execute(update(IncidentTask).where(IncidentTask.id == task.id).values(due_at=None))
        notices.send(
            session,
            [loaded.incident.confirmed_by or task.assigned_by],
            "incident.declined",
            f"/incidents/{loaded.incident.id}",
            incident_type=loaded.incident.incident_type,
            by=principal.display_name,
            reason=reason,
        )
    return [_event(principal, "incident.task_declined", loaded, origin, reason=reason)]


def done(
    session: Session, principal: Principal, task_id: str, note: str, origin: Origin
) -> list[Write]:
    """Done, with a note of what was done (完成并说明): only by whoever holds the task."""
    note = note.strip()
    refuse_control_chars("note", note)
    if not note:
        raise Rejected("loop.note_required")
    if len(note) > MAX_NOTE:
        raise Rejected("loop.too_long")
    loaded = _load(session, task_id)
    task = loaded.task
    if task.state == TaskState.DONE and task.accepted_by == principal.id:
        return []  # a replay of the same report
    if task.state != TaskState.ACCEPTED or task.accepted_by != principal.id:
        raise Rejected("loop.not_holder")
    session.execute(
        update(Task)
        .where(Task.id == task.id)
        .values(state=TaskState.DONE.value, ended_at=origin.now)
    )
    session.execute(
        update(IncidentTask).where(IncidentTask.id == task.id).values(done_note=note, due_at=None)
    )
    return [_event(principal, "incident.task_done", loaded, origin, note=note)]


def may_check(session: Session, principal: Principal, incident: Incident) -> bool:
    """Whoever holds one of the incident's tasks, or an officer whose area holds it."""
    if principal.is_enterprise:
        return False
    holds = session.execute(
        select(Task.id).where(
            Task.incident_id == incident.id,
            Task.accepted_by == principal.id,
            Task.state.in_([TaskState.ACCEPTED.value, TaskState.DONE.value]),
        )
    ).first()
    return holds is not None or incident.unit_path.startswith(principal.unit_path)


def check_target(
    session: Session,
    principal: Principal,
    incident_id: str,
    target_id: int,
    note: str,
    origin: Origin,
) -> list[Write]:
    """Mark a protection target inside the incident's radius checked; the first check stands."""
    incident = session.get(Incident, incident_id.lower()[:36])
    if incident is None or not may_check(session, principal, incident):
        raise Rejected("loop.not_found")
    if incident.state != IncidentState.CONFIRMED:
        raise Rejected("incident.not_confirmed")
    refuse_control_chars("note", note)
    if len(note) > 500:
        raise Rejected("loop.too_long")
    target = session.get(ProtectionTarget, target_id)
    if (
        target is None
        or haversine_m(incident.latitude, incident.longitude, target.latitude, target.longitude)
        > incident.radius_m
    ):
        raise Rejected("incident.target_outside")
    when, synced_later = origin.timing()
    # Two people checking one target at the same moment: the first insert stands and the other
    # changes nothing (a plain insert would fail the second one's request on the primary key).
    insert_for = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    first = session.execute(
        insert_for(TargetCheck)
        .values(
            incident_id=incident.id,
            target_id=target_id,
            user_id=principal.id,
            note=note.strip(),
            at=when,
        )
        .on_conflict_do_nothing(index_elements=["incident_id", "target_id"])
        .returning(TargetCheck.target_id)
    ).first()
    if first is None:
        return []
    return [
        changes.event(
            principal.id,
            "incident.target_checked",
            "incident",
            incident.id,
            incident.unit_path,
            target_id=target_id,
            synced_later=synced_later,
            device=origin.device,
        )
    ]
