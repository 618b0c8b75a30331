"""Plan administration: the plans, one plan's elements (roles, task templates, target kinds) as
forms whose rows htmx adds and removes, and the protection-target layer with its CSV import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, MultipartBody, URLEncodedBody
from sqlalchemy import func, select
from sqlmodel import Session

from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.errors import AppError
from backend.models import (
    Plan,
    PlanRole,
    PlanTargetKind,
    PlanTaskTemplate,
    ProtectionTarget,
    utcnow,
)
from backend.plans import importing, services
from backend.plans.policy import INCIDENT_TYPES, TARGET_KINDS, UNIT_LEVELS
from backend.plans.services import PlanInput, TemplateInput
from backend.tasks.answers import act
from backend.web import page, wants_fragment
from sync import Write

Form = URLEncodedBody[dict[str, str | list[str]]]


def _text(data: dict[str, str | list[str]], key: str) -> str:
    value = data.get(key, "")
    return value[0] if isinstance(value, list) and value else str(value or "")


def _list(data: dict[str, str | list[str]], key: str) -> list[str]:
    value = data.get(key, [])
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _plan_input(data: dict[str, str | list[str]]) -> PlanInput:
    return PlanInput(
        name=_text(data, "name"),
        incident_types=_list(data, "incident_types"),
        base_radius_m=_text(data, "base_radius_m"),
        radius_per_level_m=_text(data, "radius_per_level_m"),
        target_kinds=_list(data, "target_kinds"),
        active=_text(data, "active") != "0",
    )


def _manager(principal: Principal) -> None:
    if not services.may_manage(principal):
        raise AppError("forbidden")


def _index_context(db: Session) -> dict[str, Any]:
    plans = db.execute(select(Plan).order_by(Plan.active.desc(), Plan.name)).scalars().all()
    return {"plans": plans, "types": INCIDENT_TYPES, "kinds": TARGET_KINDS}


def _detail_context(db: Session, plan_id: int) -> dict[str, Any]:
    plan = db.get(Plan, plan_id)
    if plan is None:
        raise AppError("not_found")
    roles = (
        db.execute(
            select(PlanRole).where(PlanRole.plan_id == plan_id).order_by(PlanRole.sort, PlanRole.id)
        )
        .scalars()
        .all()
    )
    context = {
        "plan": plan,
        "roles": roles,
        "role_titles": {r.id: r.title for r in roles},
        "templates": db.execute(
            select(PlanTaskTemplate)
            .where(PlanTaskTemplate.plan_id == plan_id)
            .order_by(PlanTaskTemplate.role_id, PlanTaskTemplate.id)
        )
        .scalars()
        .all(),
        "plan_kinds": set(
            db.execute(
                select(PlanTargetKind.kind).where(PlanTargetKind.plan_id == plan_id)
            ).scalars()
        ),
        "types": INCIDENT_TYPES,
        "kinds": TARGET_KINDS,
        "levels": UNIT_LEVELS,
        "positions": services.POSITIONS,
    }
    return context


def _redisplay(
    request: Request[Any, Any, Any],
    template: str,
    context: Callable[[], dict[str, Any]],
    data: dict[str, str | list[str]],
) -> Callable[[dict[str, str]], Response[Any]] | None:
    """A plain form with a field to correct comes back (422) with what was typed and the notes;
    htmx keeps the form on screen and gets the notes in its result block instead (`refused`)."""
    if wants_fragment(request):
        return None

    def again(errors: dict[str, str]) -> Response[Any]:
        typed: dict[str, Any] = {key: _text(data, key) for key in data}
        typed |= {key: _list(data, key) for key in ("incident_types", "target_kinds")}
        return page(
            request, template, {**context(), "typed": typed, "errors": errors}, status_code=422
        )

    return again


@dataclass
class ImportForm:
    file: UploadFile | None = None


class PlanPages(Controller):
    path = "/plans"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def index(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
    ) -> Response[Any]:
        _manager(principal)
        return page(request, "plans/index.html", _index_context(db))

    @post("/", sync_to_thread=True)
    def create(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        data: Form,
    ) -> Response[Any]:
        made: list[int] = []

        def run() -> list[Write]:
            plan_id, writes = services.save_plan(db, principal, None, _plan_input(data), utcnow())
            made.append(plan_id)
            return writes

        return act(
            request,
            db,
            run,
            lambda: f"/plans/{made[0]}",
            _redisplay(request, "plans/index.html", lambda: _index_context(db), data),
        )

    @get("/{plan_id:int}", sync_to_thread=True)
    def detail(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        plan_id: FromPath[int],
    ) -> Response[Any]:
        _manager(principal)
        return page(request, "plans/detail.html", _detail_context(db, plan_id))

    @post("/{plan_id:int}", sync_to_thread=True)
    def update(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        plan_id: FromPath[int],
        data: Form,
    ) -> Response[Any]:
        return act(
            request,
            db,
            lambda: services.save_plan(db, principal, plan_id, _plan_input(data), utcnow())[1],
            f"/plans/{plan_id}",
            _redisplay(request, "plans/detail.html", lambda: _detail_context(db, plan_id), data),
        )

    @post("/{plan_id:int}/roles", sync_to_thread=True)
    def add_role(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        plan_id: FromPath[int],
        data: Form,
    ) -> Response[Any]:
        def run() -> list[Any]:
            return services.add_role(
                db,
                principal,
                plan_id,
                _text(data, "key"),
                _text(data, "title"),
                _text(data, "unit_level"),
                _text(data, "position"),
                utcnow(),
            )

        return act(request, db, run, f"/plans/{plan_id}#roles")

    @post("/{plan_id:int}/roles/{role_id:int}/delete", sync_to_thread=True)
    def remove_role(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        plan_id: FromPath[int],
        role_id: FromPath[int],
    ) -> Response[Any]:
        return act(
            request,
            db,
            lambda: services.remove_role(db, principal, plan_id, role_id, utcnow()),
            f"/plans/{plan_id}#roles",
        )

    @post("/{plan_id:int}/templates", sync_to_thread=True)
    def add_template(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        plan_id: FromPath[int],
        data: Form,
    ) -> Response[Any]:
        form = TemplateInput(
            **{name: _text(data, name) for name in TemplateInput.__dataclass_fields__}
        )
        return act(
            request,
            db,
            lambda: services.add_template(db, principal, plan_id, form, utcnow()),
            f"/plans/{plan_id}#templates",
        )

    @post("/{plan_id:int}/templates/{template_id:int}/delete", sync_to_thread=True)
    def remove_template(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        plan_id: FromPath[int],
        template_id: FromPath[int],
    ) -> Response[Any]:
        return act(
            request,
            db,
            lambda: services.remove_template(db, principal, plan_id, template_id, utcnow()),
            f"/plans/{plan_id}#templates",
        )

    @get("/targets", sync_to_thread=True)
    def targets(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
    ) -> Response[Any]:
        _manager(principal)
        return page(request, "plans/targets.html", self._targets(db, principal))

    @post("/targets/import", sync_to_thread=True)
    def import_targets(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        data: MultipartBody[ImportForm],
    ) -> Response[Any]:
        _manager(principal)
        content = data.file.file.read(importing.MAX_BYTES + 1) if data.file else b""
        report = importing.import_targets(db, principal, content)
        if report.problem or report.errors:
            db.rollback()
            context = {**self._targets(db, principal), "report": report}
            return page(request, "plans/targets.html", context, block="report", status_code=422)
        db.commit()
        context = {**self._targets(db, principal), "report": report}
        return page(request, "plans/targets.html", context, block="report")

    def _targets(self, db: Session, principal: Principal) -> dict[str, Any]:
        scoped = ProtectionTarget.unit_path.startswith(principal.unit_path)
        return {
            "targets": db.execute(
                select(ProtectionTarget)
                .where(scoped)
                .order_by(ProtectionTarget.kind, ProtectionTarget.name)
                .limit(500)
            )
            .scalars()
            .all(),
            "total": db.execute(
                select(func.count()).select_from(ProtectionTarget).where(scoped)
            ).scalar_one(),
            "report": None,
        }


ROUTES = [PlanPages]
