"""Inspection pages: the checklist form for an enterprise, an inspection's results (with a
pre-filled hazard report for each failed item), and the history per enterprise and per inspector."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, MultipartBody, QueryParameter
from sqlmodel import Session

from backend.audit import Origin
from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.errors import AppError
from backend.inspections import services
from backend.models import ItemResult, utcnow
from backend.offline.photos import MAX_UPLOAD_BYTES
from backend.web import after_change, locale_of, page


def _form_context(
    request: Request[Any, Any, Any],
    db: Session,
    principal: Principal,
    enterprise_id: int,
    form: dict[str, str],
    errors: dict[str, str],
) -> dict[str, Any]:
    enterprise, _, kind, checklist = services.open_checklist(db, principal, enterprise_id)
    return {
        "enterprise": enterprise,
        "kind": kind,
        "checklist": checklist,
        "results": list(ItemResult),
        "form": form,
        "errors": errors,
        "zh": locale_of(request) == "zh",
    }


def report_link(enterprise_id: int, row: services.ResultRow, zh: bool) -> str:
    """The hazard report form, pre-filled from a failed item (隐患草稿)."""
    text = row.item.text_zh if zh else row.item.text_en
    description = f"[{row.item.code}] {text}" + (f" — {row.note}" if row.note else "")
    query = {
        "enterprise_id": str(enterprise_id),
        "category": row.item.category,
        "severity": row.item.severity,
        "description": description[:2000],
    }
    return f"/hazards/new?{urlencode(query)}"


# Refusals shown on the re-rendered form; anything else (scope) goes to the error page.
_REDISPLAY = frozenset(
    {"validation_failed", "photo_not_image", "photo_too_large_pixels", "payload_too_large"}
)


def _split(data: dict[str, Any]) -> tuple[dict[str, str], dict[int, list[bytes]]]:
    """Text fields, and the photos per item from the `photo_<item id>` file inputs."""
    fields: dict[str, str] = {}
    photos: dict[int, list[bytes]] = {}
    for key, value in data.items():
        values = value if isinstance(value, list) else [value]
        uploads = [v for v in values if isinstance(v, UploadFile) and v.filename]
        if key.startswith("photo_"):
            item_id = key.removeprefix("photo_")
            if uploads:
                # A key that is not an item id is refused by the service as an unknown item.
                number = int(item_id) if item_id.isdigit() else -1
                photos[number] = [u.file.read(MAX_UPLOAD_BYTES + 1) for u in uploads[:4]]
        elif isinstance(values[0], str):
            fields[key] = values[0]
    return fields, photos


class InspectionPages(Controller):
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/enterprises/{enterprise_id:int}/inspect", sync_to_thread=True)
    def checklist(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        enterprise_id: FromPath[int],
        check_in: Annotated[str, QueryParameter(max_length=36)] = "",
    ) -> Response[Any]:
        form = {"check_in_id": check_in, "started_at": utcnow().isoformat()}
        context = _form_context(request, db, principal, enterprise_id, form, {})
        form["template_id"] = str(context["checklist"].template.id)
        return page(request, "inspections/form.html", context)

    @post("/enterprises/{enterprise_id:int}/inspect", sync_to_thread=True)
    def record(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        enterprise_id: FromPath[int],
        data: MultipartBody[dict[str, Any]],
    ) -> Response[Any]:
        fields, photos = _split(data)
        try:
            inspection = services.record_inspection(
                db, principal, enterprise_id, fields, origin, photos
            )
        except AppError as error:
            if error.code not in _REDISPLAY:
                raise
            db.rollback()
            context = {
                **_form_context(request, db, principal, enterprise_id, fields, error.fields),
                "error": error,
            }
            return page(
                request, "inspections/form.html", context, block="form", status_code=error.status
            )
        return after_change(request, f"/inspections/{inspection.id}")

    @get("/inspections/{inspection_id:str}", sync_to_thread=True)
    def detail(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        inspection_id: FromPath[str],
    ) -> Response[Any]:
        inspection, enterprise, rows, check_in_missing = services.get_inspection(
            db, principal, inspection_id
        )
        zh = locale_of(request) == "zh"
        links = {
            row.item.id: report_link(enterprise.id or 0, row, zh)
            for row in rows
            if row.result == ItemResult.FAIL
        }
        context = {
            "inspection": inspection,
            "enterprise": enterprise,
            "rows": rows,
            "links": links,
            "check_in_missing": check_in_missing,
            "zh": zh,
        }
        return page(request, "inspections/detail.html", context)

    @get("/enterprises/{enterprise_id:int}/inspections", sync_to_thread=True)
    def enterprise_history(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        enterprise_id: FromPath[int],
    ) -> Response[Any]:
        enterprise, rows = services.enterprise_history(db, principal, enterprise_id)
        context = {"enterprise": enterprise, "rows": rows}
        return page(request, "inspections/history.html", context)

    @get("/inspections", sync_to_thread=True)
    def mine(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
    ) -> Response[Any]:
        context = {"enterprise": None, "rows": services.my_history(db, principal)}
        return page(request, "inspections/history.html", context)
