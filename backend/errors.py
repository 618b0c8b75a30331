"""One catalogue of error codes, and one handler that answers JSON under /api and HTML elsewhere."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.datastructures import UploadFile
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.response import Redirect, Template
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from backend.web import is_api, translator_of, wants_fragment

log = logging.getLogger(__name__)

# Refusals that mean "busy, send it again later": answered with Retry-After (seconds).
BUSY_CODES = frozenset({"overloaded", "sync_retry"})
RETRY_AFTER_SECONDS = 5

# code -> HTTP status. Messages live in the i18n catalogues under `errors.<code>`.
ERRORS: dict[str, int] = {
    "not_signed_in": 401,
    "forbidden": 403,
    "csrf_failed": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "payload_too_large": 413,
    "validation_failed": 422,
    "invalid_credentials": 422,
    "rate_limited": 429,
    "internal_error": 500,
    "overloaded": 503,
    "http_error": 400,
    "sync_client_taken": 409,
    "sync_retry": 503,
    "photo_hash_mismatch": 422,
    "photo_not_image": 415,
    "photo_too_large_pixels": 413,
    "import_empty": 422,
    "import_too_large": 413,
    "import_unsupported": 415,
    "import_missing_columns": 422,
    "import_duplicate_columns": 422,
    "code_invalid": 404,
    "code_revoked": 410,
}


@dataclass
class AppError(Exception):
    """A refusal the user can act on. `fields` maps form field names to message keys."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in ERRORS:
            raise KeyError(f"unknown error code {self.code!r}")
        super().__init__(self.code)

    @property
    def status(self) -> int:
        return ERRORS[self.code]


def _classify(exc: Exception) -> tuple[str, int, dict[str, Any], list[dict[str, str]]]:
    if isinstance(exc, AppError):
        return (
            exc.code,
            exc.status,
            exc.params,
            [{"field": k, "code": v} for k, v in exc.fields.items()],
        )
    if isinstance(exc, PoolTimeoutError):
        # Every database connection of this process stayed busy for the pool's whole timeout.
        return "overloaded", ERRORS["overloaded"], {}, []
    if isinstance(exc, ValidationException):
        extra = exc.extra if isinstance(exc.extra, list) else []
        fields = [
            {"field": str(item.get("key", "")), "code": str(item.get("code", "invalid"))}
            for item in extra
            if isinstance(item, dict)
        ]
        return "validation_failed", 400, {}, fields
    if isinstance(exc, NotAuthorizedException):
        return "not_signed_in", 401, {}, []
    if isinstance(exc, PermissionDeniedException):
        code = "csrf_failed" if "CSRF" in str(exc.detail) else "forbidden"
        return code, 403, {}, []
    if isinstance(exc, NotFoundException):
        return "not_found", 404, {}, []
    if isinstance(exc, MethodNotAllowedException):
        return "method_not_allowed", 405, {}, []
    if isinstance(exc, TooManyRequestsException):
        return "rate_limited", 429, {}, []
    if isinstance(exc, HTTPException):
        # A 400 from the framework is a body or parameter it could not parse.
        code = {400: "validation_failed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return code, exc.status_code, {}, []
    return "internal_error", 500, {}, []


def _close_uploads(request: Request[Any, Any, Any]) -> None:
    """Litestar closes parsed uploads only after a handler ran; when a guard or the CSRF check
    refuses an upload form, the files the CSRF middleware parsed would stay open until garbage
    collection."""
    form = ScopeState.from_scope(request.scope).form
    if form is Empty:
        return
    for value in form.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, UploadFile):
                item.file.close()


def _recognise(request: Request[Any, Any, Any]) -> None:
    """An address no route matches (and a form refused by the CSRF check) never reaches the
    session middleware, so its error page would lose the signed-in person's nav and language.
    Look the session up here. A sync handler, so one indexed query on the event loop: only for
    these pages, never for a server error (the database may be what failed)."""
    if "user" in request.scope:
        return
    # Imported here: the session lookup lives in auth, which itself raises AppError from here.
    from backend.auth.middleware import SESSION_COOKIE
    from backend.auth.services import principal_for_token

    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return
    try:
        with request.app.state.session_factory() as session:
            request.scope["user"] = principal_for_token(session, token)
    except Exception:
        log.exception("could not look up the session for an error page")


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    _close_uploads(request)
    code, status, params, fields = _classify(exc)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if code in BUSY_CODES else {}
    if code == "overloaded":
        log.warning("overloaded: %s %s answered 503 (%s)", request.method, request.url.path, exc)
    elif status >= 500:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    elif not is_api(request) and not wants_fragment(request):
        _recognise(request)
    t = translator_of(request)
    message = t(f"errors.{code}", **params)
    if is_api(request):
        body = {
            "type": f"urn:gridsafe:error:{code}",
            "title": message,
            "status": status,
            "code": code,
            "errors": [{**item, "message": t(f"fields.{item['code']}")} for item in fields],
        }
        return Response(
            body, status_code=status, media_type="application/problem+json", headers=headers
        )
    # The whole target, query included (a filtered list, a pre-filled form): after signing in the
    # person lands where they were going, not on the bare path.
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    signin = f"/signin?next={quote(target, safe='/')}"
    if code == "not_signed_in" and not wants_fragment(request):
        return Redirect(signin, status_code=303)
    headers["Vary"] = "HX-Request"
    if code == "not_signed_in":
        # A session that ended while the page stayed open: htmx would drop the 401, leaving a
        # page that silently does nothing. HX-Redirect sends the person to sign in again.
        headers["HX-Redirect"] = signin
    template = "_error.html" if wants_fragment(request) else "error.html"
    return Template(
        template_name=template,
        context={
            "code": code,
            "message": message,
            "status": status,
            "fields": {item["field"]: item["code"] for item in fields},
        },
        status_code=status,
        headers=headers,
    )
