"""Code pages: what a scan opens (/e/<token>, /p/<token>), the no-JavaScript check-in, and for
officers the print sheet of a grid, the code images, rotation and revocation."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from sqlmodel import Session

import qr
from backend.audit import Origin
from backend.auth.guards import signed_in
from backend.auth.policy import (
    Principal,
    ScanView,
    can_check_in,
    can_manage_codes,
    scan_view,
    sees_enterprise,
)
from backend.codes import services
from backend.codes.checkin import check_in
from backend.codes.keys import code_path, keyring_of
from backend.errors import AppError
from backend.hazards.services import FAR_CHECK_IN_METRES
from backend.models import CodeKind
from backend.web import after_change, page, translator_of
from sync import Rejected

log = logging.getLogger(__name__)

PNG_SCALE = 10
# Where a check-in form may send the person back to: a scan landing, nothing else.
_LANDING = re.compile(r"^/[ep]/[A-Za-z2-7]{1,64}$")
_REFUSAL_STATUS = {"validation_failed": 422}


def _viewer(request: Request[Any, Any, Any]) -> Principal | None:
    user = request.scope.get("user")
    return user if isinstance(user, Principal) else None


def public_base(request: Request[Any, Any, Any]) -> str:
    """The server address printed in codes: the configured one, else the one asked for."""
    configured: str = request.app.state.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def _personal(response: Response[Any]) -> Response[Any]:
    """The same URL answers differently per person: never from a shared cache."""
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "HX-Request, Cookie"
    return response


def landing(
    request: Request[Any, Any, Any], db: Session, kind: CodeKind, token: str
) -> Response[Any]:
    scan = services.resolve(db, keyring_of(request.app.state.settings), kind, token)
    status = scan.verdict.status
    if status is qr.Status.FORGED or scan.subject is None:
        # The reason goes to the log only; the person learns no more than "not a valid code".
        log.info("forged %s code (%s)", kind.value, scan.verdict.reason)
        raise AppError("code_invalid")
    subject = scan.subject
    viewer = _viewer(request)
    enterprise_id = subject.enterprise.id or 0
    context: dict[str, Any] = {
        "card": services.public_card(db, subject),
        "subject": subject,
        "status": status.value,
        "in_scope": viewer is not None
        and sees_enterprise(viewer, enterprise_id, subject.grid.path),
        "manages": viewer is not None and can_manage_codes(viewer, subject.grid.path),
        "report_path": f"{request.url.path}/report",
    }
    if status is not qr.Status.VALID:
        return _personal(page(request, "codes/replaced.html", context, status_code=410))
    view = scan_view(viewer, enterprise_id, subject.grid.path)
    if view is ScanView.CHECK_IN and viewer is not None:
        context["form"] = {"id": str(uuid.uuid4()), "enterprise_id": enterprise_id}
        context["last"] = services.last_check_in(db, viewer, enterprise_id)
        context["back"] = request.url.path
        return _personal(page(request, "codes/check_in.html", context))
    if view is ScanView.SELF_INSPECTION and viewer is not None:
        context["hazards"] = services.open_hazards(db, viewer, enterprise_id)
        return _personal(page(request, "codes/self_inspection.html", context))
    return _personal(page(request, "codes/public.html", context))


class ScanPages(Controller):
    """What a phone camera opens. No guard: anyone may scan; what they see depends on who they are."""

    include_in_schema = False

    @get("/e/{token:str}", sync_to_thread=True)
    def enterprise(
        self, request: Request[Any, Any, Any], db: NamedDependency[Session], token: FromPath[str]
    ) -> Response[Any]:
        return landing(request, db, CodeKind.ENTERPRISE, token)

    @get("/p/{token:str}", sync_to_thread=True)
    def point(
        self, request: Request[Any, Any, Any], db: NamedDependency[Session], token: FromPath[str]
    ) -> Response[Any]:
        return landing(request, db, CodeKind.POINT, token)


class CheckInPages(Controller):
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/scan", sync_to_thread=False)
    def scanner(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal]
    ) -> Response[Any]:
        """The camera in the page; what a code opens is decided by its landing, as for any camera.
        Kept on the phone for offline use, where a scanned code becomes a queued check-in."""
        context = {"can_check_in": can_check_in(principal), "far_metres": FAR_CHECK_IN_METRES}
        return page(request, "codes/scan.html", context)

    @post("/check-ins", sync_to_thread=True)
    def create(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        """The no-JavaScript path of the outbox mutation `inspection.check_in`."""
        try:
            record = check_in(db, principal, data)
        except Rejected as refusal:
            db.rollback()
            status = _REFUSAL_STATUS.get(refusal.code, 403)
            context = {
                "code": refusal.code,
                "message": translator_of(request)(f"errors.{refusal.code}"),
                "status": status,
            }
            return page(request, "error.html", context, status_code=status)
        back = data.get("back", "")
        target = back if _LANDING.match(back) else f"/enterprises/{record.enterprise_id}"
        return after_change(request, target)


def _image(body: str | bytes, fresh: bool) -> Response[Any]:
    media_type = "image/svg+xml" if isinstance(body, str) else "image/png"
    # Cached only under a URL naming the current version: after a rotation the URL changes.
    cache = "private, max-age=86400" if fresh else "private, no-cache"
    return Response(body, media_type=media_type, headers={"Cache-Control": cache})


class CodePages(Controller):
    path = "/codes"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def index(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
    ) -> Response[Any]:
        if not can_manage_codes(principal, principal.unit_path):
            raise AppError("forbidden")
        return page(request, "codes/index.html", {"grids": services.grids_to_print(db, principal)})

    @get("/grids/{grid_id:int}", sync_to_thread=True)
    def sheet(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        grid_id: FromPath[int],
    ) -> Response[Any]:
        """The print sheet: an A4 poster per enterprise, then its key points' labels."""
        context = {"sheet": services.print_sheet(db, principal, grid_id)}
        return page(request, "codes/print.html", context)

    @get("/enterprises/{enterprise_id:int}", sync_to_thread=True)
    def enterprise(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        enterprise_id: FromPath[int],
    ) -> Response[Any]:
        return page(
            request, "codes/manage.html", services.enterprise_codes(db, principal, enterprise_id)
        )

    def _code(
        self,
        request: Request[Any, Any, Any],
        db: Session,
        principal: Principal,
        kind: CodeKind,
        subject_id: int,
        v: int | None,
        svg: bool,
    ) -> Response[Any]:
        version = services.current_version(db, principal, kind, subject_id)
        keyring = keyring_of(request.app.state.settings)
        url = public_base(request) + code_path(keyring, kind, subject_id, version)
        body: str | bytes = qr.svg(url) if svg else qr.png(url, scale=PNG_SCALE)
        return _image(body, v == version)

    @get("/enterprises/{enterprise_id:int}/qr.svg", sync_to_thread=True)
    def enterprise_svg(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        enterprise_id: FromPath[int],
        v: Annotated[int | None, QueryParameter(ge=1)] = None,
    ) -> Response[Any]:
        return self._code(request, db, principal, CodeKind.ENTERPRISE, enterprise_id, v, True)

    @get("/enterprises/{enterprise_id:int}/qr.png", sync_to_thread=True)
    def enterprise_png(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        enterprise_id: FromPath[int],
        v: Annotated[int | None, QueryParameter(ge=1)] = None,
    ) -> Response[Any]:
        return self._code(request, db, principal, CodeKind.ENTERPRISE, enterprise_id, v, False)

    @get("/points/{point_id:int}/qr.svg", sync_to_thread=True)
    def point_svg(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        point_id: FromPath[int],
        v: Annotated[int | None, QueryParameter(ge=1)] = None,
    ) -> Response[Any]:
        return self._code(request, db, principal, CodeKind.POINT, point_id, v, True)

    @get("/points/{point_id:int}/qr.png", sync_to_thread=True)
    def point_png(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        point_id: FromPath[int],
        v: Annotated[int | None, QueryParameter(ge=1)] = None,
    ) -> Response[Any]:
        return self._code(request, db, principal, CodeKind.POINT, point_id, v, False)

    @post("/enterprises/{enterprise_id:int}/rotate", sync_to_thread=True)
    def rotate_enterprise(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        enterprise_id: FromPath[int],
    ) -> Response[Any]:
        subject, _ = services.rotate(db, principal, CodeKind.ENTERPRISE, enterprise_id, origin)
        return after_change(request, f"/codes/enterprises/{subject.enterprise.id}")

    @post("/enterprises/{enterprise_id:int}/revoke", sync_to_thread=True)
    def revoke_enterprise(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        enterprise_id: FromPath[int],
    ) -> Response[Any]:
        subject, _ = services.revoke(db, principal, CodeKind.ENTERPRISE, enterprise_id, origin)
        return after_change(request, f"/codes/enterprises/{subject.enterprise.id}")

    @post("/points/{point_id:int}/rotate", sync_to_thread=True)
    def rotate_point(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        point_id: FromPath[int],
    ) -> Response[Any]:
        subject, _ = services.rotate(db, principal, CodeKind.POINT, point_id, origin)
        return after_change(request, f"/codes/enterprises/{subject.enterprise.id}")

    @post("/points/{point_id:int}/revoke", sync_to_thread=True)
    def revoke_point(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        point_id: FromPath[int],
    ) -> Response[Any]:
        subject, _ = services.revoke(db, principal, CodeKind.POINT, point_id, origin)
        return after_change(request, f"/codes/enterprises/{subject.enterprise.id}")


ROUTES = [ScanPages, CheckInPages, CodePages]
