"""The closed loop's operations: each locks the hazard, asks the rules, moves the rows, and
leaves the history, the phones' change log and the notifications in the same transaction.

Every operation is used by the pages (then `changes.store` + commit) and by the sync mutations
(the returned writes go into the batch's plan), so offline and online obey the same rules.
Refusals are `Rejected` with a stable code; the caller translates it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session, col

from backend.auth.policy import Principal
from backend.escalation import clocks
from backend.hazards.rules import believed_time
from backend.incidents import responder as incident_tasks
from backend.models import (
    Hazard,
    HazardPhoto,
    HazardState,
    PhotoUpload,
    Rectification,
    RectificationPhoto,
    Role,
    Severity,
    Task,
    TaskOffer,
    TaskState,
    Tier,
    Unit,
    User,
)
from backend.offline import changes
from backend.offline.entities import hazard_data
from backend.offline.photos import sent_by
from backend.risk import services as risk
from backend.tasks import notices
from backend.tasks.rules import Action, Facts, decide
from backend.validation import refuse_control_chars
from sync import Rejected, Write

MAX_REASON = 500
MAX_NOTE = 2000
OPEN_TASK_STATES = (TaskState.OFFERED.value, TaskState.ACCEPTED.value)


@dataclass
class Loaded:
    hazard: Hazard
    task: Task | None
    offers: list[TaskOffer] = field(default_factory=list)


@dataclass(frozen=True)
class Origin:
    """Where an operation came from: a page now, or a phone's mutation made (maybe) earlier."""

    now: datetime
    claimed_at: datetime | None = None
    device: str = ""
    client_id: str | None = None
    mutation_id: int | None = None
    # Where the phone was (latitude, longitude, accuracy in metres), when it knew.
    position: tuple[float | None, float | None, float | None] = (None, None, None)

    def timing(self) -> tuple[datetime, bool]:
        """When it happened as far as we believe the phone, and whether it was synced later."""
        return believed_time(self.claimed_at or self.now, self.now)


def _visible(principal: Principal) -> Any:
    if principal.is_enterprise:
        return Hazard.enterprise_id == principal.enterprise_id
    return Hazard.unit_path.startswith(principal.unit_path)


def load(session: Session, principal: Principal, hazard_id: str, *, lock: bool = True) -> Loaded:
    """The hazard (locked for this transaction) with its open task, or 'not found' when it does
    not exist or lies outside the person's area: the two are not told apart."""
    hazard_id = hazard_id.lower()[:36]
    if lock and session.get_bind().dialect.name == "sqlite":
        # Take SQLite's write lock before reading, so two people acting at once queue up here
        # instead of one failing on commit.
        session.execute(
            update(Hazard).where(Hazard.id == hazard_id).values(updated_at=Hazard.updated_at)
        )
    query = select(Hazard).where(Hazard.id == hazard_id, _visible(principal))
    hazard = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if hazard is None:
        raise Rejected("loop.not_found")
    open_task = _OPEN_TASK.with_for_update() if lock else _OPEN_TASK
    task = session.execute(open_task, {"hazard_id": hazard.id}).scalar_one_or_none()
    return Loaded(hazard, task, _offers(session, task))


def loaded_for_reading(session: Session, hazard: Hazard) -> Loaded:
    """`load` without the locks, for a hazard a page has already read within the person's area
    (the card), so it is not read twice."""
    task = session.execute(_OPEN_TASK, {"hazard_id": hazard.id}).scalar_one_or_none()
    return Loaded(hazard, task, _offers(session, task))


_OPEN_TASK = (
    select(Task)
    .where(Task.hazard_id == bindparam("hazard_id"), col(Task.state).in_(OPEN_TASK_STATES))
    .order_by(col(Task.created_at).desc())
    .limit(1)
)
_OFFERS = select(TaskOffer).where(TaskOffer.task_id == bindparam("task_id"))


def _offers(session: Session, task: Task | None) -> list[TaskOffer]:
    if task is None:
        return []
    return list(session.execute(_OFFERS, {"task_id": task.id}).scalars())


def facts_for(principal: Principal, loaded: Loaded) -> Facts:
    task = loaded.task
    offered = False
    holds = False
    if task is not None:
        if task.state == TaskState.OFFERED:
            offered = any(
                offer.user_id == principal.id and offer.declined_at is None
                for offer in loaded.offers
            )
        elif task.state == TaskState.ACCEPTED:
            holds = task.accepted_by == principal.id or (
                task.enterprise_id is not None
                and principal.is_enterprise
                and principal.enterprise_id == task.enterprise_id
            )
    return Facts(
        state=HazardState(loaded.hazard.state),
        severity=Severity(loaded.hazard.severity),
        offered_to_actor=offered,
        holds_task=holds,
        verified_by=loaded.hazard.verified_by,
    )


