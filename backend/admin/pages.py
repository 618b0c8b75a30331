"""Administration pages (administrators only): the unit tree and the users of the admin's area."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from sqlmodel import Session

from backend.admin import users
from backend.audit import Origin
from backend.auth.guards import administrator
from backend.auth.passwords import MIN_PASSWORD_LENGTH
from backend.auth.policy import Principal
from backend.errors import AppError
from backend.models import Role, Unit, User
from backend.units import services as units
from backend.web import after_change, page

PAGE_SIZE = 30


def _as_id(value: str) -> int | None:
    # isdecimal, not isdigit: int() refuses digits such as "²"; ids never need 10+ digits.
    value = value.strip()
    return int(value) if value.isdecimal() and len(value) < 10 else None


def _tree(db: Session, principal: Principal) -> list[tuple[Unit, int]]:
    """The admin's unit and everything below it, with each unit's depth for indenting."""
    base = principal.unit_path.count("/")
    return [(unit, unit.path.count("/") - base) for unit in units.units_under(db, principal)]


def _units_context(
    db: Session, principal: Principal, form: dict[str, str], errors: dict[str, str]
) -> dict[str, Any]:
    tree = _tree(db, principal)
    return {
        "tree": tree,
        "parents": [(unit, depth) for unit, depth in tree if units.child_level(unit.level)],
        "form": form,
        "errors": errors,
    }


def _user_context(
    db: Session,
    principal: Principal,
    form: dict[str, str],
    errors: dict[str, str],
    user: User | None = None,
) -> dict[str, Any]:
    return {
        "user": user,
        "form": form,
        "errors": errors,
        "roles": list(Role),
        "units": _tree(db, principal),
        "min_password": MIN_PASSWORD_LENGTH,
    }


def _form_of(db: Session, user: User) -> dict[str, str]:
    enterprise = users.enterprise_of(db, user)
    return {
        "display_name": user.display_name,
        "phone": user.phone,
        "role": user.role,
        "unit_id": str(user.unit_id),
        "credit_code": enterprise.credit_code if enterprise else "",
        "active": "1" if user.active else "",
    }


def _changes_of(form: dict[str, str]) -> users.UserChanges:
    return users.UserChanges(
        display_name=form.get("display_name", ""),
        phone=form.get("phone", ""),
        role=form.get("role", ""),
        unit_id=_as_id(form.get("unit_id", "")),
        credit_code=form.get("credit_code", ""),
        # An unticked checkbox is not sent at all.
        active=bool(form.get("active")),
    )


class AdminPages(Controller):
    path = "/admin"
    include_in_schema = False
    guards = [administrator]  # noqa: RUF012

    @get("/", sync_to_thread=False)
    def index(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return page(request, "admin/index.html")

    @get("/units", sync_to_thread=True)
    def unit_tree(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        parent: Annotated[str, QueryParameter(max_length=12)] = "",
    ) -> Response[Any]:
        context = _units_context(db, principal, {"parent_id": parent}, {})
        return page(request, "admin/units.html", context)

    @post("/units", sync_to_thread=True)
    def create_unit(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        try:
            parent_id = _as_id(data.get("parent_id", ""))
            if parent_id is None:
                raise AppError("validation_failed", fields={"parent_id": "required"})
            unit = units.create_unit(
                db,
                principal,
                parent_id,
                data.get("code", ""),
                data.get("name", ""),
                data.get("name_en", ""),
                origin,
            )
        except AppError as error:
            if error.code != "validation_failed":
                raise
            db.rollback()
            context = {**_units_context(db, principal, data, error.fields), "error": error}
            return page(request, "admin/units.html", context, block="form", status_code=422)
        return after_change(request, f"/admin/units#unit-{unit.id}")

    @get("/units/{unit_id:int}/edit", sync_to_thread=True)
    def unit_form(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        unit_id: FromPath[int],
    ) -> Response[Any]:
        unit = units.get_unit(db, principal, unit_id)
        context = {"unit": unit, "form": {"name": unit.name, "name_en": unit.name_en}, "errors": {}}
        return page(request, "admin/unit_form.html", context)

    @post("/units/{unit_id:int}/edit", sync_to_thread=True)
    def rename_unit(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        unit_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        try:
            units.rename_unit(
                db, principal, unit_id, data.get("name", ""), data.get("name_en", ""), origin
            )
        except AppError as error:
            if error.code != "validation_failed":
                raise
            db.rollback()
            unit = units.get_unit(db, principal, unit_id)
            context = {"unit": unit, "form": data, "errors": error.fields, "error": error}
            return page(request, "admin/unit_form.html", context, block="form", status_code=422)
        return after_change(request, f"/admin/units#unit-{unit_id}")

    @get("/users", sync_to_thread=True)
    def user_list(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        q: Annotated[str, QueryParameter(max_length=100)] = "",
        role: Annotated[str, QueryParameter(max_length=32)] = "",
        unit: Annotated[str, QueryParameter(max_length=12)] = "",
        page_number: Annotated[int, QueryParameter(name="page", ge=1, le=10_000)] = 1,
    ) -> Response[Any]:
        rows, total = users.list_users(
            db,
            principal,
            role=role,
            unit_id=_as_id(unit),
            query=q,
            limit=PAGE_SIZE,
            offset=(page_number - 1) * PAGE_SIZE,
        )
        context = {
            "rows": rows,
            "total": total,
            "q": q,
            "role": role,
            "unit": unit,
            "roles": list(Role),
            "units": _tree(db, principal),
            "page": page_number,
            "pages": max(1, -(-total // PAGE_SIZE)),
        }
        return page(request, "admin/users.html", context, block="results")

    @get("/users/new", sync_to_thread=True)
    def new_user_form(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
    ) -> Response[Any]:
        return page(request, "admin/user_form.html", _user_context(db, principal, {}, {}))

    @post("/users/new", sync_to_thread=True)
    def create_user(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        fields = users.UserInput(
            data.get("username", ""),
            data.get("display_name", ""),
            data.get("role", ""),
            data.get("password", ""),
        )
        try:
            user = users.create_user(
                db,
                principal,
                fields,
                unit_id=_as_id(data.get("unit_id", "")),
                credit_code=data.get("credit_code", ""),
                phone=data.get("phone", ""),
                origin=origin,
            )
        except AppError as error:
            if error.code != "validation_failed":
                raise
            db.rollback()
            form = {key: value for key, value in data.items() if key != "password"}
            context = {**_user_context(db, principal, form, error.fields), "error": error}
            return page(request, "admin/user_form.html", context, block="form", status_code=422)
        return after_change(request, f"/admin/users/{user.id}/edit")

    @get("/users/{user_id:int}/edit", sync_to_thread=True)
    def edit_user_form(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        user_id: FromPath[int],
        reset: Annotated[str, QueryParameter(max_length=1)] = "",
    ) -> Response[Any]:
        user, _ = users.get_user(db, principal, user_id)
        context = {
            **_user_context(db, principal, _form_of(db, user), {}, user),
            "password_reset": reset == "1",
        }
        return page(request, "admin/user_form.html", context)

    @post("/users/{user_id:int}/edit", sync_to_thread=True)
    def update_user(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        user_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        try:
            users.update_user(db, principal, user_id, _changes_of(data), origin)
        except AppError as error:
            if error.code != "validation_failed":
                raise
            db.rollback()
            user, _ = users.get_user(db, principal, user_id)
            context = {**_user_context(db, principal, data, error.fields, user), "error": error}
            return page(request, "admin/user_form.html", context, block="form", status_code=422)
        return after_change(request, "/admin/users")

    @post("/users/{user_id:int}/password", sync_to_thread=True)
    def reset_password(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        user_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        try:
            users.reset_password(db, principal, user_id, data.get("password", ""), origin)
        except AppError as error:
            if error.code != "validation_failed":
                raise
            db.rollback()
            user, _ = users.get_user(db, principal, user_id)
            context = {
                **_user_context(db, principal, _form_of(db, user), {}, user),
                "password_errors": error.fields,
                "password_error": error,
            }
            return page(
                request, "admin/user_form.html", context, block="password_form", status_code=422
            )
        return after_change(request, f"/admin/users/{user_id}/edit?reset=1")
