"""Incident pages: report (commanders), review and edit the drafted plan, confirm, the board kept
fresh by htmx, and a responder's "done" and target checks. Every action is a plain form too."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from sqlmodel import Session

from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.errors import AppError
from backend.incidents import queries, responder, services
from backend.incidents.services import COMMANDERS, TaskEdit
from backend.models import IncidentState, UnitLevel, utcnow
from backend.plans.policy import INCIDENT_TYPES, SCALES
from backend.tasks.answers import act, origin_of
from backend.units.services import units_under
from backend.validation import identifier
from backend.web import page
from sync import Rejected, Write

Form = URLEncodedBody[dict[str, str | list[str]]]


def _text(data: dict[str, str | list[str]], key: str) -> str:
    value = data.get(key, "")
    return value[0] if isinstance(value, list) and value else str(value or "")


def _ids(data: dict[str, str | list[str]], key: str) -> tuple[int, ...]:
    value = data.get(key, [])
    values = value if isinstance(value, list) else [value]
    ids = [identifier(v) for v in values]
    if None in ids:
        raise Rejected("validation_failed", fields={key: "invalid"})
    return tuple(i for i in ids if i is not None)


def _index(
    request: Request[Any, Any, Any],
    db: Session,
    principal: Principal,
    form: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response[Any]:
    if principal.is_enterprise:
        raise AppError("forbidden")
    context = {
        "incidents": queries.incidents(db, principal),
        "may_report": principal.role in COMMANDERS,
        "types": INCIDENT_TYPES,
        "scales": SCALES,
        "units": [u for u in units_under(db, principal) if u.level != UnitLevel.CITY],
        "form": form,
        "errors": errors,
    }
    return page(request, "incidents/index.html", context, status_code=status_code)


def _local(url: str, fallback: str) -> str:
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else fallback


class IncidentPages(Controller):
    path = "/incidents"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def index(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
    ) -> Response[Any]:
        return _index(request, db, principal, {}, {})

    @post("/", sync_to_thread=True)
    def report(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        data: Form,
    ) -> Response[Any]:
        """A mistake brings the form back (422) with what was typed and a note on each field."""
        incident_id = str(uuid.uuid4())
        form = {key: _text(data, key) for key in data}
        fields, errors = services.read_report(form, request.app.state.settings.area)

        def redisplay(errors: dict[str, str]) -> Response[Any]:
            return _index(request, db, principal, form, errors, status_code=422)

        if fields is None:
            return redisplay(errors)
        return act(
            request,
            db,
            lambda: services.report(db, principal, fields, utcnow(), incident_id),
            f"/incidents/{incident_id}",
            redisplay,
        )

    @get("/{incident_id:str}", sync_to_thread=True)
    def detail(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        incident_id: FromPath[str],
    ) -> Response[Any]:
        """A draft shows the proposal to review; afterwards the board, refreshed by htmx."""
        try:
            incident = services.get(db, principal, incident_id)
        except Rejected as refusal:
            raise AppError("not_found") from refusal
        context: dict[str, Any] = {
            "incident": incident,
            "commander": principal.role in COMMANDERS,
        }
        if incident.state == IncidentState.DRAFT:
            context |= queries.draft_context(db, principal, incident, utcnow())
            return page(request, "incidents/draft.html", context)
        context |= queries.board(db, principal, incident)
        return page(request, "incidents/board.html", context, block="board")

    @post("/{incident_id:str}/plan", sync_to_thread=True)
    def choose_plan(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        incident_id: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        plan = _text(data, "plan_id")

        def run() -> list[Write]:
            plan_id = identifier(plan)
            if plan_id is None:
                raise Rejected("incident.plan_not_matching")
            return services.choose_plan(db, principal, incident_id, plan_id, utcnow())

        return act(request, db, run, f"/incidents/{incident_id.lower()}")

    @post("/{incident_id:str}/tasks/{task_id:str}", sync_to_thread=True)
    def edit_task(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        incident_id: FromPath[str],
        task_id: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        def run() -> list[Write]:
            edit = TaskEdit(
                instructions=_text(data, "instructions"),
                people=_ids(data, "people"),
                dropped=_text(data, "dropped") == "1",
            )
            return services.edit_task(db, principal, incident_id, task_id, edit)

        return act(request, db, run, f"/incidents/{incident_id.lower()}#task-{task_id.lower()}")

    @post("/{incident_id:str}/confirm", sync_to_thread=True)
    def confirm(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        incident_id: FromPath[str],
    ) -> Response[Any]:
        return act(
            request,
            db,
            lambda: services.confirm(db, principal, incident_id, utcnow()),
            f"/incidents/{incident_id.lower()}",
        )

    @post("/{incident_id:str}/close", sync_to_thread=True)
    def close(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        incident_id: FromPath[str],
    ) -> Response[Any]:
        return act(
            request,
            db,
            lambda: services.close(db, principal, incident_id, utcnow()),
            f"/incidents/{incident_id.lower()}",
        )

    @post("/{incident_id:str}/targets/{target_id:int}/check", sync_to_thread=True)
    def check_target(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        incident_id: FromPath[str],
        target_id: FromPath[int],
        data: Form,
    ) -> Response[Any]:
        origin = origin_of(request)
        note = _text(data, "note")
        then = _local(_text(data, "next"), f"/incidents/{incident_id.lower()}")
        return act(
            request,
            db,
            lambda: responder.check_target(db, principal, incident_id, target_id, note, origin),
            then,
        )


class IncidentTaskPages(Controller):
    """The incident side of a task: done with a note (accept and decline are the loop's)."""

    path = "/incident-tasks"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @post("/{task_id:str}/done", sync_to_thread=True)
    def done(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        task_id: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        origin = origin_of(request)
        note = _text(data, "note")
        return act(
            request,
            db,
            lambda: responder.done(db, principal, task_id, note, origin),
            f"/tasks/{task_id.lower()}",
        )


ROUTES = [IncidentPages, IncidentTaskPages]