def _decide(principal: Principal, action: Action, loaded: Loaded) -> HazardState:
    return decide(principal.role, principal.id, action, facts_for(principal, loaded))


def _move(
    session: Session, loaded: Loaded, state: HazardState, now: datetime, **values: Any
) -> None:
    hazard = loaded.hazard
    session.execute(
        update(Hazard)
        .where(Hazard.id == hazard.id)
        .values(state=state.value, updated_at=now, **values)
    )
    hazard.state = state.value
    for key, value in values.items():
        setattr(hazard, key, value)
    # Open, overdue and settled hazards are risk factors: rescored by a worker after commit.
    risk.touch(session, [hazard.enterprise_id])


def _history(
    session: Session,
    principal: Principal,
    action: str,
    loaded: Loaded,
    origin: Origin,
    **data: Any,
) -> list[Write]:
    """The event (with whether it was made offline) and the change phones pull."""
    at, synced_later = origin.timing()
    hazard = loaded.hazard
    latitude, longitude, accuracy = origin.position
    if latitude is not None and longitude is not None:
        data |= {"latitude": latitude, "longitude": longitude, "accuracy_m": accuracy}
    return [
        changes.event(
            principal.id,
            action,
            "hazard",
            hazard.id,
            hazard.unit_path,
            device=origin.device,
            client_id=origin.client_id,
            mutation_id=origin.mutation_id,
            synced_later=synced_later,
            claimed_at=at.isoformat(),
            **data,
        ),
        changes.change(
            "hazard",
            hazard.id,
            "upsert",
            hazard.unit_path,
            hazard.enterprise_id,
            hazard_data(hazard, report_photo_hashes(session, hazard.id)),
        ),
    ]


def _end_task(session: Session, task: Task, state: TaskState, now: datetime) -> None:
    session.execute(update(Task).where(Task.id == task.id).values(state=state.value, ended_at=now))
    task.state = state.value


# ---- dispatch -------------------------------------------------------------------------------


_CANDIDATES = (
    select(User.id, User.display_name, User.role, Unit.name, Unit.path)
    .join(Unit, Unit.id == User.unit_id)
    .where(
        User.active.is_(True),
        col(User.role).in_([Role.STREET_RESPONDER.value, Role.GRID_INSPECTOR.value]),
        col(Unit.path).startswith(bindparam("street")),
    )
    .order_by(col(User.role).desc(), User.display_name)
)


def candidates(session: Session, hazard: Hazard) -> list[tuple[int, str, str, str]]:
    """Who a hazard may be offered to: the street's responders and the inspectors of its grid
    (id, name, role, unit name). Their area must contain the hazard, so they can see it."""
    street = clocks.tier_path(hazard.unit_path, Tier.STREET)
    rows = session.execute(_CANDIDATES, {"street": street}).all()
    return [
        (row.id, row.display_name, row.role, row.name)
        for row in rows
        if hazard.unit_path.startswith(row.path)
    ]


def enterprise_officers(session: Session, enterprise_id: int) -> list[int]:
    return list(
        session.execute(
            select(User.id).where(
                User.enterprise_id == enterprise_id,
                User.role == Role.ENTERPRISE_OFFICER.value,
                User.active.is_(True),
            )
        ).scalars()
    )


@dataclass(frozen=True)
class Assignment:
    user_ids: tuple[int, ...]
    to_enterprise: bool
    accept_by: datetime
    rectify_by: datetime
    instructions: str = ""


