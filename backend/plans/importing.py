"""The protection-target layer from CSV (重点防护目标导入): every row is checked first, errors are
named by row and field, and nothing is saved unless every row is good. A target already known by
kind and name is updated in place."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import insert, select, update
from sqlmodel import Session

from backend.auth.policy import Principal
from backend.db import settings_of
from backend.models import ProtectionTarget, Unit
from backend.plans.policy import TARGET_KINDS
from backend.validation import area_of, clean_text, position, text_problem

_CONTROL = "control_chars"
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 20_000
REQUIRED = ("kind", "name", "latitude", "longitude", "unit_code")
HEADERS = {
    **{name: name for name in (*REQUIRED, "address")},
    "类型": "kind",
    "名称": "name",
    "纬度": "latitude",
    "经度": "longitude",
    "地址": "address",
    "所属单位": "unit_code",
    "单位编码": "unit_code",
}
KIND_NAMES = {
    "学校": "school",
    "幼儿园": "kindergarten",
    "医院": "hospital",
    "养老院": "nursing_home",
}


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    code: str  # message key under `plans.import_errors.`


@dataclass
class TargetImport:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    problem: str = ""  # a whole-file problem (message key under `plans.import_errors.`)


def _decode(content: bytes) -> str | None:
    # Excel in China saves CSV as GB18030 unless told otherwise; UTF-8 (with BOM) first.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def import_targets(session: Session, principal: Principal, content: bytes) -> TargetImport:
    """Validate all rows, then write them in one go (the caller commits), or write nothing."""
    report = TargetImport()
    if len(content) > MAX_BYTES:
        report.problem = "too_large"
        return report
    text = _decode(content)
    if text is None:
        report.problem = "encoding"
        return report
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        report.problem = "empty"
        return report
    columns = [HEADERS.get(name.strip().lower(), HEADERS.get(name.strip(), "")) for name in header]
    if not set(REQUIRED) <= set(columns):
        report.problem = "missing_columns"
        return report
    raw_rows = []
    for line, values in enumerate(reader, start=2):
        if not any(value.strip() for value in values):
            continue
        if len(raw_rows) >= MAX_ROWS:
            report.problem = "too_many_rows"
            return report
        raw_rows.append((line, {c: v.strip() for c, v in zip(columns, values, strict=False) if c}))
    if not raw_rows:
        report.problem = "empty"
        return report
    # A code holding a NUL names no unit, and PostgreSQL would refuse the whole lookup.
    codes = {code for _, raw in raw_rows if not text_problem(code := raw.get("unit_code", ""))}
    area = area_of(settings_of(session))
    units = dict(session.execute(select(Unit.code, Unit.path).where(Unit.code.in_(codes))).all())
    rows: list[dict[str, object]] = []
    seen: set[tuple[str, str]] = set()
    for line, raw in raw_rows:
        kind = KIND_NAMES.get(raw.get("kind", ""), raw.get("kind", "").lower())
        name, problem = clean_text(raw.get("name", ""), 200, required=True)
        errors = []
        if kind not in TARGET_KINDS:
            errors.append(RowError(line, "kind", "kind"))
        if problem:
            errors.append(
                RowError(line, "name", "control_chars" if problem == _CONTROL else "name")
            )
        elif (kind, name) in seen:
            errors.append(RowError(line, "name", "duplicate"))
        seen.add((kind, name))
        point, problems = position(raw.get("latitude", ""), raw.get("longitude", ""), area)
        for column, code in problems.items():
            errors.append(RowError(line, column, code if code == "out_of_area" else "coordinate"))
        lat, lon = point or (None, None)
        path = units.get(raw.get("unit_code", ""))
        if path is None or not str(path).startswith(principal.unit_path):
            # A unit outside the importer's area reads as unknown: it is not theirs to fill.
            errors.append(RowError(line, "unit_code", "unit"))
        address, problem = clean_text(raw.get("address", ""), 300)
        if problem:
            errors.append(RowError(line, "address", problem))
        report.errors += errors
        if not errors:
            rows.append(
                {
                    "kind": kind,
                    "name": name,
                    "latitude": lat,
                    "longitude": lon,
                    "address": address,
                    "unit_path": path,
                }
            )
    if report.errors:
        return report
    existing = {
        (k, n): i
        for i, k, n in session.execute(
            select(ProtectionTarget.id, ProtectionTarget.kind, ProtectionTarget.name).where(
                ProtectionTarget.name.in_({str(r["name"]) for r in rows})
            )
        ).all()
    }
    new = [r for r in rows if (r["kind"], r["name"]) not in existing]
    for row in rows:
        target_id = existing.get((str(row["kind"]), str(row["name"])))
        if target_id is not None:
            session.execute(
                update(ProtectionTarget).where(ProtectionTarget.id == target_id).values(**row)
            )
            report.updated += 1
    if new:
        session.execute(insert(ProtectionTarget), new)
    report.created = len(new)
    return report
