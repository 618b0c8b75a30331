"""Escalation by hand: a street blows the whistle (吹哨), a district pulls an item up or hands it
back down with instructions, and extending a deadline or suspending the clocks needs the tier
above to approve (台账: every request is kept with its answer).

Each operation locks the hazard (backend/tasks/services.load), checks the person's role, tier
and scope, moves the rows, and leaves its event and notifications in the same transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from backend.auth.policy import Principal
from backend.escalation import clocks
from backend.escalation.clocks import TIER_ROLE, tier_of_path, tier_path
from backend.escalation.services import on_duty
from backend.models import (
    TIERS,
    ApprovalKind,
    ApprovalRequest,
    ApprovalState,
    HazardState,
    Role,
    Task,
    TaskState,
    Tier,
)
from backend.offline import changes
from backend.tasks import notices
from backend.tasks.rules import Action
from backend.tasks.rules import decide as decide_loop
from backend.tasks.services import Loaded, Origin, dismiss, facts_for, load
from backend.validation import refuse_control_chars
from sync import Rejected, Write

OPEN = {
    HazardState.REPORTED,
    HazardState.ASSIGNED,
    HazardState.RECTIFYING,
    HazardState.RECTIFIED,
    HazardState.CONFIRMING,
}
# The tier a person acts for.
ROLE_TIER = {role: tier for tier, role in TIER_ROLE.items()}
MAX_TEXT = 500


def _text(value: str, code: str = "esc.reason_required") -> str:
    value = value.strip()
    refuse_control_chars("reason", value)
    if not value:
        raise Rejected(code)
    if len(value) > MAX_TEXT:
        raise Rejected("loop.too_long")
    return value


def _open(loaded: Loaded) -> None:
    if HazardState(loaded.hazard.state) not in OPEN:
        raise Rejected("esc.closed")


def _above(tier: Tier) -> Tier | None:
    index = TIERS.index(tier)
    return TIERS[index + 1] if index + 1 < len(TIERS) else None


def _below(tier: Tier) -> Tier | None:
    index = TIERS.index(tier)
    return TIERS[index - 1] if index > 0 else None


def _tell_tier(
    session: Session, loaded: Loaded, tier: Tier, kind: str, now: datetime, **params: Any
) -> list[int]:
    path = tier_path(loaded.hazard.unit_path, tier)
    people = on_duty(session, [path], now).get(path, [])
    notices.send(session, people, kind, loaded.hazard, f"/hazards/{loaded.hazard.id}", **params)
    return people


def _event(principal: Principal, action: str, loaded: Loaded, origin: Origin, **data: Any) -> Write:
    return changes.event(
        principal.id,
        action,
        "hazard",
        loaded.hazard.id,
        loaded.hazard.unit_path,
        device=origin.device,
        **data,
    )


def whistle(
    session: Session, principal: Principal, hazard_id: str, reason: str, origin: Origin
) -> list[Write]:
    """吹哨: the street asks the district to take it over, now, with a reason."""
    reason = _text(reason)
    loaded = load(session, principal, hazard_id)
    if principal.role is not Role.STREET_DISPATCHER:
        raise Rejected("esc.role")
    _open(loaded)
    if loaded.hazard.tier != Tier.STREET:
        raise Rejected("esc.already_up")
    fired = sorted(set(loaded.hazard.fired or []) | {"whistle:district"})
    _set(
        session, loaded, origin.now, tier=Tier.DISTRICT.value, escalated_at=origin.now, fired=fired
    )
    people = _tell_tier(
        session, loaded, Tier.DISTRICT, "hazard.whistled", origin.now, reason=reason
    )
    return [
        _event(
            principal,
            "hazard.whistled",
            loaded,
            origin,
            reason=reason,
            to_tier="district",
            notified=people,
        )
    ]


def pull_up(
    session: Session, principal: Principal, hazard_id: str, reason: str, origin: Origin
) -> list[Write]:
    """A district (or the city) takes an item over from the tier below."""
    reason = _text(reason)
    loaded = load(session, principal, hazard_id)
    mine = ROLE_TIER.get(principal.role)
    if mine not in (Tier.DISTRICT, Tier.CITY):
        raise Rejected("esc.role")
    _open(loaded)
    current = Tier(loaded.hazard.tier)
    if TIERS.index(current) >= TIERS.index(mine):
        raise Rejected("esc.already_up")
    _set(session, loaded, origin.now, tier=mine.value, escalated_at=origin.now)
    below = tier_path(loaded.hazard.unit_path, current)
    people = on_duty(session, [below], origin.now).get(below, [])
    notices.send(
        session,
        people,
        "hazard.pulled_up",
        loaded.hazard,
        f"/hazards/{loaded.hazard.id}",
        reason=reason,
    )
    return [
        _event(
            principal,
            "hazard.pulled_up",
            loaded,
            origin,
            reason=reason,
            from_tier=current.value,
            to_tier=mine.value,
        )
    ]


def hand_down(
    session: Session, principal: Principal, hazard_id: str, instructions: str, origin: Origin
) -> list[Write]:
    """Back down one tier with instructions (交办): the tier below is told what to do."""
    instructions = _text(instructions, "esc.instructions_required")
    loaded = load(session, principal, hazard_id)
    mine = ROLE_TIER.get(principal.role)
    current = Tier(loaded.hazard.tier)
    if mine is None or mine is Tier.STREET:
        raise Rejected("esc.role")
    _open(loaded)
    if current is not mine:
        raise Rejected("esc.not_at_my_tier")
    lower = _below(current)
    assert lower is not None  # mine is district or city
    _set(session, loaded, origin.now, tier=lower.value)
    people = _tell_tier(
        session, loaded, lower, "hazard.handed_down", origin.now, reason=instructions
    )
    return [
        _event(
            principal,
            "hazard.handed_down",
            loaded,
            origin,
            instructions=instructions,
            from_tier=current.value,
            to_tier=lower.value,
            notified=people,
        )
    ]


# ---- approvals (台账) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    kind: ApprovalKind
    reason: str
    until: datetime | None = None


def _may_request(principal: Principal, loaded: Loaded) -> bool:
    if principal.role is Role.STREET_DISPATCHER:
        return True
    task = loaded.task
    return (
        task is not None and task.state == TaskState.ACCEPTED and task.accepted_by == principal.id
    )


def request_approval(
    session: Session, principal: Principal, hazard_id: str, request: Request, origin: Origin
) -> tuple[str, list[Write]]:
    """Ask the tier above the hazard's current tier to extend the rectification deadline or to
    suspend the clocks. One open request per hazard and kind."""
    reason = _text(request.reason)
    loaded = load(session, principal, hazard_id)
    _open(loaded)
    if not _may_request(principal, loaded) or (
        request.kind is ApprovalKind.RETURN and principal.role is not Role.STREET_DISPATCHER
    ):
        raise Rejected("esc.role")
    if request.kind is ApprovalKind.RETURN:
        # Only what the loop would let the dispatcher return (reported or not yet accepted).
        facts = facts_for(principal, loaded)
        decide_loop(principal.role, principal.id, Action.DISMISS, facts)
    approver = _above(Tier(loaded.hazard.tier))
    if approver is None:
        raise Rejected("esc.no_tier_above")
    if request.kind is ApprovalKind.EXTEND:
        current = loaded.hazard.rectify_by
        if (
            request.until is None
            or request.until <= origin.now
            or (current and request.until <= current)
        ):
            raise Rejected("esc.until")
    pending = session.execute(
        select(ApprovalRequest.id).where(
            ApprovalRequest.hazard_id == loaded.hazard.id,
            ApprovalRequest.kind == request.kind.value,
            ApprovalRequest.state == ApprovalState.PENDING.value,
        )
    ).first()
    if pending is not None:
        raise Rejected("esc.pending")
    request_id = str(uuid.uuid4())
    path = tier_path(loaded.hazard.unit_path, approver)
    session.add(
        ApprovalRequest(
            id=request_id,
            hazard_id=loaded.hazard.id,
            unit_path=path,
            kind=request.kind.value,
            reason=reason,
            until=request.until if request.kind is ApprovalKind.EXTEND else None,
            requested_by=principal.id,
            requested_at=origin.now,
        )
    )
    session.flush()
    _tell_tier(session, loaded, approver, "approval.requested", origin.now, reason=reason)
    return request_id, [
        _event(
            principal,
            f"approval.{request.kind.value}_requested",
            loaded,
            origin,
            request_id=request_id,
            reason=reason,
            until=request.until.isoformat() if request.until else None,
            to_tier=approver.value,
        )
    ]


def decide(
    session: Session,
    principal: Principal,
    request_id: str,
    approve: bool,
    note: str,
    origin: Origin,
) -> list[Write]:
    """The tier above answers; an approved extension moves the deadline (and the clock), an
    approved suspension stops the clocks until someone of that tier resumes them."""
    note = note.strip()[:MAX_TEXT]
    row = session.execute(
        select(ApprovalRequest).where(ApprovalRequest.id == request_id.lower()[:36])
    ).scalar_one_or_none()
    if row is None:
        raise Rejected("loop.not_found")
    # Whoever may see the hazard sees its requests; only the deciding tier (or above, over that
    # unit) may answer.
    loaded = load(session, principal, row.hazard_id)
    mine = ROLE_TIER.get(principal.role)
    wanted = tier_of_path(row.unit_path)
    if (
        mine is None
        or TIERS.index(mine) < TIERS.index(wanted)
        or not row.unit_path.startswith(principal.unit_path)
    ):
        raise Rejected("esc.role")
    if row.state != ApprovalState.PENDING:
        raise Rejected("esc.decided")
    if not approve and not note:
        raise Rejected("esc.note_required")
    session.execute(
        update(ApprovalRequest)
        .where(ApprovalRequest.id == row.id)
        .values(
            state=(ApprovalState.APPROVED if approve else ApprovalState.REFUSED).value,
            decided_by=principal.id,
            decided_at=origin.now,
            decision_note=note,
        )
    )
    if approve and row.kind == ApprovalKind.EXTEND and row.until is not None:
        values: dict[str, Any] = {"rectify_by": row.until}
        if loaded.hazard.due_kind == "rectify":
            values |= clocks.rectify_clock(row.until)
        _set(session, loaded, origin.now, **values)
        if loaded.task is not None:
            session.execute(
                update(Task).where(Task.id == loaded.task.id).values(rectify_by=row.until)
            )
    elif approve and row.kind == ApprovalKind.SUSPEND:
        _set(session, loaded, origin.now, suspended=True, **clocks.stopped())
    elif approve and row.kind == ApprovalKind.RETURN:
        # Returned by the approver, under the loop's own rules (it may have moved on meanwhile).
        writes = dismiss(session, principal, loaded.hazard.id, row.reason, origin)
        changes.store(session, writes)
    outcome = "approved" if approve else "refused"
    notices.send(
        session,
        [row.requested_by],
        f"approval.{outcome}",
        loaded.hazard,
        f"/hazards/{loaded.hazard.id}",
        reason=note,
    )
    return [
        _event(
            principal,
            f"approval.{row.kind}_{outcome}",
            loaded,
            origin,
            request_id=row.id,
            note=note,
            until=row.until.isoformat() if row.until else None,
        )
    ]


def resume(session: Session, principal: Principal, hazard_id: str, origin: Origin) -> list[Write]:
    """A suspended hazard's clocks run again (an officer of the tier above it)."""
    loaded = load(session, principal, hazard_id)
    if not loaded.hazard.suspended:
        raise Rejected("esc.not_suspended")
    mine = ROLE_TIER.get(principal.role)
    approver = _above(Tier(loaded.hazard.tier)) or Tier.CITY
    if mine is None or TIERS.index(mine) < TIERS.index(approver):
        raise Rejected("esc.role")
    state = HazardState(loaded.hazard.state)
    if state in (HazardState.REPORTED, HazardState.ASSIGNED):
        deadline = loaded.task.accept_by if loaded.task is not None else origin.now
        clock = clocks.accept_clock(max(deadline, origin.now))
    elif state is HazardState.RECTIFYING:
        clock = clocks.rectify_clock(max(loaded.hazard.rectify_by or origin.now, origin.now))
    else:
        clock = clocks.stopped()
    _set(session, loaded, origin.now, suspended=False, **clock)
    return [_event(principal, "hazard.resumed", loaded, origin)]


def _set(session: Session, loaded: Loaded, now: datetime, **values: Any) -> None:
    hazard = loaded.hazard
    session.execute(
        update(type(hazard)).where(type(hazard).id == hazard.id).values(updated_at=now, **values)
    )
    for key, value in values.items():
        setattr(hazard, key, value)


_REQUESTS = (
    select(ApprovalRequest)
    .where(ApprovalRequest.hazard_id == bindparam("hazard_id"))
    .order_by(ApprovalRequest.requested_at)
)


def requests_of(session: Session, hazard_id: str) -> list[ApprovalRequest]:
    return list(session.execute(_REQUESTS, {"hazard_id": hazard_id}).scalars())
