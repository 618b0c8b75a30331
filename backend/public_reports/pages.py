"""Public report pages: the form behind a poster's "report a problem" (anyone, no account), and
for people working the area the list, a report's card, filing a hazard from it and dismissing it."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, MultipartBody, QueryParameter, URLEncodedBody
from sqlmodel import Session

import qr
from backend.audit import Origin
from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.codes import services as codes
from backend.codes.keys import keyring_of
from backend.errors import AppError
from backend.models import CodeKind, PublicReportCategory, PublicReportState
from backend.public_reports import services
from backend.public_reports.policy import HAZARD_CATEGORY
from backend.public_reports.services import MAX_PHOTO_BYTES
from backend.web import after_change, page, translator_of

# A form sent with this hidden field filled in came from a robot: it is thanked and dropped.
HONEYPOT = "website"
_PREFIXES = {CodeKind.ENTERPRISE: "e", CodeKind.POINT: "p"}


def _subject(
    request: Request[Any, Any, Any], db: Session, kind: CodeKind, token: str
) -> codes.Subject | Response[Any]:
    """The enterprise a poster names, or the page to show instead. A replaced poster still names
    a real enterprise, so a problem can be reported from it; a revoked or forged one cannot."""
    scan = codes.resolve(db, keyring_of(request.app.state.settings), kind, token)
    if scan.verdict.status is qr.Status.FORGED or scan.subject is None:
        raise AppError("code_invalid")
    if scan.verdict.status is qr.Status.REVOKED:
        context = {"status": scan.verdict.status.value, "subject": scan.subject, "manages": False}
        return page(request, "codes/replaced.html", context, status_code=410)
    return scan.subject


def _form_page(
    request: Request[Any, Any, Any],
    db: Session,
    subject: codes.Subject,
    form: dict[str, str],
    errors: dict[str, str],
    *,
    error: AppError | None = None,
    sent: bool = False,
    status_code: int = 200,
) -> Response[Any]:
    context = {
        "card": codes.public_card(db, subject),
        "subject": subject,
        "status": "valid",
        "in_scope": False,
        "form": form,
        "errors": errors,
        "error": error,
        "sent": sent,
        "categories": list(PublicReportCategory),
        "action": request.url.path,
        "report_path": request.url.path,
    }
    response = page(
        request, "public_reports/form.html", context, block="form", status_code=status_code
    )
    # Has the person's CSRF token in it: never kept by a shared cache.
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _show_form(
    request: Request[Any, Any, Any], db: Session, kind: CodeKind, token: str, sent: bool
) -> Response[Any]:
    subject = _subject(request, db, kind, token)
    if isinstance(subject, Response):
        return subject
    return _form_page(request, db, subject, {}, {}, sent=sent)


def _receive(
    request: Request[Any, Any, Any],
    db: Session,
    origin: Origin,
    kind: CodeKind,
    token: str,
    data: dict[str, Any],
) -> Response[Any]:
    subject = _subject(request, db, kind, token)
    if isinstance(subject, Response):
        return subject
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    thanks = f"/{_PREFIXES[kind]}/{token}/report?sent=1"
    if form.get(HONEYPOT):
        return after_change(request, thanks)
    upload = data.get("photo")
    if isinstance(upload, list):  # one photo is taken; a crafted form may send several
        upload = upload[0] if upload else None
    photo = None
    if isinstance(upload, UploadFile) and upload.filename:
        photo = upload.file.read(MAX_PHOTO_BYTES + 1)
    try:
        services.receive(db, request.app.state.settings, subject, form, photo, origin)
    except AppError as error:
        db.rollback()
        return _form_page(
            request, db, subject, form, error.fields, error=error, status_code=error.status
        )
    return after_change(request, thanks)


class PublicReportForms(Controller):
    """No guard: whoever holds the poster may report. CSRF still applies (the form carries it)."""

    include_in_schema = False

    @get("/e/{token:str}/report", sync_to_thread=True)
    def enterprise_form(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        token: FromPath[str],
        sent: Annotated[int, QueryParameter(ge=0, le=1)] = 0,
    ) -> Response[Any]:
        return _show_form(request, db, CodeKind.ENTERPRISE, token, bool(sent))

    @get("/p/{token:str}/report", sync_to_thread=True)
    def point_form(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        token: FromPath[str],
        sent: Annotated[int, QueryParameter(ge=0, le=1)] = 0,
    ) -> Response[Any]:
        return _show_form(request, db, CodeKind.POINT, token, bool(sent))

    @post("/e/{token:str}/report", sync_to_thread=True)
    def enterprise_report(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        origin: NamedDependency[Origin],
        token: FromPath[str],
        data: MultipartBody[dict[str, Any]],
    ) -> Response[Any]:
        return _receive(request, db, origin, CodeKind.ENTERPRISE, token, data)

    @post("/p/{token:str}/report", sync_to_thread=True)
    def point_report(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        origin: NamedDependency[Origin],
        token: FromPath[str],
        data: MultipartBody[dict[str, Any]],
    ) -> Response[Any]:
        return _receive(request, db, origin, CodeKind.POINT, token, data)


def hazard_form_link(request: Request[Any, Any, Any], row: services.ReportRow) -> str:
    """The hazard report form, pre-filled from the public report (the phone number stays out)."""
    report = row.report
    text = translator_of(request)(
        "public_reports.prefill", number=report.id, description=report.description
    )
    query = {
        "enterprise_id": str(report.enterprise_id),
        "category": HAZARD_CATEGORY[PublicReportCategory(report.category)].value,
        "description": text[:2000],
    }
    return f"/hazards/new?{urlencode(query)}"


class PublicReportPages(Controller):
    path = "/public-reports"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def index(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        shown: Annotated[
            str, QueryParameter(name="state", max_length=16)
        ] = PublicReportState.OPEN.value,
    ) -> Response[Any]:
        context = {
            "rows": services.list_reports(db, principal, shown),
            "state": shown,
            "states": services.states(),
        }
        return page(request, "public_reports/index.html", context, block="results")

    def _detail(
        self,
        request: Request[Any, Any, Any],
        db: Session,
        principal: Principal,
        report_id: int,
        *,
        errors: dict[str, str] | None = None,
        error: AppError | None = None,
        reason: str = "",
    ) -> Response[Any]:
        row = services.get_report(db, principal, report_id)
        context = {
            "row": row,
            "report": row.report,
            "errors": errors or {},
            "error": error,
            "reason": reason,
        }
        status = error.status if error else 200
        return page(request, "public_reports/detail.html", context, status_code=status)

    @get("/{report_id:int}", sync_to_thread=True)
    def detail(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        report_id: FromPath[int],
    ) -> Response[Any]:
        return self._detail(request, db, principal, report_id)

    @get("/{report_id:int}/photo", sync_to_thread=True)
    def photo(
        self,
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        report_id: FromPath[int],
    ) -> Response[bytes]:
        body = services.photo_of(db, principal, report_id)
        return Response(
            body, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
        )

    @post("/{report_id:int}/convert", sync_to_thread=True)
    def convert(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        report_id: FromPath[int],
    ) -> Response[Any]:
        services.convert(db, principal, report_id, origin)
        row = services.get_report(db, principal, report_id)
        return after_change(request, hazard_form_link(request, row))

    @post("/{report_id:int}/dismiss", sync_to_thread=True)
    def dismiss(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        report_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        reason = data.get("reason", "")
        try:
            services.dismiss(db, principal, report_id, reason, origin)
        except AppError as error:
            if error.code != "validation_failed":
                raise
            db.rollback()
            return self._detail(
                request, db, principal, report_id, errors=error.fields, error=error, reason=reason
            )
        return after_change(request, f"/public-reports/{report_id}")


ROUTES = [PublicReportForms, PublicReportPages]
