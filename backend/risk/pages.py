"""The risk profile page (score, colour, factors, colour history, records) and the forms that
record or import enforcement decisions and accidents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, MultipartBody, URLEncodedBody
from sqlmodel import Session

from backend.audit import Origin
from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.enterprises.services import get_enterprise
from backend.errors import AppError
from backend.models import AccidentLevel, EnforcementKind, utcnow
from backend.risk import importing, records
from backend.web import after_change, page

FORM_KINDS = {"enforcement", "accident"}


@dataclass
class RecordsUpload:
    kind: str = ""
    file: UploadFile | None = None


def _context(db: Session, principal: Principal, enterprise_id: int, **extra: Any) -> dict[str, Any]:
    enterprise, grid = get_enterprise(db, principal, enterprise_id)
    return {
        "enterprise": enterprise,
        "grid": grid,
        "profile": records.profile_of(db, enterprise_id),
        "history": records.history(db, enterprise_id),
        "enforcement": records.records_of(db, "enforcement", enterprise_id),
        "accidents": records.records_of(db, "accident", enterprise_id),
        "can_record": records.can_record(principal, enterprise_id, grid.path),
        "kinds": list(EnforcementKind),
        "levels": list(AccidentLevel),
        "form": {},
        "form_kind": "",
        "errors": {},
        **extra,
    }


class RiskPages(Controller):
    path = "/enterprises/{enterprise_id:int}/risk"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def profile(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        enterprise_id: FromPath[int],
    ) -> Response[Any]:
        return page(request, "risk/profile.html", _context(db, principal, enterprise_id))

    @post("/{kind:str}", sync_to_thread=True)
    def add(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        enterprise_id: FromPath[int],
        kind: FromPath[str],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        if kind not in FORM_KINDS:
            raise AppError("not_found")
        values, errors = records.parse(kind, data, utcnow().date())
        if errors:
            context = _context(
                db, principal, enterprise_id, form=data, form_kind=kind, errors=errors
            )
            if not context["can_record"]:
                raise AppError("forbidden")
            return page(request, "risk/profile.html", context, block="forms", status_code=422)
        records.add(db, principal, kind, enterprise_id, values, origin)
        db.commit()
        return after_change(request, f"/enterprises/{enterprise_id}/risk")


class RiskImportPages(Controller):
    path = "/risk/import"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return page(request, "risk/import.html", {"report": None, "kind": "enforcement"})

    @post("/", sync_to_thread=True)
    def upload(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        data: MultipartBody[RecordsUpload],
    ) -> Response[Any]:
        kind = data.kind
        if kind not in FORM_KINDS or data.file is None:
            raise AppError("validation_failed", fields={"file": "risk.errors.required"})
        raw = data.file.file.read(importing.MAX_BYTES + 1)
        try:
            report = importing.import_csv(db, principal, kind, raw, origin)
        except AppError as error:
            db.rollback()
            failed: dict[str, Any] = {"report": None, "kind": kind, "error": error}
            return page(
                request, "risk/import.html", failed, block="result", status_code=error.status
            )
        if report.errors:
            db.rollback()
            context = {"report": report, "kind": kind}
            return page(request, "risk/import.html", context, block="result", status_code=422)
        db.commit()
        return page(request, "risk/import.html", {"report": report, "kind": kind}, block="result")
