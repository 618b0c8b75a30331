"""Risk report (风险统计报表) per unit directly below the viewer's (the city's districts, a
district's streets, a street's grids; a grid inspector gets their own grid), for one month.

Definitions (README, "Risk map and reports"):
- enterprises by colour and by industry: active enterprises now, by their current profile;
- planned (应检): enterprises whose inspection fell due before the period's end and were not
  inspected since (still due), plus those inspected in the period (their inspection moved the
  due date on). The current due date is all we keep, so a past month is reconstructed from it;
- done (已检): enterprises with at least one inspection (not self-check) finished in the period,
  so done never exceeds planned;
- hazards found: reported in the period; hazards closed: closed (销号) in the period.
Every table (page, CSV, XLSX) comes from `table()`, so the three cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import and_, distinct, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from backend.auth.policy import Principal
from backend.errors import AppError
from backend.i18n import Translator
from backend.models import (
    RISK_COLOURS,
    Enterprise,
    Hazard,
    HazardState,
    Industry,
    Inspection,
    InspectionKind,
    RiskProfile,
    Role,
    Unit,
)

UNRATED = "none"
COLOURS = (*(c.value for c in RISK_COLOURS), UNRATED)
INDUSTRIES = tuple(i.value for i in Industry)
REPORT_ROLES = frozenset(
    {
        Role.GRID_INSPECTOR,
        Role.STREET_DISPATCHER,
        Role.DISTRICT_OFFICER,
        Role.CITY_OFFICER,
        Role.ADMIN,
    }
)


@dataclass(frozen=True)
class Period:
    month: str  # YYYY-MM, in the deployment's zone
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive


def period_of(month: str, now: datetime, where: tzinfo) -> Period:
    """The calendar month `month` (default: this month) in local time, as a UTC interval."""
    if not month:
        local = now.astimezone(where)
        month = f"{local.year:04d}-{local.month:02d}"
    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
    except ValueError:
        raise AppError("validation_failed", fields={"month": "invalid"}) from None
    if not 2000 <= year <= 2100 or len(month) != 7:
        raise AppError("validation_failed", fields={"month": "invalid"})
    following = date(year + (number == 12), number % 12 + 1, 1)

    def midnight(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=where).astimezone(UTC)

    return Period(month, midnight(first), midnight(following))


@dataclass
class Row:
    unit_id: int
    name: str
    colours: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLOURS, 0))
    industries: dict[str, int] = field(default_factory=lambda: dict.fromkeys(INDUSTRIES, 0))
    planned: int = 0
    done: int = 0
    hazards_found: int = 0
    hazards_closed: int = 0

    @property
    def enterprises(self) -> int:
        return sum(self.colours.values())

    def add(self, other: Row) -> None:
        for key, value in other.colours.items():
            self.colours[key] += value
        for key, value in other.industries.items():
            self.industries[key] += value
        self.planned += other.planned
        self.done += other.done
        self.hazards_found += other.hazards_found
        self.hazards_closed += other.hazards_closed


@dataclass(frozen=True)
class Report:
    period: Period
    rows: list[Row]
    total: Row


def can_view_reports(principal: Principal) -> bool:
    return principal.role in REPORT_ROLES


def _units(session: Session, principal: Principal) -> list[tuple[int, str, str]]:
    children = session.execute(
        select(Unit.id, Unit.name, Unit.path)
        .where(Unit.parent_id == principal.unit_id, Unit.active.is_(True))
        .order_by(Unit.path)
    ).all()
    if children:
        return [(int(i), n, p) for i, n, p in children]
    return [(principal.unit_id, principal.unit_name, principal.unit_path)]


def risk_report(session: Session, principal: Principal, period: Period) -> Report:
    if principal.is_enterprise or not can_view_reports(principal):
        raise AppError("forbidden")
    units = _units(session, principal)
    rows = {unit_id: Row(unit_id, name) for unit_id, name, _ in units}
    child = aliased(Unit)
    grid = aliased(Unit)
    ids = list(rows)
    # Enterprises of each child unit: the grid's path lies under the child's.
    enterprises = (
        select(child.id.label("unit_id"), Enterprise.id.label("enterprise_id"))
        .join(grid, grid.path.startswith(child.path))
        .join(Enterprise, Enterprise.grid_id == grid.id)
        .where(col(child.id).in_(ids), Enterprise.active.is_(True))
        .subquery()
    )
    colour = func.coalesce(RiskProfile.colour, UNRATED)
    for unit_id, key, count in session.execute(
        select(enterprises.c.unit_id, colour, func.count())
        .select_from(enterprises)
        .outerjoin(RiskProfile, RiskProfile.enterprise_id == enterprises.c.enterprise_id)
        .group_by(enterprises.c.unit_id, colour)
    ).all():
        rows[unit_id].colours[key] = int(count)
    for unit_id, key, count in session.execute(
        select(enterprises.c.unit_id, Enterprise.industry, func.count())
        .join(Enterprise, Enterprise.id == enterprises.c.enterprise_id)
        .group_by(enterprises.c.unit_id, Enterprise.industry)
    ).all():
        rows[unit_id].industries[key] = int(count)
    inspected = and_(
        Inspection.enterprise_id == enterprises.c.enterprise_id,
        Inspection.kind == InspectionKind.INSPECTION.value,
        col(Inspection.finished_at) >= period.start,
        col(Inspection.finished_at) < period.end,
    )
    in_period = exists().where(inspected)
    for unit_id, count in session.execute(
        select(enterprises.c.unit_id, func.count())
        .join(RiskProfile, RiskProfile.enterprise_id == enterprises.c.enterprise_id)
        .where(or_(col(RiskProfile.inspection_due_at) < period.end, in_period))
        .group_by(enterprises.c.unit_id)
    ).all():
        rows[unit_id].planned = int(count)
    for unit_id, count in session.execute(
        select(enterprises.c.unit_id, func.count(distinct(Inspection.enterprise_id)))
        .join(Inspection, inspected)
        .group_by(enterprises.c.unit_id)
    ).all():
        rows[unit_id].done = int(count)
    for unit_id, found, closed in session.execute(
        select(
            child.id,
            func.count(Hazard.id).filter(
                col(Hazard.reported_at) >= period.start, col(Hazard.reported_at) < period.end
            ),
            func.count(Hazard.id).filter(
                Hazard.state == HazardState.CLOSED.value,
                col(Hazard.closed_at) >= period.start,
                col(Hazard.closed_at) < period.end,
            ),
        )
        .join(Hazard, Hazard.unit_path.startswith(child.path))
        .where(col(child.id).in_(ids))
        .group_by(child.id)
    ).all():
        rows[unit_id].hazards_found = int(found)
        rows[unit_id].hazards_closed = int(closed)
    total = Row(0, "")
    for row in rows.values():
        total.add(row)
    return Report(period, list(rows.values()), total)


def header(t: Translator) -> list[str]:
    return [
        t("riskviews.report.unit"),
        t("riskviews.report.enterprises"),
        *(t(f"riskviews.colours.{c}") for c in COLOURS),
        *(t(f"industries.{i}") for i in INDUSTRIES),
        t("riskviews.report.planned"),
        t("riskviews.report.done"),
        t("riskviews.report.hazards_found"),
        t("riskviews.report.hazards_closed"),
    ]


def _cells(name: str, row: Row) -> list[Any]:
    return [
        name,
        row.enterprises,
        *(row.colours[c] for c in COLOURS),
        *(row.industries[i] for i in INDUSTRIES),
        row.planned,
        row.done,
        row.hazards_found,
        row.hazards_closed,
    ]


def table(report: Report, t: Translator) -> tuple[list[str], list[list[Any]]]:
    """The one table every format shows: a row per unit, then the total."""
    body = [_cells(row.name, row) for row in report.rows]
    body.append(_cells(t("riskviews.report.total"), report.total))
    return header(t), body
