"""Enterprise onboarding (企业入网纳管): import a CSV or XLSX export of the business-registration system."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend.audit import Origin, record
from backend.auth.policy import Principal, can_create_enterprise_in, can_edit_enterprise
from backend.auth.services import principal_of
from backend.db import settings_of
from backend.enterprises import credit_code
from backend.enterprises.fields import EnterpriseFields, parse_enterprise
from backend.enterprises.services import apply_fields, move_officers, publish
from backend.errors import AppError
from backend.models import Enterprise, Unit, UnitLevel, User, utcnow
from backend.validation import area_of, text_problem

MAX_BYTES = 10 * 1024 * 1024
# A 10 MB XLSX can inflate to far more rows than anyone onboards at once; stop reading early.
MAX_ROWS = 50_000
MAX_COLUMNS = 200
# Bound parameters per statement are capped (SQLite 32766, psycopg 65535), so IN lists are cut.
CHUNK = 1000

REQUIRED = ("credit_code", "name", "industry", "grid_code")
OPTIONAL = ("address", "contact_name", "contact_phone", "longitude", "latitude")
# The header each field has in a business-registration export, named in error messages.
CHINESE_HEADERS = {
    "credit_code": "统一社会信用代码",
    "name": "企业名称",
    "industry": "行业",
    "grid_code": "所属网格",
    "address": "地址",
    "contact_name": "联系人",
    "contact_phone": "联系电话",
    "longitude": "经度",
    "latitude": "纬度",
}
HEADERS: dict[str, str] = {
    **{name: name for name in (*REQUIRED, *OPTIONAL)},
    **{header: name for name, header in CHINESE_HEADERS.items()},
    "注册地址": "address",
    "网格编码": "grid_code",
}
TEXT_SUFFIXES = frozenset({".csv", ".txt", ""})


@dataclass(frozen=True)
class ImportedRow:
    line: int
    credit_code: str
    name: str
    enterprise_id: int | None  # None for a new enterprise in a dry run
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RejectedRow:
    line: int
    credit_code: str
    name: str
    errors: dict[str, str]  # field -> message key under `fields.`


@dataclass
class ImportReport:
    filename: str
    dry_run: bool = False
    created: list[ImportedRow] = field(default_factory=list)
    updated: list[ImportedRow] = field(default_factory=list)
    unchanged: list[ImportedRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)

    def summary(self) -> str:
        counts = (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.rejected)} rejected"
        )
        return f"{self.filename}: {counts}" + (" (dry run, nothing saved)" if self.dry_run else "")


def import_file(
    session: Session,
    filename: str,
    content: bytes,
    actor_id: int | None,
    dry_run: bool = False,
    *,
    device: str = "",
    ip: str = "",
) -> ImportReport:
    """Validate every row, then create and update in one transaction; bad rows change nothing.

    With an actor, rows are bounded by what that user may create and edit; without one (the
    CLI, run by whoever holds the database) every grid is open."""
    principal = _principal(session, actor_id)
    rows = read_rows(filename, content)
    # A code holding a NUL is refused row by row below; PostgreSQL would refuse the lookup.
    codes = {credit_code.normalise(raw["credit_code"]) for _, raw in rows}
    existing = _existing(session, {code for code in codes if not text_problem(code)})
    grids = _grids(
        session, {g for _, raw in rows if not text_problem(g := raw["grid_code"].strip())}
    )
    area = area_of(settings_of(session))
    report = ImportReport(filename=filename, dry_run=dry_run)
    new: list[tuple[ImportedRow, dict[str, Any], str]] = []
    touched: list[tuple[ImportedRow, str]] = []
    moved_from: dict[int, str] = {}  # enterprise id -> the grid path it leaves
    seen: set[str] = set()
    for line, raw in rows:
        code = credit_code.normalise(raw["credit_code"])
        current = existing.get(code)
        if current is not None:
            # A column the file lacks keeps today's value instead of being wiped.
            raw = {**_text_of(current[0]), **raw}
        fields, errors = parse_enterprise(raw, area)
        grid = _check_grid(grids, raw["grid_code"].strip(), principal, errors)
        if code in seen:
            errors.setdefault("credit_code", "import.duplicate_code")
        seen.add(code)
        if current is not None and principal is not None:
            enterprise, grid_path = current
            assert enterprise.id is not None
            if not can_edit_enterprise(principal, enterprise.id, grid_path):
                errors.setdefault("credit_code", "credit_code.taken")
        if fields is None or grid is None or errors:
            report.rejected.append(RejectedRow(line, code, raw["name"].strip(), errors))
        elif current is None:
            row = ImportedRow(line, fields.credit_code, fields.name, None)
            report.created.append(row)
            new.append((row, _values(fields, grid), grid.path))
        else:
            enterprise = current[0]
            assert grid.id is not None
            changes = apply_fields(enterprise, fields, grid.id)
            row = ImportedRow(line, fields.credit_code, fields.name, enterprise.id, changes)
            (report.updated if changes else report.unchanged).append(row)
            if changes:
                touched.append((row, grid.path))
                if "grid_id" in changes and enterprise.id is not None:
                    moved_from[enterprise.id] = current[1]
    if dry_run:
        session.rollback()
        return report
    origin = Origin(actor_id, device, ip)
    try:
        _save(
            session,
            origin,
            report,
            new,
            touched,
            moved_from,
            hashlib.sha256(content).hexdigest(),
            principal,
        )
        session.commit()
    except IntegrityError as error:
        # Another import or edit registered one of these codes after we looked.
        session.rollback()
        raise AppError("conflict") from error
    return report


def _save(
    session: Session,
    origin: Origin,
    report: ImportReport,
    new: list[tuple[ImportedRow, dict[str, Any], str]],
    touched: list[tuple[ImportedRow, str]],
    moved_from: dict[int, str],
    digest: str,
    principal: Principal | None,
) -> None:
    if new:
        now = utcnow()
        rows = [
            {**values, "active": True, "created_at": now, "updated_at": now} for _, values, _ in new
        ]
        ids = dict(
            session.execute(
                insert(Enterprise).returning(Enterprise.credit_code, Enterprise.id), rows
            ).all()
        )
        report.created = []
        for row, values, grid_path in new:
            created = ImportedRow(row.line, row.credit_code, row.name, ids[row.credit_code])
            report.created.append(created)
            record(
                session,
                origin,
                "enterprise.imported_created",
                "enterprise",
                created.enterprise_id,
                grid_path,
                import_sha256=digest,
                **values,
            )
    for row, grid_path in touched:
        if "grid_id" in row.changes:
            assert row.enterprise_id is not None
            move_officers(session, row.enterprise_id, row.changes["grid_id"][1])
        record(
            session,
            origin,
            "enterprise.imported_updated",
            "enterprise",
            row.enterprise_id,
            grid_path,
            import_sha256=digest,
            changes=row.changes,
        )
    published = [row.enterprise_id for row in report.created] + [
        row.enterprise_id for row, _ in touched
    ]
    publish(session, [i for i in published if i is not None], moved_from)
    if report.created or report.updated:
        record(
            session,
            origin,
            "enterprise.import",
            "import",
            digest,
            principal.unit_path if principal else "",
            filename=report.filename,
            created=len(report.created),
            updated=len(report.updated),
            unchanged=len(report.unchanged),
            rejected=len(report.rejected),
        )


def _principal(session: Session, actor_id: int | None) -> Principal | None:
    if actor_id is None:
        return None
    row = session.execute(
        select(User, Unit.path, Unit.name)
        .join(Unit, Unit.id == User.unit_id)  # type: ignore[arg-type]
        .where(User.id == actor_id, User.active.is_(True))  # type: ignore[attr-defined]
    ).one_or_none()
    if row is None:
        raise AppError("forbidden")
    return principal_of(*row)


def _check_grid(
    grids: dict[str, Unit], code: str, principal: Principal | None, errors: dict[str, str]
) -> Unit | None:
    grid = grids.get(code)
    if not code:
        errors["grid_code"] = "required"
    elif grid is None:
        errors["grid_code"] = "import.grid_unknown"
    elif grid.level != UnitLevel.GRID:
        errors["grid_code"] = "import.not_a_grid"
    elif principal is not None and not can_create_enterprise_in(principal, grid.path):
        errors["grid_code"] = "grid"
    else:
        return grid
    return None


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    items = sorted(value for value in values if value)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _existing(session: Session, codes: set[str]) -> dict[str, tuple[Enterprise, str]]:
    """Enterprises already registered under the file's codes, with their grid's path."""
    found: dict[str, tuple[Enterprise, str]] = {}
    for chunk in _chunks(codes):
        stmt = (
            select(Enterprise, Unit.path)
            .join(Unit, Unit.id == Enterprise.grid_id)  # type: ignore[arg-type]
            .where(Enterprise.credit_code.in_(chunk))  # type: ignore[attr-defined]
        )
        for enterprise, path in session.execute(stmt).all():
            found[enterprise.credit_code] = (enterprise, path)
    return found


def _grids(session: Session, codes: set[str]) -> dict[str, Unit]:
    found: dict[str, Unit] = {}
    for chunk in _chunks(codes):
        for unit in session.execute(select(Unit).where(Unit.code.in_(chunk))).scalars():  # type: ignore[attr-defined]
            found[unit.code] = unit
    return found


def _text_of(enterprise: Enterprise) -> dict[str, str]:
    def number(value: float | None) -> str:
        return "" if value is None else repr(value)

    return {
        "address": enterprise.address,
        "contact_name": enterprise.contact_name,
        "contact_phone": enterprise.contact_phone,
        "latitude": number(enterprise.latitude),
        "longitude": number(enterprise.longitude),
    }


def _values(fields: EnterpriseFields, grid: Unit) -> dict[str, Any]:
    return {**asdict(fields), "industry": fields.industry.value, "grid_id": grid.id}


# Reading the file -------------------------------------------------------------------------


def read_rows(filename: str, content: bytes) -> list[tuple[int, dict[str, str]]]:
    """(line number, {field: text}) per non-blank row below the header; file-level problems raise."""
    if len(content) > MAX_BYTES:
        raise AppError("import_too_large", params=_limits())
    if not content.strip():
        raise AppError("import_empty")
    table = _table(filename, content)
    header: dict[str, int] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    for line, cells in table:
        if not any(cells):
            continue
        if header is None:
            header = _columns(cells)
            continue
        if len(rows) >= MAX_ROWS:
            raise AppError("import_too_large", params=_limits())
        rows.append(
            (line, {name: cells[i] if i < len(cells) else "" for name, i in header.items()})
        )
    if not rows:
        raise AppError("import_empty")
    return rows


def _limits() -> dict[str, Any]:
    return {"megabytes": MAX_BYTES // (1024 * 1024), "rows": MAX_ROWS}


def _header_key(title: str) -> str:
    # Exports mark required columns with an asterisk and pad titles with (full-width) spaces.
    key = "".join(title.split()).strip("*＊")
    return key.lower() if key.isascii() else key


def _columns(cells: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    repeated: list[str] = []
    for index, title in enumerate(cells):
        name = HEADERS.get(_header_key(title))
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


def _table(filename: str, content: bytes) -> Iterator[tuple[int, list[str]]]:
    if content.startswith(b"PK\x03\x04"):
        return _xlsx_rows(content)
    if PurePath(filename).suffix.lower() in TEXT_SUFFIXES:
        return _csv_rows(_decode(content))
    raise AppError("import_unsupported")


def _decode(content: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030, the superset of the GBK Chinese Excel writes.
    UTF-8 goes first: GBK text is almost never valid UTF-8, while UTF-8 often decodes as GB18030."""
    if content.startswith(codecs.BOM_UTF8):
        candidates = [(content[len(codecs.BOM_UTF8) :], "utf-8")]
    else:
        candidates = [(content, "utf-8"), (content, "gb18030")]
    for data, encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # NUL never appears in a text export; it means a binary file (or UTF-16) was sent.
        if "\x00" in text:
            break
        return text
    raise AppError("import_unsupported")


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for cells in reader:
            # A quoted cell can span lines; the row is reported at the line where it starts.
            yield start, [cell.strip() for cell in cells]
            start = reader.line_num + 1
    except csv.Error as error:
        raise AppError("import_unsupported") from error


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:
        # openpyxl signals a broken or foreign zip with a dozen exception types.
        raise AppError("import_unsupported") from error
    try:
        sheet = workbook.active
        # Some exporters write a wrong <dimension>; trusting it would silently drop rows.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
        for number, values in enumerate(rows, start=1):
            yield number, [_cell_text(value) for value in values]
    except Exception as error:
        raise AppError("import_unsupported") from error
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    # Excel stores grid codes and phone numbers typed as numbers as floats: 420107001001.0.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()
