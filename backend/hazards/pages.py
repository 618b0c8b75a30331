"""Hazard pages: the list for the area, a hazard's card with photos and history, and the report
form (a real multipart form without JavaScript; with it, the phone's outbox sends it)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, MultipartBody, QueryParameter
from litestar.response import Redirect
from sqlmodel import Session

from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.enterprises.services import enterprise_rows, key_points
from backend.errors import AppError
from backend.hazards.rules import MAX_PHOTOS, parse_report
from backend.hazards.services import Lookups, plan_report
from backend.hazards.views import hazard_card, list_hazards
from backend.models import HazardCategory, Severity, UnitLevel, utcnow
from backend.offline import changes
from backend.offline.photos import MAX_UPLOAD_BYTES, store_photo
from backend.tasks.pages import loop_context
from backend.tasks.queries import late_among
from backend.units.services import units_under
from backend.web import device_of, page
from sync import Rejected

PAGE_SIZE = 30


@dataclass
class ReportForm:
    id: str = ""
    enterprise_id: str = ""
    key_point_id: str = ""
    grid_id: str = ""
    severity: str = ""
    category: str = ""
    description: str = ""
    latitude: str = ""
    longitude: str = ""
    accuracy_m: str = ""
    photos: list[UploadFile] = field(default_factory=list)


def form_context(
    db: Session, principal: Principal, form: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    enterprises, _ = enterprise_rows(db, principal, limit=500)
    enterprise_id = form.get("enterprise_id")
    points: Any = []
    if str(enterprise_id or "").isdigit():
        try:
            points = key_points(db, principal, int(str(enterprise_id)))
        except AppError:
            points = []  # not in scope: the rules say so on the enterprise field
    return {
        "form": form,
        "errors": errors,
        "enterprises": enterprises,
        "points": points,
        "grids": units_under(db, principal, UnitLevel.GRID),
        "severities": list(Severity),
        "categories": list(HazardCategory),
        "max_photos": MAX_PHOTOS,
    }


class HazardPages(Controller):
    path = "/hazards"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def index(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        severity: Annotated[str, QueryParameter(max_length=16)] = "",
        page_number: Annotated[int, QueryParameter(name="page", ge=1, le=10_000)] = 1,
    ) -> Response[Any]:
        rows, total = list_hazards(
            db, principal, severity=severity, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE
        )
        context = {
            "rows": rows,
            "late": late_among(db, [row.Hazard.id for row in rows], utcnow()),
            "total": total,
            "severity": severity,
            "severities": list(Severity),
            "page": page_number,
            "pages": max(1, -(-total // PAGE_SIZE)),
        }
        return page(request, "hazards/index.html", context, block="results")

    @get("/new", sync_to_thread=True)
    def new_form(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        enterprise_id: Annotated[str, QueryParameter(max_length=12)] = "",
        category: Annotated[str, QueryParameter(max_length=32)] = "",
        severity: Annotated[str, QueryParameter(max_length=16)] = "",
        description: Annotated[str, QueryParameter(max_length=2000)] = "",
    ) -> Response[Any]:
        """Pre-filled from a link (a failed checklist item); unknown values are simply dropped,
        and the report itself goes through the same rules as any other when it is sent."""
        form = {
            "id": str(uuid.uuid4()),
            "enterprise_id": enterprise_id if enterprise_id.isdigit() else "",
            "severity": severity if severity in set(Severity) else Severity.GENERAL.value,
            "category": category if category in set(HazardCategory) else "",
            "description": description,
        }
        return page(request, "hazards/new.html", form_context(db, principal, form, {}))

    @post("/new", sync_to_thread=True)
    def create(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        data: MultipartBody[ReportForm],
    ) -> Response[Any]:
        """The no-JavaScript path: the same rules and rows as the sync mutation `hazard.report`."""
        uploads = [upload for upload in data.photos if upload.filename]
        raw = {k: v for k, v in data.__dict__.items() if k != "photos"}
        contents = [upload.file.read(MAX_UPLOAD_BYTES + 1) for upload in uploads[: MAX_PHOTOS + 1]]
        hashes = [hashlib.sha256(content).hexdigest() for content in contents]
        try:
            fields, errors = parse_report(
                {**raw, "photos": hashes}, request.app.state.settings.area
            )
            if fields is None:
                raise AppError("validation_failed", fields=errors)
            now = utcnow()
            writes = plan_report(
                Lookups(db), principal, fields, now, now, device=device_of(request)
            )
            # Photos last: a report the rules refuse leaves nothing behind, photos included.
            for sha256, content in zip(hashes, contents, strict=True):
                store_photo(db, principal, sha256, content, commit=False)
            changes.store(db, writes)
            db.commit()
        except Rejected as refusal:
            db.rollback()
            context = {**form_context(db, principal, raw, {}), "refusal": refusal.code}
            return page(request, "hazards/new.html", context, block="form", status_code=422)
        except AppError as error:
            db.rollback()
            context = {**form_context(db, principal, raw, error.fields), "error": error}
            return page(
                request, "hazards/new.html", context, block="form", status_code=error.status
            )
        return Redirect(f"/hazards/{fields.id}", status_code=303)

    @get("/{hazard_id:str}", sync_to_thread=True)
    def detail(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        hazard_id: FromPath[str],
    ) -> Response[Any]:
        card = hazard_card(db, principal, hazard_id)
        return page(
            request,
            "hazards/detail.html",
            card | loop_context(db, principal, card["hazard"], card["history"]),
        )


class OutboxPage(Controller):
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/outbox", sync_to_thread=False)
    def outbox(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """What is on this phone and not yet on the server: drawn by the page's script from IndexedDB."""
        return page(request, "outbox.html")
