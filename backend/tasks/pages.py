"""The closed loop's pages: the street's dispatch queue, a responder's inbox and task, and the
actions on a hazard's card. With JavaScript the responder's buttons fall back to the phone's
outbox when there is no network (pwa/static/js/loop.js); without it they are plain forms."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, MultipartBody, QueryParameter, URLEncodedBody
from sqlmodel import Session

from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.errors import AppError
from backend.escalation import manual
from backend.escalation.manual import Request as ApprovalAsk
from backend.escalation.pages import escalation_context
from backend.hazards.rules import MAX_PHOTOS, is_uuid
from backend.incidents import queries as incident_queries
from backend.models import ApprovalKind, Hazard, HazardState, Role, Severity, UnitLevel, utcnow
from backend.offline.photos import MAX_UPLOAD_BYTES, store_photo
from backend.tasks import queries, services
from backend.tasks.answers import act, origin_of, parse_deadline, refused
from backend.tasks.rules import DISPATCHERS, Action, allowed_actions, default_deadlines
from backend.tasks.services import Assignment, Evidence, Origin
from backend.units.services import units_under
from backend.validation import is_id
from backend.web import page, zone_of
from sync import Rejected, Write

PAGE_SIZE = 30


def loop_context(
    db: Session, principal: Principal, hazard: Hazard, history: Sequence[Any]
) -> dict[str, Any]:
    """What the hazard card shows of the loop: the open task, evidence, what this person may do
    (`history`: the hazard's events in order, as the card has read them)."""
    loaded = services.loaded_for_reading(db, hazard)
    facts = services.facts_for(principal, loaded)
    actions = allowed_actions(principal.role, principal.id, facts)
    context: dict[str, Any] = {
        "task": loaded.task,
        "offers": queries.offer_names(db, loaded.task.id) if loaded.task else [],
        "actions": [action.value for action in actions],
        "rectifications": services.rectifications(db, hazard.id),
        "notifications": queries.notifications_of(db, hazard.id),
        **escalation_context(db, principal, loaded, history),
    }
    if Action.ASSIGN in actions:
        accept_by, rectify_by = default_deadlines(Severity(hazard.severity), utcnow())
        context["assign"] = {
            "candidates": services.candidates(db, hazard),
            # Aware UTC; the form shows them in local time (|local_input).
            "accept_by": accept_by,
            "rectify_by": rectify_by,
            "has_enterprise": hazard.enterprise_id is not None,
        }
    return context


class DispatchPages(Controller):
    path = "/dispatch"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def queue(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        state_filter: Annotated[str, QueryParameter(name="state", max_length=16)] = "",
        severity: Annotated[str, QueryParameter(max_length=16)] = "",
        grid: Annotated[str, QueryParameter(max_length=12)] = "",
        enterprise: Annotated[str, QueryParameter(max_length=12)] = "",
        page_number: Annotated[int, QueryParameter(name="page", ge=1, le=10_000)] = 1,
    ) -> Response[Any]:
        """New hazards first, most severe first; kept fresh by htmx while it is open."""
        if principal.role not in DISPATCHERS:
            raise AppError("forbidden")
        filters = queries.QueueFilters(
            state=state_filter if state_filter in set(HazardState) else "",
            severity=severity if severity in set(Severity) else "",
            grid_id=int(grid) if grid.isdigit() and is_id(int(grid)) else None,
            enterprise_id=int(enterprise)
            if enterprise.isdigit() and is_id(int(enterprise))
            else None,
            **queries.dashboard_filters(request.query_params),
        )
        rows, total = queries.queue(
            db, principal, filters, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE
        )
        context = {
            "rows": rows,
            "tasks": services.open_task_summary(db, [row.Hazard.id for row in rows]),
            "late": {row.Hazard.id for row in rows if row.late},
            "total": total,
            "filters": filters,
            "states": list(HazardState),
            "severities": list(Severity),
            "grids": units_under(db, principal, UnitLevel.GRID),
            "page": page_number,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "query": request.url.query,
        }
        return page(request, "tasks/queue.html", context, block="results")


@dataclass
class AssignForm:
    people: list[str] = field(default_factory=list)
    to_enterprise: str = ""
    accept_by: str = ""
    rectify_by: str = ""
    instructions: str = ""


@dataclass
class RectifyForm:
    id: str = ""
    note: str = ""
    latitude: str = ""
    longitude: str = ""
    accuracy_m: str = ""
    photos: list[UploadFile] = field(default_factory=list)


class HazardLoopPages(Controller):
    """The actions on a hazard's card; each answers with the card again (or the refusal)."""

    path = "/hazards/{hazard_id:str}"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @post("/assign", sync_to_thread=True)
    def assign(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        hazard_id: FromPath[str],
        data: URLEncodedBody[dict[str, str | list[str]]],
    ) -> Response[Any]:
        """`people` is repeated once per person ticked (a plain value when just one is)."""
        form = AssignForm(**{k: v for k, v in data.items() if k in AssignForm.__dataclass_fields__})
        accept_by = parse_deadline(str(form.accept_by), zone_of(request))
        rectify_by = parse_deadline(str(form.rectify_by), zone_of(request))
        people = form.people if isinstance(form.people, list) else [str(form.people)]

        def run() -> list[Write]:
            if accept_by is None or rectify_by is None:
                raise Rejected("loop.deadlines")
            if not all(p.isdigit() and is_id(int(p)) for p in people):
                raise Rejected("loop.not_assignable")
            assignment = Assignment(
                user_ids=tuple(int(p) for p in people),
                to_enterprise=form.to_enterprise == "1",
                accept_by=accept_by,
                rectify_by=rectify_by,
                instructions=str(form.instructions).strip(),
            )
            origin = origin_of(request)
            return services.assign(db, principal, hazard_id, assignment, origin, str(uuid.uuid4()))

        # ?assigned=1: the card confirms it; #open-task: the phone lands on the new task.
        return act(request, db, run, f"/hazards/{hazard_id.lower()}?assigned=1#open-task")

    @post("/dismiss", sync_to_thread=True)
    def dismiss(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        hazard_id: FromPath[str],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        """A street's dispatcher asks the district to approve returning a report (台账); the
        district or city returns it directly."""
        reason = data.get("reason", "")
        if principal.role is Role.STREET_DISPATCHER:
            ask = ApprovalAsk(ApprovalKind.RETURN, reason)
            return self._act(
                request,
                db,
                hazard_id,
                lambda origin: manual.request_approval(db, principal, hazard_id, ask, origin)[1],
            )
        return self._act(
            request,
            db,
            hazard_id,
            lambda origin: services.dismiss(db, principal, hazard_id, reason, origin),
        )

    @post("/verify", sync_to_thread=True)
    def verify(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        hazard_id: FromPath[str],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        return self._act(
            request,
            db,
            hazard_id,
            lambda origin: services.verify(db, principal, hazard_id, data.get("note", ""), origin),
            data,
        )

    @post("/return", sync_to_thread=True)
    def send_back(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        hazard_id: FromPath[str],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        return self._act(
            request,
            db,
            hazard_id,
            lambda origin: services.send_back(
                db, principal, hazard_id, data.get("reason", ""), origin
            ),
            data,
        )

    @post("/rectify", sync_to_thread=True)
    def rectify(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        hazard_id: FromPath[str],
        data: MultipartBody[RectifyForm],
    ) -> Response[Any]:
        """The no-JavaScript path of the mutation `hazard.rectify`, photos included."""
        uploads = [upload for upload in data.photos if upload.filename][: MAX_PHOTOS + 1]
        if len(uploads) > MAX_PHOTOS:
            return refused(request, Rejected("loop.too_many_photos", count=MAX_PHOTOS))
        contents = [upload.file.read(MAX_UPLOAD_BYTES + 1) for upload in uploads]
        hashes = tuple(dict.fromkeys(hashlib.sha256(content).hexdigest() for content in contents))
        evidence_id = data.id.lower() if is_uuid(data.id) else str(uuid.uuid4())

        def run(origin: Origin) -> list[Write]:
            writes = services.rectify(
                db, principal, hazard_id, Evidence(evidence_id, data.note, hashes), origin
            )
            for sha256, content in zip(hashes, contents, strict=False):
                store_photo(db, principal, sha256, content, commit=False)
            return writes

        try:
            return self._act(request, db, hazard_id, run, data.__dict__)
        except AppError:
            db.rollback()
            raise

    def _act(
        self,
        request: Request[Any, Any, Any],
        db: Session,
        hazard_id: str,
        run: Callable[[Origin], list[Write]],
        form: Mapping[str, Any] | None = None,
    ) -> Response[Any]:
        origin = origin_of(request, form)
        return act(request, db, lambda: run(origin), f"/hazards/{hazard_id.lower()}")


class TaskPages(Controller):
    """A responder's inbox (it works where push does not: it is kept fresh while open)."""

    path = "/tasks"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def inbox(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
    ) -> Response[Any]:
        context = {"tasks": queries.inbox(db, principal), "now": utcnow()}
        return page(request, "tasks/inbox.html", context, block="results")

    @get("/{task_id:str}", sync_to_thread=True)
    def detail(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        task_id: FromPath[str],
    ) -> Response[Any]:
        card = queries.task_card(db, principal, task_id)
        if card is None:
            # An incident's task (backend/incidents/) has a card of its own.
            incident_card = incident_queries.task_card(db, principal, task_id)
            if incident_card is None:
                raise AppError("not_found")
            return page(request, "incidents/task.html", incident_card)
        context = {**card, "evidence_id": str(uuid.uuid4()), "max_photos": MAX_PHOTOS}
        return page(request, "tasks/detail.html", context)

    @post("/{task_id:str}/accept", sync_to_thread=True)
    def accept(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        task_id: FromPath[str],
    ) -> Response[Any]:
        origin = origin_of(request)
        return act(
            request,
            db,
            lambda: services.accept(db, principal, task_id, origin),
            f"/tasks/{task_id.lower()}",
        )

    @post("/{task_id:str}/decline", sync_to_thread=True)
    def decline(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        task_id: FromPath[str],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        origin = origin_of(request)
        reason = data.get("reason", "")
        return act(
            request, db, lambda: services.decline(db, principal, task_id, reason, origin), "/tasks"
        )


ROUTES = [DispatchPages, HazardLoopPages, TaskPages]
__all__ = ["ROUTES", "loop_context", "parse_deadline", "refused"]