def assign(
    session: Session,
    principal: Principal,
    hazard_id: str,
    assignment: Assignment,
    origin: Origin,
    task_id: str,
) -> list[Write]:
    """Offer the hazard to people (the first to accept takes it) or to its enterprise; an open
    task is withdrawn first (a reassignment), and its people are told."""
    loaded = load(session, principal, hazard_id)
    _decide(principal, Action.ASSIGN, loaded)
    hazard = loaded.hazard
    now = origin.now
    if not origin.now < assignment.accept_by <= assignment.rectify_by:
        raise Rejected("loop.deadlines")
    refuse_control_chars("instructions", assignment.instructions)
    if len(assignment.instructions) > MAX_NOTE:
        raise Rejected("loop.too_long")
    allowed = {row[0] for row in candidates(session, hazard)}
    if not set(assignment.user_ids) <= allowed:
        raise Rejected("loop.not_assignable")
    people = set(assignment.user_ids)
    if assignment.to_enterprise:
        if hazard.enterprise_id is None:
            raise Rejected("loop.no_enterprise")
        officers = enterprise_officers(session, hazard.enterprise_id)
        if not officers:
            raise Rejected("loop.enterprise_has_no_officer")
        people |= set(officers)
    if not people:
        raise Rejected("loop.nobody")
    withdrawn: list[int] = []
    if loaded.task is not None:
        old = loaded.task
        withdrawn = (
            [old.accepted_by]
            if old.accepted_by
            else [o.user_id for o in loaded.offers if o.declined_at is None]
        )
        _end_task(session, old, TaskState.CANCELLED, now)
    session.execute(
        insert(Task).values(
            id=task_id,
            hazard_id=hazard.id,
            unit_path=hazard.unit_path,
            state=TaskState.OFFERED.value,
            enterprise_id=hazard.enterprise_id if assignment.to_enterprise else None,
            instructions=assignment.instructions,
            accept_by=assignment.accept_by,
            rectify_by=assignment.rectify_by,
            assigned_by=principal.id,
            created_at=now,
        )
    )
    session.execute(
        insert(TaskOffer), [{"task_id": task_id, "user_id": user_id} for user_id in sorted(people)]
    )
    _move(
        session,
        loaded,
        HazardState.ASSIGNED,
        now,
        rectify_by=assignment.rectify_by,
        **clocks.accept_clock(assignment.accept_by),
    )
    notices.task_offered(session, hazard, task_id, sorted(people), assignment.accept_by)
    gone = sorted(set(withdrawn) - people)
    if gone:
        notices.task_withdrawn(session, hazard, gone)
    return _history(
        session,
        principal,
        "hazard.assigned",
        loaded,
        origin,
        task_id=task_id,
        offered_to=sorted(people),
        to_enterprise=assignment.to_enterprise,
        accept_by=assignment.accept_by.isoformat(),
        rectify_by=assignment.rectify_by.isoformat(),
        reassigned=loaded.task is not None,
    )


def dismiss(
    session: Session, principal: Principal, hazard_id: str, reason: str, origin: Origin
) -> list[Write]:
    """Send a report back (退回): not a hazard, a duplicate, not this street's. The reporter is told."""
    reason = _reason(reason)
    loaded = load(session, principal, hazard_id)
    _decide(principal, Action.DISMISS, loaded)
    if loaded.task is not None:
        _end_task(session, loaded.task, TaskState.CANCELLED, origin.now)
    _move(session, loaded, HazardState.RETURNED, origin.now, **clocks.stopped())
    notices.report_returned(session, loaded.hazard, reason)
    return _history(session, principal, "hazard.dismissed", loaded, origin, reason=reason)


def _reason(text: str) -> str:
    text = text.strip()
    refuse_control_chars("reason", text)
    if not text:
        raise Rejected("loop.reason_required")
    if len(text) > MAX_REASON:
        raise Rejected("loop.too_long")
    return text


# ---- the responder --------------------------------------------------------------------------


def owner_of_task(session: Session, task_id: str) -> tuple[str | None, str | None]:
    """(hazard id, incident id) of a task, read once: a task answers to one or the other
    (neither: no such task)."""
    row = session.execute(
        select(Task.hazard_id, Task.incident_id).where(Task.id == task_id.lower()[:36])
    ).first()
    return (row.hazard_id, row.incident_id) if row is not None else (None, None)


def _hazard(hazard_id: str | None) -> str:
    if hazard_id is None:
        raise Rejected("loop.not_found")
    return hazard_id


def accept(session: Session, principal: Principal, task_id: str, origin: Origin) -> list[Write]:
    """The first to accept takes the task; anyone after is told who has it."""
    task_id = task_id.lower()[:36]
    hazard_id, incident_id = owner_of_task(session, task_id)
    if incident_id is not None:
        return incident_tasks.accept(session, principal, task_id, origin)
    loaded = load(session, principal, _hazard(hazard_id))
    task = loaded.task
    if task is None or task.id != task_id:
        state = session.execute(select(Task.state).where(Task.id == task_id)).scalar_one()
        raise Rejected("task.withdrawn" if state == TaskState.CANCELLED else "task.over")
    if task.state == TaskState.ACCEPTED:
        if task.accepted_by == principal.id:
            return []  # accepted already, from the notification or another tab: nothing to do
        holder = session.execute(
            select(User.display_name).where(User.id == task.accepted_by)
        ).scalar_one()
        raise Rejected("task.taken", by=holder)
    _decide(principal, Action.ACCEPT, loaded)
    at, _ = origin.timing()
    session.execute(
        update(Task)
        .where(Task.id == task.id, Task.state == TaskState.OFFERED.value)
        .values(state=TaskState.ACCEPTED.value, accepted_by=principal.id, accepted_at=at)
    )
    task.state, task.accepted_by, task.accepted_at = TaskState.ACCEPTED.value, principal.id, at
    # Accepted: the accept clock stops, the rectification clock runs.
    _move(
        session, loaded, HazardState.RECTIFYING, origin.now, **clocks.rectify_clock(task.rectify_by)
    )
    notices.mark_accepted(session, principal.id, task.id)
    others = [
        o.user_id for o in loaded.offers if o.user_id != principal.id and o.declined_at is None
    ]
    if others:
        notices.task_taken(session, loaded.hazard, task.id, others, principal.display_name)
    return _history(session, principal, "task.accepted", loaded, origin, task_id=task.id)


