"""The closed loop as pure rules: which role may do what to a hazard in which state, and where it
goes next. Pages, the JSON API and the sync mutations all ask `decide`, so a phone that was
offline is held to exactly the rules a desk is.

    reported ──assign──▶ assigned ──accept──▶ rectifying ──rectify──▶ rectified ──verify──▶ closed
       │                  │   ▲  decline (all)     ▲                      │  (major: confirming,
       │                  └───┘──▶ reported        └───── return ─────────┘   then a second officer)
       └── dismiss ──▶ returned
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from backend.models import HazardState, Role, Severity
from sync import Rejected


class Action(StrEnum):
    ASSIGN = "assign"  # 派发 (also reassigning: the open task is withdrawn)
    DISMISS = "dismiss"  # 退回: the report is not a hazard, a duplicate, outside the street …
    ACCEPT = "accept"  # 接收
    DECLINE = "decline"  # 拒绝
    RECTIFY = "rectify"  # 提交整改
    VERIFY = "verify"  # 核查通过 (a major hazard: first verification, then 复核)
    RETURN = "return"  # 核查不通过: back to rectification


DISPATCHERS = frozenset({Role.STREET_DISPATCHER, Role.DISTRICT_OFFICER, Role.CITY_OFFICER})
VERIFIERS = DISPATCHERS | {Role.GRID_INSPECTOR}
# Who may be offered a task: the street's responders, its grid inspectors, the enterprise.
ASSIGNABLE = frozenset({Role.STREET_RESPONDER, Role.GRID_INSPECTOR, Role.ENTERPRISE_OFFICER})

# (action, from state) → who may do it. Relationship checks (offered to me, my task, a second
# person) come on top, in `decide`.
_ALLOWED: dict[tuple[Action, HazardState], frozenset[Role]] = {
    (Action.ASSIGN, HazardState.REPORTED): DISPATCHERS,
    (Action.ASSIGN, HazardState.ASSIGNED): DISPATCHERS,
    (Action.ASSIGN, HazardState.RECTIFYING): DISPATCHERS,
    (Action.DISMISS, HazardState.REPORTED): DISPATCHERS,
    (Action.DISMISS, HazardState.ASSIGNED): DISPATCHERS,
    (Action.ACCEPT, HazardState.ASSIGNED): ASSIGNABLE,
    (Action.DECLINE, HazardState.ASSIGNED): ASSIGNABLE,
    (Action.RECTIFY, HazardState.RECTIFYING): ASSIGNABLE,
    (Action.VERIFY, HazardState.RECTIFIED): VERIFIERS,
    (Action.VERIFY, HazardState.CONFIRMING): DISPATCHERS,
    (Action.RETURN, HazardState.RECTIFIED): VERIFIERS,
    (Action.RETURN, HazardState.CONFIRMING): DISPATCHERS,
}


@dataclass(frozen=True)
class Facts:
    """What the rules need to know about the hazard and the person acting on it."""

    state: HazardState
    severity: Severity
    offered_to_actor: bool = False  # an open offer of the current task names the actor
    holds_task: bool = False  # the actor accepted the task, or is an officer of its enterprise
    verified_by: int | None = None  # a major hazard's first verifier


def decide(role: Role, actor_id: int, action: Action, facts: Facts) -> HazardState:
    """The state the hazard moves to, or `Rejected` with a reason the phone can translate.
    Scope is checked before this (a hazard outside the actor's area is simply not found)."""
    roles = {allowed for (act, _), allowed in _ALLOWED.items() if act is action}
    if not any(role in allowed for allowed in roles):
        raise Rejected("loop.role", action=action.value)
    allowed_here = _ALLOWED.get((action, facts.state))
    if allowed_here is None or role not in allowed_here:
        raise Rejected("loop.state", action=action.value, state=facts.state.value)
    if action in (Action.ACCEPT, Action.DECLINE) and not facts.offered_to_actor:
        raise Rejected("loop.not_offered")
    if action is Action.RECTIFY and not facts.holds_task:
        raise Rejected("loop.not_holder")
    if action is Action.VERIFY and facts.state is HazardState.CONFIRMING:
        if facts.verified_by == actor_id:
            raise Rejected("loop.second_person")
        return HazardState.CLOSED
    return _next(action, facts)


def _next(action: Action, facts: Facts) -> HazardState:
    if action is Action.VERIFY:
        major = facts.severity is Severity.MAJOR
        return HazardState.CONFIRMING if major else HazardState.CLOSED
    return _NEXT[action]


# Where each action leads (verification depends on the severity, above). A decline keeps the
# hazard assigned; the service sends it back to the queue once everyone offered has declined.
_NEXT = {
    Action.ASSIGN: HazardState.ASSIGNED,
    Action.DISMISS: HazardState.RETURNED,
    Action.ACCEPT: HazardState.RECTIFYING,
    Action.DECLINE: HazardState.ASSIGNED,
    Action.RECTIFY: HazardState.RECTIFIED,
    Action.RETURN: HazardState.RECTIFYING,
}


# Default deadlines by severity (accept, rectify): a major hazard is accepted fast and given
# longer to put right (it usually needs a plan, money, sometimes a stop of production).
DEADLINES: dict[Severity, tuple[timedelta, timedelta]] = {
    Severity.GENERAL: (timedelta(hours=2), timedelta(days=7)),
    Severity.MAJOR: (timedelta(minutes=30), timedelta(days=30)),
}


def default_deadlines(severity: Severity, now: datetime) -> tuple[datetime, datetime]:
    accept, rectify = DEADLINES[severity]
    return now + accept, now + rectify


def allowed_actions(role: Role, actor_id: int, facts: Facts) -> list[Action]:
    """What a page offers this person: every action `decide` would let through."""
    possible = []
    for action in Action:
        try:
            decide(role, actor_id, action, facts)
        except Rejected:
            continue
        possible.append(action)
    return possible
