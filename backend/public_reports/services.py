"""Public reports: taking one in from a scanned poster (validated, rate-limited per address,
counted in the database), the scoped list and card for officers, and turning a report into a
hazard report or dismissing it, each recorded in the history."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlmodel import Session

from backend.audit import Origin, record
from backend.auth.policy import Principal
from backend.codes.services import Subject
from backend.errors import AppError
from backend.models import (
    Enterprise,
    KeyPoint,
    PublicReport,
    PublicReportCategory,
    PublicReportState,
    User,
    utcnow,
)
from backend.offline.photos import reencode
from backend.public_reports.policy import (
    can_read_public_reports,
    public_report_allowed,
    sees_public_report,
)
from backend.settings import Settings
from backend.validation import text_problem

MIN_DESCRIPTION = 5
MAX_DESCRIPTION = 1000
MAX_REASON = 500
MAX_PHOTO_BYTES = 10 * 1024 * 1024
# A phone number as people type it: digits, optionally +, spaces and dashes (手机或座机).
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,30}$")


@dataclass(frozen=True)
class ReportInput:
    category: str
    description: str
    contact_phone: str


def parse_report(form: Mapping[str, str]) -> ReportInput:
    """The three fields a stranger fills in; every problem at once, as field errors."""
    errors: dict[str, str] = {}
    category = form.get("category", "")
    if category not in set(PublicReportCategory):
        errors["category"] = "required"
    description = " ".join(form.get("description", "").split())
    if text_problem(description):
        errors["description"] = "control_chars"
    elif len(description) < MIN_DESCRIPTION:
        errors["description"] = "public_report.too_short"
    elif len(description) > MAX_DESCRIPTION:
        errors["description"] = "too_long"
    phone = form.get("contact_phone", "").strip()
    if phone and not _PHONE.match(phone):
        errors["contact_phone"] = "public_report.phone"
    if errors:
        raise AppError("validation_failed", fields=errors)
    return ReportInput(category, description, phone)


def _recent_from(session: Session, ip: str, since: datetime) -> int:
    stmt = select(func.count()).where(PublicReport.ip == ip, PublicReport.created_at >= since)
    return int(session.execute(stmt).scalar_one())


def receive(
    session: Session,
    settings: Settings,
    subject: Subject,
    form: Mapping[str, str],
    photo: bytes | None,
    origin: Origin,
) -> PublicReport:
    """Store a report about the subject's enterprise, under the per-address limit. A refusal
    changes nothing. Two reports racing from one address may both pass the count: the limit is
    a brake on floods, not an exact quota."""
    now = utcnow()
    since = now - timedelta(minutes=settings.public_report_window_minutes)
    if not public_report_allowed(
        _recent_from(session, origin.ip, since), settings.public_report_max_per_address
    ):
        raise AppError("rate_limited", {"minutes": settings.public_report_window_minutes})
    fields = parse_report(form)
    image = None
    if photo:
        if len(photo) > MAX_PHOTO_BYTES:
            raise AppError("validation_failed", fields={"photo": "public_report.photo_size"})
        try:
            image, _, _ = reencode(photo)
        except AppError as error:
            raise AppError("validation_failed", fields={"photo": "public_report.photo"}) from error
    report = PublicReport(
        enterprise_id=subject.enterprise.id or 0,
        key_point_id=subject.point.id if subject.point is not None else None,
        unit_path=subject.grid.path,
        category=fields.category,
        description=fields.description,
        contact_phone=fields.contact_phone,
        photo=image,
        ip=origin.ip[:64],
        device=origin.device[:200],
        created_at=now,
    )
    session.add(report)
    session.flush()
    record(
        session,
        origin,
        "public_report.received",
        "public_report",
        report.id,
        subject.grid.path,
        enterprise_id=report.enterprise_id,
        category=report.category,
    )
    session.commit()
    return report


@dataclass(frozen=True)
class ReportRow:
    report: PublicReport
    enterprise_name: str
    point_name: str | None
    handler_name: str | None


def _scoped(principal: Principal) -> list[object]:
    """The SQL bound of every query here: reports about enterprises in the principal's area."""
    if not can_read_public_reports(principal):
        raise AppError("forbidden")
    return [PublicReport.unit_path.startswith(principal.unit_path)]


def _rows(session: Session, *conditions: object, limit: int = 100) -> list[ReportRow]:
    stmt = (
        select(PublicReport, Enterprise.name, KeyPoint.name, User.display_name)
        .join(Enterprise, Enterprise.id == PublicReport.enterprise_id)
        .outerjoin(KeyPoint, KeyPoint.id == PublicReport.key_point_id)
        .outerjoin(User, User.id == PublicReport.handled_by)
        .where(*conditions)
        .order_by(PublicReport.created_at.desc(), PublicReport.id.desc())
        .limit(limit)
    )
    return [ReportRow(*row) for row in session.execute(stmt).all()]


def list_reports(session: Session, principal: Principal, state: str = "open") -> list[ReportRow]:
    conditions = _scoped(principal)
    if state in set(PublicReportState):
        conditions.append(PublicReport.state == state)
    return _rows(session, *conditions)


def get_report(session: Session, principal: Principal, report_id: int) -> ReportRow:
    """One report within the principal's area; outside it, not found (as if it did not exist)."""
    rows = _rows(session, *_scoped(principal), PublicReport.id == report_id, limit=1)
    if not rows or not sees_public_report(principal, rows[0].report.unit_path):
        raise AppError("not_found")
    return rows[0]


def _close(
    session: Session,
    principal: Principal,
    report_id: int,
    state: PublicReportState,
    origin: Origin,
    reason: str = "",
) -> PublicReport:
    row = get_report(session, principal, report_id)
    now = utcnow()
    # Only an open report changes, in one statement: two officers acting at once, one wins.
    changed = session.execute(
        update(PublicReport)
        .where(PublicReport.id == report_id, PublicReport.state == PublicReportState.OPEN.value)
        .values(state=state.value, handled_by=principal.id, handled_at=now, dismiss_reason=reason)
    ).rowcount
    if not changed:
        session.rollback()
        raise AppError("conflict")
    record(
        session,
        origin,
        f"public_report.{state.value}",
        "public_report",
        report_id,
        row.report.unit_path,
        enterprise_id=row.report.enterprise_id,
        **({"reason": reason} if reason else {}),
    )
    session.commit()
    session.refresh(row.report)
    return row.report


def convert(session: Session, principal: Principal, report_id: int, origin: Origin) -> PublicReport:
    """Taken up: the officer files a hazard from it (the report form, pre-filled), which then
    goes through the hazard rules like any other."""
    return _close(session, principal, report_id, PublicReportState.CONVERTED, origin)


def dismiss(
    session: Session, principal: Principal, report_id: int, reason: str, origin: Origin
) -> PublicReport:
    reason = " ".join(reason.split())
    if not reason:
        raise AppError("validation_failed", fields={"reason": "required"})
    if len(reason) > MAX_REASON:
        raise AppError("validation_failed", fields={"reason": "too_long"})
    if text_problem(reason):
        raise AppError("validation_failed", fields={"reason": "control_chars"})
    return _close(session, principal, report_id, PublicReportState.DISMISSED, origin, reason)


def photo_of(session: Session, principal: Principal, report_id: int) -> bytes:
    report = get_report(session, principal, report_id).report
    if report.photo is None:
        raise AppError("not_found")
    return report.photo


def states() -> Sequence[str]:
    return [state.value for state in PublicReportState]
