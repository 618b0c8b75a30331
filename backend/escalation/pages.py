"""Escalation on a hazard's card: whistle, pull up, hand down, ask the tier above for more time
or a suspension, and answer such requests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from sqlalchemy import bindparam, select
from sqlmodel import Session, col

from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.escalation import manual
from backend.escalation.clocks import tier_of_path, tier_path
from backend.escalation.manual import OPEN, ROLE_TIER
from backend.escalation.manual import Request as ApprovalAsk
from backend.escalation.services import on_duty
from backend.models import (
    TIERS,
    ApprovalKind,
    HazardState,
    Role,
    Tier,
    User,
    utcnow,
)
from backend.tasks.answers import act, origin_of, parse_deadline, refused
from backend.tasks.services import Loaded, Origin
from backend.web import zone_of
from sync import Rejected, Write

# What the card says put the hazard at its tier: the latest of these in its history.
MOVES_UP = frozenset({"hazard.escalated", "hazard.whistled", "hazard.pulled_up"})
# The card's reads, built once (see backend/hazards/views.py).
_NAMES = select(User.id, User.display_name).where(
    col(User.id).in_(bindparam("ids", expanding=True))
)


def escalation_context(
    db: Session, principal: Principal, loaded: Loaded, history: Sequence[Any]
) -> dict[str, Any]:
    """What the card shows: the tier and why it is there, who is on duty above, what this
    person may do about it, and the approval requests with their answers. `history` is the
    hazard's events in order, as the card has read them (backend/hazards/views.py)."""
    hazard = loaded.hazard
    now = utcnow()
    tier = Tier(hazard.tier)
    mine = ROLE_TIER.get(principal.role)
    is_open = HazardState(hazard.state) in OPEN
    above = TIERS[TIERS.index(tier) + 1] if TIERS.index(tier) + 1 < len(TIERS) else None
    holder = loaded.task is not None and loaded.task.accepted_by == principal.id
    last = next((row.Event for row in reversed(history) if row.Event.action in MOVES_UP), None)
    requests = manual.requests_of(db, hazard.id)
    people = {r.requested_by for r in requests} | {r.decided_by for r in requests if r.decided_by}
    names = dict(db.execute(_NAMES, {"ids": list(people)}).all()) if people else {}
    decidable = {
        r.id
        for r in requests
        if r.state == "pending"
        and r.unit_path.startswith(principal.unit_path)
        and mine is not None
        and TIERS.index(mine) >= TIERS.index(tier_of_path(r.unit_path))
    }
    duty_path = tier_path(hazard.unit_path, above) if above else None
    duty = on_duty(db, [duty_path], now).get(duty_path, []) if duty_path else []
    duty_names = [name for _, name in db.execute(_NAMES, {"ids": duty}).all()] if duty else []
    return {
        "esc": {
            "tier": tier.value,
            "supervised": hazard.supervised,
            "suspended": hazard.suspended,
            "due_at": hazard.due_at,
            "due_kind": hazard.due_kind,
            "overdue": hazard.due_at is not None and hazard.due_at <= now,
            "last": last,
            "may_whistle": is_open
            and principal.role is Role.STREET_DISPATCHER
            and tier is Tier.STREET,
            "may_pull_up": is_open
            and mine in (Tier.DISTRICT, Tier.CITY)
            and TIERS.index(tier) < TIERS.index(mine),
            "may_hand_down": is_open and mine in (Tier.DISTRICT, Tier.CITY) and tier is mine,
            "may_request": is_open
            and above is not None
            and (principal.role is Role.STREET_DISPATCHER or holder),
            "may_resume": hazard.suspended
            and mine is not None
            and TIERS.index(mine) >= TIERS.index(above or Tier.CITY),
            "above": above.value if above else None,
            "on_duty_above": duty_names,
            "requests": requests,
            "names": names,
            "decidable": decidable,
        }
    }


class EscalationPages(Controller):
    path = "/hazards/{hazard_id:str}"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    def _run(
        self,
        request: Request[Any, Any, Any],
        db: Session,
        hazard_id: str,
        run: Callable[[Origin], list[Write]],
    ) -> Response[Any]:
        origin = origin_of(request)
        return act(request, db, lambda: run(origin), f"/hazards/{hazard_id.lower()}")

    @post("/whistle", sync_to_thread=True)
    def whistle(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        hazard_id: FromPath[str],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        return self._run(
            request,
            db,
            hazard_id,
            lambda o: manual.whistle(db, principal, hazard_id, data.get("reason", ""), o),
        )

    @post("/pull-up", sync_to_thread=True)
    def pull_up(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        hazard_id: FromPath[str],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        return self._run(
            request,
            db,
            hazard_id,
            lambda o: manual.pull_up(db, principal, hazard_id, data.get("reason", ""), o),
        )

    @post("/hand-down", sync_to_thread=True)
    def hand_down(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        hazard_id: FromPath[str],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        return self._run(
            request,
            db,
            hazard_id,
            lambda o: manual.hand_down(db, principal, hazard_id, data.get("instructions", ""), o),
        )

    @post("/approvals", sync_to_thread=True)
    def ask(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        hazard_id: FromPath[str],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        kind = data.get("kind", "")
        if kind not in set(ApprovalKind):
            return refused(request, Rejected("esc.kind"))
        until: datetime | None = None
        if kind == "extend":
            until = parse_deadline(data.get("until", ""), zone_of(request))
        ask = ApprovalAsk(ApprovalKind(kind), data.get("reason", ""), until)
        return self._run(
            request,
            db,
            hazard_id,
            lambda o: manual.request_approval(db, principal, hazard_id, ask, o)[1],
        )

    @post("/approvals/{request_id:str}", sync_to_thread=True)
    def answer(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        hazard_id: FromPath[str],
        request_id: FromPath[str],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        approve = data.get("decision") == "approve"
        return self._run(
            request,
            db,
            hazard_id,
            lambda o: manual.decide(db, principal, request_id, approve, data.get("note", ""), o),
        )

    @post("/resume", sync_to_thread=True)
    def resume(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        hazard_id: FromPath[str],
    ) -> Response[Any]:
        return self._run(
            request, db, hazard_id, lambda o: manual.resume(db, principal, hazard_id, o)
        )
