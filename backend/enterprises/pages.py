"""Enterprise pages: search list, detail card, create and edit forms (one URL, page or fragment)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect
from sqlalchemy import select
from sqlmodel import Session

from backend.audit import Origin
from backend.auth.guards import signed_in
from backend.auth.policy import Principal, can_edit_enterprise, inspection_kind
from backend.enterprises import services
from backend.enterprises.fields import parse_enterprise
from backend.errors import AppError
from backend.models import Enterprise, Industry, RiskProfile, UnitLevel
from backend.units.services import units_under
from backend.web import after_change, page

PAGE_SIZE = 30


def _form_context(
    db: Session, principal: Principal, form: dict[str, str], errors: dict[str, str]
) -> dict[str, Any]:
    return {
        "form": form,
        "errors": errors,
        "industries": list(Industry),
        "grids": units_under(db, principal, UnitLevel.GRID),
    }


def _form_of(enterprise: Enterprise) -> dict[str, str]:
    return {
        "name": enterprise.name,
        "credit_code": enterprise.credit_code,
        "industry": enterprise.industry,
        "address": enterprise.address,
        "contact_name": enterprise.contact_name,
        "contact_phone": enterprise.contact_phone,
        "latitude": "" if enterprise.latitude is None else str(enterprise.latitude),
        "longitude": "" if enterprise.longitude is None else str(enterprise.longitude),
        "grid_id": str(enterprise.grid_id),
    }


def _grid_id(form: dict[str, str]) -> int:
    value = form.get("grid_id", "")
    if not value.isdigit():
        raise AppError("validation_failed", fields={"grid_id": "grid"})
    return int(value)


class EnterprisePages(Controller):
    path = "/enterprises"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def index(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        q: Annotated[str, QueryParameter(max_length=100)] = "",
        industry: Annotated[str, QueryParameter(max_length=32)] = "",
        page_number: Annotated[int, QueryParameter(name="page", ge=1, le=10_000)] = 1,
    ) -> Response[Any]:
        if principal.is_enterprise and principal.enterprise_id is not None:
            return Redirect(f"/enterprises/{principal.enterprise_id}", status_code=303)
        rows, total = services.enterprise_rows(
            db,
            principal,
            query=q,
            industry=industry,
            limit=PAGE_SIZE,
            offset=(page_number - 1) * PAGE_SIZE,
        )
        context = {
            "rows": rows,
            "total": total,
            "q": q,
            "industry": industry,
            "industries": list(Industry),
            "page": page_number,
            "pages": max(1, -(-total // PAGE_SIZE)),
        }
        return page(request, "enterprises/index.html", context, block="results")

    @get("/{enterprise_id:int}", sync_to_thread=True)
    def detail(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        enterprise_id: FromPath[int],
    ) -> Response[Any]:
        enterprise, grid = services.get_enterprise(db, principal, enterprise_id)
        context = {
            "enterprise": enterprise,
            "grid": grid,
            "points": services.key_points(db, principal, enterprise_id),
            "can_edit": can_edit_enterprise(principal, enterprise_id, grid.path),
            "inspection_kind": inspection_kind(principal, enterprise_id, grid.path),
            "risk_colour": db.execute(
                select(RiskProfile.colour).where(RiskProfile.enterprise_id == enterprise_id)
            ).scalar(),
        }
        return page(request, "enterprises/detail.html", context)

    @get("/new", sync_to_thread=True)
    def new_form(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
    ) -> Response[Any]:
        return page(
            request,
            "enterprises/form.html",
            {**_form_context(db, principal, {}, {}), "enterprise": None},
        )

    @post("/new", sync_to_thread=True)
    def create(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        try:
            fields, errors = parse_enterprise(data, request.app.state.settings.area)
            if fields is None:
                raise AppError("validation_failed", fields=errors)
            enterprise = services.create_enterprise(db, principal, fields, _grid_id(data), origin)
        except AppError as error:
            if error.code != "validation_failed":
                raise
            db.rollback()
            context = {
                **_form_context(db, principal, data, error.fields),
                "enterprise": None,
                "error": error,
            }
            return page(request, "enterprises/form.html", context, block="form", status_code=422)
        return after_change(request, f"/enterprises/{enterprise.id}")

    @get("/{enterprise_id:int}/edit", sync_to_thread=True)
    def edit_form(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        enterprise_id: FromPath[int],
    ) -> Response[Any]:
        enterprise, grid = services.get_enterprise(db, principal, enterprise_id)
        if not can_edit_enterprise(principal, enterprise_id, grid.path):
            raise AppError("forbidden")
        context = {
            **_form_context(db, principal, _form_of(enterprise), {}),
            "enterprise": enterprise,
        }
        return page(request, "enterprises/form.html", context)

    @post("/{enterprise_id:int}/edit", sync_to_thread=True)
    def update(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        enterprise_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        enterprise, _ = services.get_enterprise(db, principal, enterprise_id)
        try:
            fields, errors = parse_enterprise(data, request.app.state.settings.area)
            if fields is None:
                raise AppError("validation_failed", fields=errors)
            services.update_enterprise(db, principal, enterprise_id, fields, _grid_id(data), origin)
        except AppError as error:
            if error.code != "validation_failed":
                raise
            db.rollback()
            context = {
                **_form_context(db, principal, data, error.fields),
                "enterprise": enterprise,
                "error": error,
            }
            return page(request, "enterprises/form.html", context, block="form", status_code=422)
        return after_change(request, f"/enterprises/{enterprise_id}")
