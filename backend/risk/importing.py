"""Importing enforcement records or accidents from a CSV export: every row checked first (with
its row number and a translated message), then all stored or none."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session

from backend.audit import Origin
from backend.auth.policy import Principal
from backend.errors import AppError
from backend.models import Enterprise, RecordSource, Unit, utcnow
from backend.risk import records

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 10_000
# Header (Chinese or ours) → field.
ALIASES = {
    "统一社会信用代码": "credit_code",
    "决定日期": "decided_on",
    "处罚日期": "decided_on",
    "执法类型": "kind",
    "罚款金额": "amount_yuan",
    "罚款金额（元）": "amount_yuan",
    "发生日期": "occurred_on",
    "事故等级": "level",
    "死亡人数": "deaths",
    "受伤人数": "injuries",
    "说明": "description",
    "事故经过": "description",
}
REQUIRED = {
    "enforcement": {"credit_code", "decided_on", "kind"},
    "accident": {"credit_code", "occurred_on", "level"},
}


@dataclass
class ImportReport:
    imported: int = 0
    # (row number in the file, column, message key)
    errors: list[tuple[int, str, str]] = field(default_factory=list)


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AppError("import_unsupported")


def import_csv(
    session: Session, principal: Principal, kind: str, raw: bytes, origin: Origin
) -> ImportReport:
    """Check every row, then store them all (the caller commits) or, with any error, none."""
    if kind not in records.KINDS:
        raise AppError("not_found")
    if len(raw) > MAX_BYTES:
        raise AppError("import_too_large")
    reader = csv.reader(io.StringIO(_decode(raw)))
    header = [ALIASES.get(name.strip(), name.strip()) for name in next(reader, [])]
    if not header or any(not name for name in header):
        raise AppError("import_empty")
    if len(set(header)) != len(header):
        raise AppError("import_duplicate_columns")
    missing = REQUIRED[kind] - set(header)
    if missing:
        raise AppError("import_missing_columns", params={"columns": ", ".join(sorted(missing))})
    rows = [dict(zip(header, row, strict=False)) for row in reader if any(c.strip() for c in row)]
    if not rows:
        raise AppError("import_empty")
    if len(rows) > MAX_ROWS:
        raise AppError("import_too_large")
    codes = {row.get("credit_code", "").strip().upper() for row in rows}
    scope = (
        Enterprise.id == principal.enterprise_id
        if principal.is_enterprise
        else Unit.path.startswith(principal.unit_path)
    )
    known = {
        code: (enterprise_id, path)
        for code, enterprise_id, path in session.execute(
            select(Enterprise.credit_code, Enterprise.id, Unit.path)
            .join(Unit, Unit.id == Enterprise.grid_id)
            .where(Enterprise.credit_code.in_(codes), scope)
        ).all()
    }
    report = ImportReport()
    today = utcnow().date()
    planned = []
    for line, row in enumerate(rows, start=2):
        code = row.get("credit_code", "").strip().upper()
        found = known.get(code)
        if found is None or not records.can_record(principal, found[0], found[1]):
            report.errors.append((line, "credit_code", "risk.errors.unknown_enterprise"))
        values, errors = records.parse(kind, row, today)
        report.errors += [(line, column, message) for column, message in errors.items()]
        if found is not None:
            planned.append((found[0], values))
    if report.errors:
        return report
    for enterprise_id, values in planned:
        records.add(session, principal, kind, enterprise_id, values, origin, RecordSource.IMPORT)
    report.imported = len(planned)
    return report