def decline(
    session: Session, principal: Principal, task_id: str, reason: str, origin: Origin
) -> list[Write]:
    """A decline with its reason; when everyone offered has declined, the hazard goes back to
    the street's queue and the dispatcher is told."""
    hazard_id, incident_id = owner_of_task(session, task_id)
    if incident_id is not None:
        return incident_tasks.decline(session, principal, task_id, reason, origin)
    reason = _reason(reason)
    task_id = task_id.lower()[:36]
    loaded = load(session, principal, _hazard(hazard_id))
    task = loaded.task
    if task is None or task.id != task_id:
        raise Rejected("task.over")
    if task.state == TaskState.ACCEPTED:
        raise Rejected("task.taken_decline")
    _decide(principal, Action.DECLINE, loaded)
    at, _ = origin.timing()
    session.execute(
        update(TaskOffer)
        .where(TaskOffer.task_id == task.id, TaskOffer.user_id == principal.id)
        .values(declined_at=at, decline_reason=reason)
    )
    still_open = [
        o.user_id for o in loaded.offers if o.declined_at is None and o.user_id != principal.id
    ]
    everyone = not still_open
    if everyone:
        _end_task(session, task, TaskState.DECLINED, origin.now)
        _move(session, loaded, HazardState.REPORTED, origin.now)
    notices.task_declined(session, loaded.hazard, task.assigned_by, principal.display_name, reason)
    return _history(
        session,
        principal,
        "task.declined",
        loaded,
        origin,
        task_id=task.id,
        reason=reason,
        back_to_queue=everyone,
    )


@dataclass(frozen=True)
class Evidence:
    id: str
    note: str
    photos: tuple[str, ...]


def rectify(
    session: Session, principal: Principal, hazard_id: str, evidence: Evidence, origin: Origin
) -> list[Write]:
    """Evidence that the hazard was put right; the grid's inspectors are asked to verify it."""
    note = evidence.note.strip()
    refuse_control_chars("note", note)
    if not note:
        raise Rejected("loop.note_required")
    if len(note) > MAX_NOTE:
        raise Rejected("loop.too_long")
    loaded = load(session, principal, hazard_id)
    if session.execute(select(Rectification.id).where(Rectification.id == evidence.id)).first():
        raise Rejected("loop.duplicate_id")
    _decide(principal, Action.RECTIFY, loaded)
    task = loaded.task
    assert task is not None  # holds_task says there is an accepted one
    at, synced_later = origin.timing()
    session.execute(
        insert(Rectification).values(
            id=evidence.id,
            hazard_id=loaded.hazard.id,
            task_id=task.id,
            user_id=principal.id,
            note=note,
            at=at,
            received_at=origin.now,
            synced_later=synced_later,
            client_id=origin.client_id,
            mutation_id=origin.mutation_id,
        )
    )
    if evidence.photos:
        session.execute(
            insert(RectificationPhoto),
            [
                {"rectification_id": evidence.id, "sha256": sha, "position": i}
                for i, sha in enumerate(evidence.photos)
            ],
        )
    _move(session, loaded, HazardState.RECTIFIED, origin.now, verified_by=None, **clocks.stopped())
    notices.verification_wanted(session, loaded.hazard)
    return _history(
        session,
        principal,
        "hazard.rectified",
        loaded,
        origin,
        task_id=task.id,
        rectification_id=evidence.id,
        photos=len(evidence.photos),
    )


# ---- verification ---------------------------------------------------------------------------


