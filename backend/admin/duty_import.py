"""Importing a duty roster (值班表) from a CSV (UTF-8 or GBK, as Excel writes it) or an XLSX sheet.
One row per shift: unit code, username, start, end, note. Rows are matched on (unit, person,
start), so importing the same file twice changes nothing; a row with a new end or note updates
its shift. Bad rows are reported and change nothing; the good ones are saved together."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from backend.admin.duty import ROSTER_LEVELS, parse_moment, window_errors
from backend.audit import Origin, record
from backend.auth.policy import Principal, can_administer
from backend.db import settings_of
from backend.enterprises.importing import MAX_BYTES, MAX_ROWS, _table
from backend.errors import AppError
from backend.models import DutyShift, Unit, User
from backend.timezone import zone_for

COLUMNS = ("unit_code", "username", "starts_at", "ends_at", "note")
REQUIRED = COLUMNS[:4]
CHINESE_HEADERS = {
    "unit_code": "单位编码",
    "username": "用户名",
    "starts_at": "开始时间",
    "ends_at": "结束时间",
    "note": "备注",
}
HEADERS = {
    **{name: name for name in COLUMNS},
    **{header: name for name, header in CHINESE_HEADERS.items()},
    "账号": "username",
}


@dataclass(frozen=True)
class RosterRow:
    line: int
    unit_code: str
    username: str
    starts_at: str
    errors: dict[str, str] = field(default_factory=dict)  # column -> key under `fields.`


@dataclass
class RosterReport:
    filename: str
    created: list[RosterRow] = field(default_factory=list)
    updated: list[RosterRow] = field(default_factory=list)
    unchanged: list[RosterRow] = field(default_factory=list)
    rejected: list[RosterRow] = field(default_factory=list)


@dataclass(frozen=True)
class _Planned:
    row: RosterRow
    unit_id: int
    user_id: int
    starts_at: datetime
    ends_at: datetime
    note: str
    existing: int | None  # the shift it updates


def _read(filename: str, content: bytes) -> list[tuple[int, dict[str, str]]]:
    """(line, {column: text}) per non-blank row under the header; file-level problems raise."""
    if len(content) > MAX_BYTES:
        raise AppError(
            "import_too_large", params={"megabytes": MAX_BYTES // (1024 * 1024), "rows": MAX_ROWS}
        )
    if not content.strip():
        raise AppError("import_empty")
    header: dict[str, int] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    for line, cells in _table(filename, content):
        if not any(cells):
            continue
        if header is None:
            header = _columns(cells)
            continue
        if len(rows) >= MAX_ROWS:
            raise AppError(
                "import_too_large",
                params={"megabytes": MAX_BYTES // (1024 * 1024), "rows": MAX_ROWS},
            )
        rows.append((line, {n: cells[i] if i < len(cells) else "" for n, i in header.items()}))
    if not rows:
        raise AppError("import_empty")
    return rows


def _columns(cells: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    repeated: list[str] = []
    for index, title in enumerate(cells):
        key = "".join(title.split()).strip("*＊")
        name = HEADERS.get(key.lower() if key.isascii() else key)
        if name is None:
            continue
        if name in columns:
            repeated.append(title)
        columns.setdefault(name, index)
    if repeated:
        raise AppError("import_duplicate_columns", params={"columns": ", ".join(repeated)})
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        names = ", ".join(f"{CHINESE_HEADERS[name]} ({name})" for name in missing)
        raise AppError("import_missing_columns", params={"columns": names})
    return columns


def import_roster(
    session: Session, principal: Principal, filename: str, content: bytes, origin: Origin
) -> RosterReport:
    if not can_administer(principal):
        raise AppError("forbidden")
    rows = _read(filename, content)
    units = {
        unit.code: unit
        for unit in session.execute(
            select(Unit).where(
                Unit.code.in_({raw["unit_code"].strip() for _, raw in rows}),
                Unit.path.startswith(principal.unit_path),
                Unit.level.in_(ROSTER_LEVELS),
                Unit.active.is_(True),
            )
        ).scalars()
    }
    users = {
        user.username: user
        for user in session.execute(
            select(User).where(
                User.username.in_({raw["username"].strip().lower() for _, raw in rows}),
                User.active.is_(True),
            )
        ).scalars()
    }
    # Every shift these people already have, to check overlaps without a query per row.
    held: dict[int, list[DutyShift]] = defaultdict(list)
    if users:
        for shift in session.execute(
            select(DutyShift).where(DutyShift.user_id.in_([u.id for u in users.values()]))
        ).scalars():
            held[shift.user_id].append(shift)
    report = RosterReport(filename)
    planned: list[_Planned] = []
    where = zone_for(settings_of(session))
    seen: set[tuple[int, int, datetime]] = set()
    for line, raw in rows:
        code, username = raw["unit_code"].strip(), raw["username"].strip().lower()
        starts_at = parse_moment(raw["starts_at"], where)
        ends_at = parse_moment(raw["ends_at"], where)
        note = raw.get("note", "").strip()
        errors = window_errors(starts_at, ends_at, note)
        unit, user = units.get(code), users.get(username)
        if unit is None:
            errors["unit_code"] = "duty.unit"
        elif user is None or user.unit_id != unit.id:
            errors["username"] = "duty.not_member"
        row = RosterRow(line, code, username, raw["starts_at"].strip())
        if errors or unit is None or user is None or starts_at is None or ends_at is None:
            report.rejected.append(RosterRow(**{**row.__dict__, "errors": errors}))
            continue
        assert unit.id is not None
        assert user.id is not None
        key = (unit.id, user.id, starts_at)
        if key in seen:
            report.rejected.append(
                RosterRow(**{**row.__dict__, "errors": {"starts_at": "duty.duplicate_row"}})
            )
            continue
        existing = next(
            (
                shift
                for shift in held[user.id]
                if shift.unit_id == unit.id and shift.starts_at == starts_at
            ),
            None,
        )
        clash = any(
            other.starts_at < ends_at and other.ends_at > starts_at
            for other in held[user.id]
            if other is not existing
        ) or any(
            p.user_id == user.id and p.starts_at < ends_at and p.ends_at > starts_at
            for p in planned
        )
        if clash:
            report.rejected.append(
                RosterRow(**{**row.__dict__, "errors": {"starts_at": "duty.overlap"}})
            )
            continue
        seen.add(key)
        if existing is not None and existing.ends_at == ends_at and existing.note == note:
            report.unchanged.append(row)
            continue
        (report.updated if existing is not None else report.created).append(row)
        planned.append(
            _Planned(
                row, unit.id, user.id, starts_at, ends_at, note, existing.id if existing else None
            )
        )
    _save(session, principal, report, planned, content, origin)
    return report


def _save(
    session: Session,
    principal: Principal,
    report: RosterReport,
    planned: list[_Planned],
    content: bytes,
    origin: Origin,
) -> None:
    new = [p for p in planned if p.existing is None]
    changed = [p for p in planned if p.existing is not None]
    if new:
        session.execute(
            insert(DutyShift),
            [
                {
                    "unit_id": p.unit_id,
                    "user_id": p.user_id,
                    "starts_at": p.starts_at,
                    "ends_at": p.ends_at,
                    "note": p.note,
                }
                for p in new
            ],
        )
    if changed:
        table = DutyShift.__table__  # type: ignore[attr-defined]
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(ends_at=bindparam("b_ends"), note=bindparam("b_note")),
            [{"b_id": p.existing, "b_ends": p.ends_at, "b_note": p.note} for p in changed],
        )
    if planned:
        record(
            session,
            origin,
            "duty.imported",
            "duty_import",
            hashlib.sha256(content).hexdigest(),
            principal.unit_path,
            filename=report.filename,
            created=len(report.created),
            updated=len(report.updated),
            unchanged=len(report.unchanged),
            rejected=len(report.rejected),
        )
    session.commit()
