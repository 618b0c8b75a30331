"""The escalation policy page (/admin/policies): the versions in force and a form for a new one."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Redirect
from sqlmodel import Session

from backend.admin import policies
from backend.audit import Origin
from backend.auth.guards import administrator
from backend.auth.policy import Principal
from backend.errors import AppError
from backend.models import EscalationPolicy, Unit
from backend.web import page, wants_fragment


def _level(db: Session, principal: Principal) -> str:
    unit = db.get(Unit, principal.unit_id)
    return unit.level if unit else ""


def _context(
    db: Session, principal: Principal, form: dict[str, str], errors: dict[str, str], **extra: Any
) -> dict[str, Any]:
    return {
        "policies": policies.active(db),
        "retired": policies.retired(db),
        "may_edit": policies.may_edit(principal, _level(db, principal)),
        "severities": policies.SEVERITIES,
        "categories": policies.CATEGORIES,
        "bounds": policies.BOUNDS,
        "form": form,
        "errors": errors,
        "saved": None,  # the version just saved, for the confirmation
        **extra,
    }


_BLANK = {"severity": "*", "category": "*", "tiers": "street,district,city"}


class PolicyPages(Controller):
    path = "/admin/policies"
    include_in_schema = False
    guards = [administrator]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def index(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        saved: Annotated[int | None, QueryParameter(ge=1, le=2_000_000_000)] = None,
    ) -> Response[Any]:
        """`saved`: the version just saved, confirmed above the form (the no-JavaScript path)."""
        policy = db.get(EscalationPolicy, saved) if saved is not None else None
        context = _context(db, principal, dict(_BLANK), {}, saved=policy)
        return page(request, "admin/policies.html", context)

    @post("/", sync_to_thread=True)
    def create(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        fields = policies.PolicyInput(
            severity=data.get("severity", ""),
            category=data.get("category", ""),
            accept_minutes=data.get("accept_minutes", ""),
            rectify_hours=data.get("rectify_hours", ""),
            renotify_minutes=data.get("renotify_minutes", ""),
            tiers=data.get("tiers", ""),
        )
        try:
            policy = policies.new_version(db, principal, _level(db, principal), fields, origin)
        except AppError as error:
            if error.code not in ("validation_failed", "conflict"):
                raise
            db.rollback()
            context = _context(db, principal, data, error.fields, error=error)
            return page(
                request, "admin/policies.html", context, block="policies", status_code=error.status
            )
        if wants_fragment(request):
            # The table, the confirmation and a blank form, swapped in place. (A redirect to the
            # same page with only a new #fragment would not load anything: the form stayed faded
            # and the table old.)
            context = _context(db, principal, dict(_BLANK), {}, saved=policy)
            return page(request, "admin/policies.html", context, block="policies")
        return Redirect(
            f"/admin/policies?saved={policy.id}#policy-{policy.id}",
            status_code=303,
            headers={"Vary": "HX-Request"},
        )


ROUTES = [PolicyPages]
