"""The warning pages: compose with a live preview of the reach, the inbox (kept for offline),
a warning's page with one-tap acknowledgement, the sender's acknowledgement rates (polled) with
re-notify and cancel (a false alarm withdrawn), and the CAP 1.2 export at /warnings/<id>.cap.xml
(for a cancelled warning its Cancel message; `?original=1` gives the original Alert)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from sqlmodel import Session

from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.errors import AppError
from backend.models import (
    AckVia,
    SafetyWarning,
    UnitLevel,
    WarningLevel,
    WarningRecipient,
    utcnow,
)
from backend.offline import changes
from backend.tasks.answers import refused
from backend.units.services import units_under
from backend.warnings import services
from backend.warnings.cap import to_cap
from backend.warnings.drafts import MAX_REASON, parse_draft, parse_reason
from backend.warnings.targeting import (
    COLOURS,
    INDUSTRIES,
    TARGET_ROLES,
    parse_targeting,
    reach,
    units_outside,
)
from backend.web import after_change, page, zone_of
from sync import Rejected

Form = URLEncodedBody[dict[str, str | list[str]]]


def _sender_only(principal: Principal) -> None:
    if not services.can_send(principal):
        raise AppError("forbidden")


def _compose(
    db: Session, principal: Principal, form: dict[str, Any], errors: dict[str, str], **extra: Any
) -> dict[str, Any]:
    units = [
        unit
        for level in (UnitLevel.DISTRICT, UnitLevel.STREET, UnitLevel.GRID)
        for unit in units_under(db, principal, level)
    ]
    return {
        "form": form,
        "errors": errors,
        "units": sorted(units, key=lambda unit: unit.path),
        "roles": TARGET_ROLES,
        "industries": INDUSTRIES,
        "colours": COLOURS,
        "levels": [level.value for level in WarningLevel],
        "chosen": lambda key: _values(form, key),
        **extra,
    }


def _visible(
    db: Session, principal: Principal, warning_id: str
) -> tuple[SafetyWarning, WarningRecipient | None, bool]:
    """The warning as its recipient or a manager sees it: (warning, own row, manages)."""
    try:
        warning, mine = services.visible(db, principal, warning_id)
    except Rejected:
        raise AppError("not_found") from None
    return warning, mine, services.can_manage(principal, warning.unit_path)


def _detail(db: Session, principal: Principal, warning_id: str, **extra: Any) -> dict[str, Any]:
    warning, mine, manages = _visible(db, principal, warning_id)
    context: dict[str, Any] = {
        "warning": warning,
        "mine": mine,
        "cancellers": services.cancellers(db, [warning]),
        "max_reason": MAX_REASON,
        "errors": {},
        **extra,
    }
    if manages:
        context["overall"], context["rates"] = services.rates(db, warning)
    return context


def _values(form: dict[str, Any], key: str) -> list[str]:
    value = form.get(key, [])
    return [str(v) for v in (value if isinstance(value, list) else [value])]


class WarningPages(Controller):
    path = "/warnings"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def inbox(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
    ) -> Response[Any]:
        received = services.inbox(db, principal)
        sent = services.sent(db, principal)
        context = {
            "received": received,
            "sent": sent,
            "cancellers": services.cancellers(db, [w for w, _ in received] + sent),
            "may_send": services.can_send(principal),
            "now": utcnow(),
        }
        return page(request, "warnings/inbox.html", context, block="results")

    @get("/new", sync_to_thread=True)
    def new(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
    ) -> Response[Any]:
        _sender_only(principal)
        return page(request, "warnings/new.html", _compose(db, principal, {"level": "yellow"}, {}))

    @post("/preview", sync_to_thread=True)
    def preview(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        data: Form,
    ) -> Response[Any]:
        """How many people and devices the criteria reach; htmx swaps in only that block."""
        _sender_only(principal)
        targeting, errors = parse_targeting(data, request.app.state.settings.area)
        if units_outside(db, principal.unit_path, targeting):
            errors["units"] = "warnings.errors.unit"
        counted = None if errors else reach(db, principal.unit_path, targeting)
        context = _compose(db, principal, dict(data), errors, reach=counted)
        status = 422 if errors else 200
        return page(request, "warnings/new.html", context, block="preview", status_code=status)

    @post("/", sync_to_thread=True)
    def send(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        data: Form,
    ) -> Response[Any]:
        _sender_only(principal)
        draft, errors = parse_draft(
            data, utcnow(), zone_of(request), request.app.state.settings.area
        )
        if draft is not None and units_outside(db, principal.unit_path, draft.targeting):
            draft, errors = None, {"units": "warnings.errors.unit"}
        if draft is not None:
            try:
                warning = services.send(db, principal, draft, utcnow())
                db.commit()
                return after_change(request, f"/warnings/{warning.id}")
            except Rejected as refusal:
                db.rollback()
                errors = {"criteria": f"errors.{refusal.code}"}
        context = _compose(db, principal, dict(data), errors)
        return page(request, "warnings/new.html", context, block="compose", status_code=422)

    @get("/{ref:str}", sync_to_thread=True)
    def detail(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        ref: FromPath[str],
    ) -> Response[Any]:
        """The warning as its recipient or its sender sees it; `<id>.cap.xml` is the CAP export
        (a cancelled warning's Cancel message, or with `?original=1` the Alert it withdrew)."""
        if ref.endswith(".cap.xml"):
            warning, _, _ = _visible(db, principal, ref.removesuffix(".cap.xml"))
            host = request.url.hostname or "localhost"
            original = request.query_params.get("original") == "1"
            return Response(
                to_cap(
                    warning, f"gridsafe@{host}", services.cap_area(db, warning), original=original
                ),
                media_type="application/cap+xml",
                headers={"Content-Disposition": f'inline; filename="{warning.id}.cap.xml"'},
            )
        return page(request, "warnings/detail.html", _detail(db, principal, ref), block="rates")

    @post("/{warning_id:str}/ack", sync_to_thread=True)
    def acknowledge(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        warning_id: FromPath[str],
    ) -> Response[Any]:
        try:
            writes = services.acknowledge(db, principal, warning_id, AckVia.PAGE, utcnow())
        except Rejected as refusal:
            db.rollback()
            return refused(request, refusal)
        changes.store(db, writes)
        db.commit()
        return after_change(request, f"/warnings/{warning_id.lower()}")

    @post("/{warning_id:str}/renotify", sync_to_thread=True)
    def renotify(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        warning_id: FromPath[str],
    ) -> Response[Any]:
        try:
            services.renotify(db, principal, warning_id, utcnow())
        except Rejected as refusal:
            db.rollback()
            return refused(request, refusal)
        db.commit()
        return after_change(request, f"/warnings/{warning_id.lower()}")

    @post("/{warning_id:str}/cancel", sync_to_thread=True)
    def cancel(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        warning_id: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        """Withdraw a false alarm; without a reason the page comes back with the error. Whether
        this person may is the service's answer, given before any word on the reason: someone
        who may not see the warning hears that it does not exist, whatever they sent."""
        reason, errors = parse_reason(data)
        try:
            if reason is None:
                services.cancellable(db, principal, warning_id)
                context = _detail(db, principal, warning_id, errors=errors, form=dict(data))
                return page(
                    request, "warnings/detail.html", context, block="cancel", status_code=422
                )
            services.cancel(db, principal, warning_id, reason, utcnow())
        except Rejected as refusal:
            db.rollback()
            return refused(request, refusal)
        db.commit()
        return after_change(request, f"/warnings/{warning_id.lower()}")


ROUTES = [WarningPages]
__all__ = ["ROUTES"]
