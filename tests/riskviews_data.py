"""Known data for the risk-view tests (due list, map, reports): enterprises placed where we say,
risk profiles with the colour and due date we say, hazards and inspections at known times."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from backend.demo.seed import credit_code
from backend.models import (
    ChecklistTemplate,
    Enterprise,
    Hazard,
    Inspection,
    RiskProfile,
    Unit,
    User,
    utcnow,
)

NOW = utcnow()
_rng = random.Random(7)


def unit(db: Session, code: str) -> Unit:
    return db.execute(select(Unit).where(Unit.code == code)).scalar_one()


def uid(db: Session, username: str) -> int:
    return int(db.execute(select(User.id).where(User.username == username)).scalar_one())


def clear_plan(db: Session) -> None:
    """Whatever profiles the demo has fall due in a year, so only the test's are due."""
    db.execute(update(RiskProfile).values(inspection_due_at=NOW + timedelta(days=365)))
    db.commit()


def add_enterprise(
    db: Session,
    grid_code: str,
    name: str,
    *,
    industry: str = "other",
    lat: float | None = 30.6,
    lng: float | None = 114.4,
) -> Enterprise:
    grid = unit(db, grid_code)
    enterprise = Enterprise(
        name=name,
        credit_code=credit_code(_rng, grid_code[:6]),
        industry=industry,
        latitude=lat,
        longitude=lng,
        grid_id=grid.id,
    )
    db.add(enterprise)
    db.commit()
    db.refresh(enterprise)
    return enterprise


def set_profile(
    db: Session, enterprise: Enterprise, colour: str, due_at: datetime | None, score: int = 50
) -> None:
    grid = db.get(Unit, enterprise.grid_id)
    assert grid is not None
    assert enterprise.id is not None
    profile = db.get(RiskProfile, enterprise.id) or RiskProfile(
        enterprise_id=enterprise.id,
        unit_path=grid.path,
        score=score,
        colour=colour,
        scoring_version=1,
    )
    profile.colour = colour
    profile.score = score
    profile.inspection_due_at = due_at
    db.add(profile)
    db.commit()


def add_hazard(
    db: Session,
    enterprise: Enterprise,
    *,
    state: str = "reported",
    severity: str = "general",
    reported_at: datetime = NOW,
    closed_at: datetime | None = None,
) -> str:
    grid = db.get(Unit, enterprise.grid_id)
    assert grid is not None
    hazard_id = str(uuid.uuid4())
    db.add(
        Hazard(
            id=hazard_id,
            enterprise_id=enterprise.id,
            grid_id=grid.id,
            unit_path=grid.path,
            severity=severity,
            category="fire",
            description="消防通道堵塞",
            state=state,
            reported_by=uid(db, "inspector"),
            reported_at=reported_at,
            closed_at=closed_at,
        )
    )
    db.commit()
    return hazard_id


def add_inspection(
    db: Session, enterprise: Enterprise, at: datetime, kind: str = "inspection"
) -> None:
    grid = db.get(Unit, enterprise.grid_id)
    template = db.execute(select(ChecklistTemplate).limit(1)).scalar_one()
    assert grid is not None
    assert template.id is not None
    assert enterprise.id is not None
    db.add(
        Inspection(
            id=str(uuid.uuid4()),
            enterprise_id=enterprise.id,
            inspector_id=uid(db, "inspector"),
            template_id=template.id,
            template_version=template.version,
            kind=kind,
            unit_path=grid.path,
            started_at=at - timedelta(minutes=30),
            finished_at=at,
        )
    )
    db.commit()