def verify(
    session: Session, principal: Principal, hazard_id: str, note: str, origin: Origin
) -> list[Write]:
    """On-site verification: a general hazard closes; a major one needs a second officer."""
    note = note.strip()
    refuse_control_chars("note", note)
    if len(note) > MAX_NOTE:
        raise Rejected("loop.too_long")
    loaded = load(session, principal, hazard_id)
    target = _decide(principal, Action.VERIFY, loaded)
    now = origin.now
    if target is HazardState.CLOSED:
        if loaded.task is not None:
            _end_task(session, loaded.task, TaskState.DONE, now)
        _move(session, loaded, HazardState.CLOSED, now, closed_at=now, **clocks.stopped())
        notices.hazard_closed(session, loaded.hazard)
        action = "hazard.closed"
    else:
        _move(
            session,
            loaded,
            HazardState.CONFIRMING,
            now,
            verified_by=principal.id,
            **clocks.stopped(),
        )
        notices.confirmation_wanted(session, loaded.hazard)
        action = "hazard.verified"
    return _history(session, principal, action, loaded, origin, note=note)


def send_back(
    session: Session, principal: Principal, hazard_id: str, reason: str, origin: Origin
) -> list[Write]:
    """Not put right: back to rectification with the reason; the task's holder is told."""
    reason = _reason(reason)
    loaded = load(session, principal, hazard_id)
    _decide(principal, Action.RETURN, loaded)
    # Back to rectification: its clock runs again (at once, if the deadline has passed).
    deadline = loaded.hazard.rectify_by or origin.now
    _move(
        session,
        loaded,
        HazardState.RECTIFYING,
        origin.now,
        verified_by=None,
        **clocks.rectify_clock(max(deadline, origin.now)),
    )
    if loaded.task is not None:
        notices.sent_back(session, loaded.hazard, loaded.task, reason)
    return _history(session, principal, "hazard.returned", loaded, origin, reason=reason)


# ---- reads for the pages --------------------------------------------------------------------


_OPEN_TASKS = (
    select(Task, User.display_name.label("holder"))
    .outerjoin(User, User.id == Task.accepted_by)
    .where(
        col(Task.hazard_id).in_(bindparam("hazard_ids", expanding=True)),
        col(Task.state).in_(OPEN_TASK_STATES),
    )
)
_OFFER_COUNTS = (
    select(TaskOffer.task_id, func.count())
    .where(col(TaskOffer.task_id).in_(bindparam("task_ids", expanding=True)))
    .group_by(TaskOffer.task_id)
)


def open_task_summary(session: Session, hazard_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """For a list of hazards: their open task's state, holder and deadlines."""
    if not hazard_ids:
        return {}
    rows = session.execute(_OPEN_TASKS, {"hazard_ids": list(hazard_ids)}).all()
    counts: dict[str, int] = (
        dict(session.execute(_OFFER_COUNTS, {"task_ids": [row.Task.id for row in rows]}).all())
        if rows
        else {}
    )
    return {
        row.Task.hazard_id: {
            "task": row.Task,
            "holder": row.holder,
            "offers": counts.get(row.Task.id, 0),
        }
        for row in rows
    }


_RECTIFICATIONS = (
    select(Rectification, User.display_name)
    .join(User, User.id == Rectification.user_id)
    .where(Rectification.hazard_id == bindparam("hazard_id"))
    .order_by(Rectification.at)
)
# Each photo with `uploaded`: None until the person who rectified has sent its bytes.
_RECTIFICATION_PHOTOS = (
    select(
        RectificationPhoto.rectification_id,
        RectificationPhoto.sha256,
        col(PhotoUpload.sha256).label("uploaded"),
    )
    .join(Rectification, Rectification.id == RectificationPhoto.rectification_id)
    .outerjoin(PhotoUpload, sent_by(RectificationPhoto.sha256, Rectification.user_id))
    .where(col(RectificationPhoto.rectification_id).in_(bindparam("ids", expanding=True)))
    .order_by(RectificationPhoto.position)
)


def rectifications(session: Session, hazard_id: str) -> list[dict[str, Any]]:
    rows = session.execute(_RECTIFICATIONS, {"hazard_id": hazard_id}).all()
    photos: dict[str, list[Any]] = {}
    if rows:
        for link in session.execute(
            _RECTIFICATION_PHOTOS, {"ids": [r.Rectification.id for r in rows]}
        ).all():
            photos.setdefault(link.rectification_id, []).append(link)
    return [
        {"row": r.Rectification, "by": r.display_name, "photos": photos.get(r.Rectification.id, [])}
        for r in rows
    ]


def report_photo_hashes(session: Session, hazard_id: str) -> list[str]:
    """The hashes a report names, as the change log carries them (pages use
    backend.hazards.views.report_photos, which also says which have arrived)."""
    return list(
        session.execute(
            select(HazardPhoto.sha256)
            .where(HazardPhoto.hazard_id == hazard_id)
            .order_by(HazardPhoto.position)
        ).scalars()
    )
