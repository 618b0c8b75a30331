"""How the loop's pages act and answer: one operation stored and committed in the request's
transaction, a refusal as a translated fragment with the right status, and the deadline and
position fields of their forms."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from litestar import Request, Response
from sqlmodel import Session

from backend.errors import AppError
from backend.models import utcnow
from backend.offline import changes
from backend.tasks.mutations import position_of
from backend.tasks.services import Origin
from backend.timezone import from_local_input
from backend.web import after_change, device_of, page, translator_of
from sync import Rejected, Write

# How a refusal is answered on a page: a conflict with someone else's action is 409, bad
# input 422, a role that may never do it 403, something outside the person's area 404.
_STATUS = {
    "loop.not_found": 404,
    "loop.role": 403,
    "task.taken": 409,
    "task.taken_decline": 409,
    "task.withdrawn": 409,
    "task.over": 409,
    "loop.state": 409,
    "loop.not_offered": 403,
    "loop.not_holder": 403,
    "loop.second_person": 409,
    "esc.role": 403,
    "esc.closed": 409,
    "esc.already_up": 409,
    "esc.not_at_my_tier": 409,
    "esc.pending": 409,
    "esc.decided": 409,
    "esc.not_suspended": 409,
    "esc.no_tier_above": 409,
    "incident.role": 403,
    "incident.not_draft": 409,
    "incident.not_confirmed": 409,
    "plan.role": 403,
    "plan.role_in_use": 409,
    "warnings.not_found": 404,
    "warnings.cancel_forbidden": 403,
    "warnings.renotify_forbidden": 403,
    "warnings.already_cancelled": 409,
    "warnings.cancelled": 409,
    "warnings.renotify_cancelled": 409,
}


def refused(request: Request[Any, Any, Any], refusal: Rejected) -> Response[Any]:
    status = _STATUS.get(refusal.code, 422)
    params = {k: v for k, v in refusal.params.items() if k != "fields"}
    t = translator_of(request)
    if "action" in params:
        params["action"] = t(f"loop.actions.{params['action']}")
    if "state" in params:
        params["state"] = t(f"states.{params['state']}")
    context = {
        "code": refusal.code,
        "message": t(f"errors.{refusal.code}", **params),
        "status": status,
        # Which fields were wrong, for an answer that does not re-render its form.
        "fields": refusal.params.get("fields") or {},
    }
    if status == 404:
        raise AppError("not_found")
    return page(request, "error.html", context, block="message", status_code=status)


def parse_deadline(value: str, where: tzinfo) -> datetime | None:
    """A `datetime-local` field: wall-clock time where the people are (GRIDSAFE_TIMEZONE)."""
    return from_local_input(value, where)


def origin_of(request: Request[Any, Any, Any], form: Mapping[str, Any] | None = None) -> Origin:
    """Now, from this browser; with the phone's position when the form carried one."""
    position: tuple[float | None, float | None, float | None] = (None, None, None)
    if form is not None:
        try:
            position = position_of(form)
        except Rejected:
            position = (None, None, None)  # a bad fix is dropped, the action itself stands
    return Origin(now=utcnow(), device=device_of(request), position=position)


def act(
    request: Request[Any, Any, Any],
    db: Session,
    run: Callable[[], list[Write]],
    then: str | Callable[[], str],
    redisplay: Callable[[dict[str, str]], Response[Any]] | None = None,
) -> Response[Any]:
    """Run one operation: store its writes and commit, then go to `then` (or where it says once
    the operation ran); or, refused, roll back everything it did and answer why. A form that
    can show its own mistakes passes `redisplay`: a `validation_failed` refusal brings it back
    with the problems by field, and what was typed, instead of the error message alone."""
    try:
        changes.store(db, run())
        db.commit()
    except Rejected as refusal:
        db.rollback()
        if redisplay is not None and refusal.code == "validation_failed":
            return redisplay(refusal.params.get("fields") or {})
        return refused(request, refusal)
    return after_change(request, then if isinstance(then, str) else then())
