"""Gathering the scoring facts of many enterprises at once: one grouped query per factor."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlmodel import Session, col

from backend.models import (
    Accident,
    EnforcementRecord,
    Enterprise,
    Hazard,
    HazardState,
    Inspection,
    InspectionKind,
    InspectionResult,
    ItemResult,
    RiskProfile,
    Unit,
)
from backend.risk.scoring import Facts, Weights

# Closed, or returned as not a hazard: neither counts against the enterprise.
SETTLED = (HazardState.CLOSED.value, HazardState.RETURNED.value)
# States in which the rectification is still owed (evidence submitted stops the overdue count).
OWED = (HazardState.REPORTED.value, HazardState.ASSIGNED.value, HazardState.RECTIFYING.value)


@dataclass
class Gathered:
    """One enterprise: where it is, its facts, its last inspection, and its current profile."""

    unit_path: str
    facts: Facts
    last_inspected_at: datetime | None
    previous: dict[str, Any] | None = None


def gather(
    session: Session, ids: Sequence[int], weights: Weights, now: datetime
) -> dict[int, Gathered]:
    """Facts for these enterprises (inactive or unknown ids are left out)."""
    windows = weights.window_start(now)
    asked = set(ids)
    if not asked:
        return {}
    low, high = min(asked), max(asked)

    def of(column: Any) -> Any:
        # A dense batch (the full recompute walks ids in order) is a range: two parameters
        # instead of thousands; rows of ids not asked for are dropped below.
        if high - low < 2 * len(asked):
            return column.between(low, high)
        return column.in_(sorted(asked))

    base = {
        row.id: (row.industry, row.path)
        for row in session.execute(
            select(Enterprise.id, Enterprise.industry, Unit.path)
            .join(Unit, Unit.id == Enterprise.grid_id)
            .where(of(Enterprise.id), Enterprise.active.is_(True))
        )
        if row.id in asked
    }
    if not base:
        return {}
    counts: dict[int, dict[str, Any]] = defaultdict(dict)

    hazard_rows = session.execute(
        select(
            Hazard.enterprise_id,
            func.sum(case((Hazard.severity == "general", 1), else_=0)),
            func.sum(case((Hazard.severity == "major", 1), else_=0)),
            func.sum(
                case((and_(Hazard.state.in_(OWED), col(Hazard.rectify_by) < now), 1), else_=0)
            ),
        )
        .where(of(Hazard.enterprise_id), Hazard.state.not_in(SETTLED))
        .group_by(Hazard.enterprise_id)
    )
    for enterprise_id, general, major, overdue in hazard_rows:
        counts[enterprise_id] |= {
            "open_general": int(general or 0),
            "open_major": int(major or 0),
            "overdue": int(overdue or 0),
        }

    official = Inspection.kind == InspectionKind.INSPECTION.value
    for enterprise_id, last, recent in session.execute(
        select(
            Inspection.enterprise_id,
            func.max(Inspection.finished_at),
            func.sum(case((Inspection.finished_at >= windows.inspections, 1), else_=0)),
        )
        .where(of(Inspection.enterprise_id), official)
        .group_by(Inspection.enterprise_id)
    ):
        counts[enterprise_id] |= {"last": last, "inspections": int(recent or 0)}
    failed = (
        select(Inspection.enterprise_id, func.count(func.distinct(Inspection.id)))
        .join(InspectionResult, InspectionResult.inspection_id == Inspection.id)
        .where(
            of(Inspection.enterprise_id),
            official,
            Inspection.finished_at >= windows.inspections,
            InspectionResult.result == ItemResult.FAIL.value,
        )
        .group_by(Inspection.enterprise_id)
    )
    for enterprise_id, n in session.execute(failed):
        counts[enterprise_id]["failed_inspections"] = int(n)

    for enterprise_id, kind, n in session.execute(
        select(EnforcementRecord.enterprise_id, EnforcementRecord.kind, func.count())
        .where(
            of(EnforcementRecord.enterprise_id),
            EnforcementRecord.decided_on >= windows.enforcement,
        )
        .group_by(EnforcementRecord.enterprise_id, EnforcementRecord.kind)
    ):
        counts[enterprise_id].setdefault("enforcement", {})[kind] = int(n)

    for enterprise_id, level, n, deaths in session.execute(
        select(Accident.enterprise_id, Accident.level, func.count(), func.sum(Accident.deaths))
        .where(of(Accident.enterprise_id), Accident.occurred_on >= windows.accidents)
        .group_by(Accident.enterprise_id, Accident.level)
    ):
        mine = counts[enterprise_id]
        mine.setdefault("accidents", {})[level] = int(n)
        mine["deaths"] = mine.get("deaths", 0) + int(deaths or 0)

    previous = {
        row.enterprise_id: dict(row._mapping)
        for row in session.execute(
            select(
                RiskProfile.enterprise_id,
                RiskProfile.colour,
                RiskProfile.score,
                RiskProfile.factors,
                RiskProfile.colour_since,
                RiskProfile.inspection_due_at,
                RiskProfile.unit_path,
            ).where(of(RiskProfile.enterprise_id))
        )
    }

    out: dict[int, Gathered] = {}
    for enterprise_id, (industry, path) in base.items():
        c = counts.get(enterprise_id, {})
        facts = Facts(
            industry=industry,
            open_general=c.get("open_general", 0),
            open_major=c.get("open_major", 0),
            overdue=c.get("overdue", 0),
            inspections=c.get("inspections", 0),
            failed_inspections=c.get("failed_inspections", 0),
            enforcement=c.get("enforcement", {}),
            accidents=c.get("accidents", {}),
            deaths=c.get("deaths", 0),
        )
        out[enterprise_id] = Gathered(path, facts, c.get("last"), previous.get(enterprise_id))
    return out
