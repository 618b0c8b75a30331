"""The duty roster pages (值班表) for administrators: a unit's shifts for the coming days, add,
delete, import a CSV. Times are shown and entered in GRIDSAFE_TIMEZONE (Beijing time by default),
and the page names that zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, MultipartBody, QueryParameter, URLEncodedBody
from sqlmodel import Session

from backend.admin import duty
from backend.admin.duty_import import COLUMNS, import_roster
from backend.admin.pages import _as_id
from backend.audit import Origin
from backend.auth.guards import administrator
from backend.auth.policy import Principal
from backend.enterprises.importing import MAX_BYTES
from backend.errors import AppError
from backend.models import Unit, utcnow
from backend.timezone import clock
from backend.web import after_change, page, zone_of


@dataclass
class RosterUpload:
    file: UploadFile | None = None


def _start(value: str, where: tzinfo) -> datetime:
    """Midnight (local time, GRIDSAFE_TIMEZONE) of the day asked for, else today."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = duty.local(utcnow(), where).date()
    return datetime.combine(day, time(), tzinfo=where)


def _context(
    db: Session,
    principal: Principal,
    unit: Unit | None,
    where: tzinfo,
    day: str = "",
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    start = _start(day, where)
    units = duty.roster_units(db, principal)
    unit = unit or next((u for u in units if u.id == principal.unit_id), None)
    unit = unit or (units[0] if units else None)
    return {
        "units": units,
        "unit": unit,
        "start": start,
        "days": duty.DAYS_SHOWN,
        "shifts": duty.shifts(db, unit, start) if unit else [],
        "people": duty.people_of(db, unit) if unit else [],
        "form": form or {},
        "errors": errors or {},
        "columns": COLUMNS,
        "megabytes": MAX_BYTES // (1024 * 1024),
        "report": None,
        "clock": clock(where, utcnow()),
        **extra,
    }


class DutyPages(Controller):
    path = "/admin/duty"
    include_in_schema = False
    guards = [administrator]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def roster(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        unit: Annotated[str, QueryParameter(max_length=12)] = "",
        start: Annotated[str, QueryParameter(max_length=10)] = "",
    ) -> Response[Any]:
        chosen = duty.roster_unit(db, principal, _as_id(unit)) if unit else None
        if unit and chosen is None:
            raise AppError("not_found")
        return page(
            request,
            "admin/duty.html",
            _context(db, principal, chosen, zone_of(request), start),
        )

    @post("/", sync_to_thread=True)
    def add(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        shift = duty.ShiftInput(
            unit_id=_as_id(data.get("unit_id", "")),
            user_id=_as_id(data.get("user_id", "")),
            starts_at=data.get("starts_at", ""),
            ends_at=data.get("ends_at", ""),
            note=data.get("note", ""),
        )
        try:
            duty.add_shift(db, principal, shift, origin)
        except AppError as error:
            if error.code != "validation_failed":
                raise
            db.rollback()
            unit = duty.roster_unit(db, principal, shift.unit_id)
            context = _context(
                db, principal, unit, zone_of(request), form=data, errors=error.fields, error=error
            )
            return page(request, "admin/duty.html", context, block="form", status_code=422)
        return after_change(request, f"/admin/duty?unit={shift.unit_id}")

    @post("/{shift_id:int}/delete", sync_to_thread=True)
    def delete(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        shift_id: FromPath[int],
    ) -> Response[Any]:
        unit_id = duty.delete_shift(db, principal, shift_id, origin)
        return after_change(request, f"/admin/duty?unit={unit_id}")

    @post("/import", sync_to_thread=True)
    def upload(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        origin: NamedDependency[Origin],
        data: MultipartBody[RosterUpload],
    ) -> Response[Any]:
        upload = data.file
        content = upload.file.read(MAX_BYTES + 1) if upload else b""
        filename = upload.filename if upload else ""
        try:
            report = import_roster(db, principal, filename, content, origin)
        except AppError as error:
            db.rollback()
            context = _context(db, principal, None, zone_of(request), import_error=error)
            return page(
                request, "admin/duty.html", context, block="importer", status_code=error.status
            )
        context = _context(db, principal, None, zone_of(request), report=report)
        return page(request, "admin/duty.html", context, block="importer")


ROUTES = [DutyPages]
