"""Demo risk data: a few enforcement records and accidents, and a first profile for every
enterprise. Kept away from 红卫路街道 (420107001), whose first enterprise the walkthrough uses."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from backend.models import (
    Accident,
    EnforcementRecord,
    Enterprise,
    RecordSource,
    RiskProfile,
    Unit,
    utcnow,
)
from backend.risk.services import refresh

SPARED_STREET = "/420100/420107/420107001/"

# (days ago, kind, fine in yuan, description)
ENFORCEMENT = [
    (40, "fine", 50000, "未按规定开展粉尘清扫，责令改正并处罚款"),
    (120, "order", None, "危化品仓库超量储存，责令限期整改"),
    (200, "suspension", None, "熔融金属作业区安全设施缺失，责令停产整顿"),
    (300, "warning", None, "安全培训记录不全"),
]
# (days ago, level, deaths, injuries, description)
ACCIDENTS = [
    (90, "general", 0, 2, "铝粉收集器起火，两人轻伤"),
    (400, "larger", 3, 5, "煤气泄漏中毒事故"),
]


def seed_risk(session: Session) -> dict[str, int]:
    """Once: the demo records, then every enterprise graded (quietly: nothing "changed")."""
    if session.execute(select(func.count()).select_from(RiskProfile)).scalar_one():
        return {}
    rows = session.execute(
        select(Enterprise.id, Unit.path)
        .join(Unit, Unit.id == Enterprise.grid_id)
        .where(Enterprise.active.is_(True))
        .order_by(Enterprise.id)
    ).all()
    chosen = [row for row in rows if not row.path.startswith(SPARED_STREET)][::37]
    today = utcnow().date()
    for (days, kind, amount, text), row in zip(ENFORCEMENT, chosen, strict=False):
        session.add(
            EnforcementRecord(
                enterprise_id=row.id,
                unit_path=row.path,
                decided_on=today - timedelta(days=days),
                kind=kind,
                amount_yuan=amount,
                description=text,
                source=RecordSource.IMPORT,
            )
        )
    for (days, level, deaths, injuries, text), row in zip(ACCIDENTS, chosen[2:], strict=False):
        session.add(
            Accident(
                enterprise_id=row.id,
                unit_path=row.path,
                occurred_on=today - timedelta(days=days),
                level=level,
                deaths=deaths,
                injuries=injuries,
                description=text,
                source=RecordSource.IMPORT,
            )
        )
    session.flush()
    graded = refresh(session, [row.id for row in rows], announce_new=False).scored
    return {
        "risk_profiles": graded,
        "enforcement_records": len(ENFORCEMENT),
        "accidents": len(ACCIDENTS),
    }
