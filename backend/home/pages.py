"""Home page per role."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from sqlalchemy import func, select
from sqlmodel import Session

from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.enterprises.services import get_enterprise, scoped
from backend.models import Enterprise, Industry, Unit, UnitLevel, utcnow
from backend.riskviews.due import can_see_due, due_summary
from backend.units.services import units_under
from backend.web import page

# The most overdue enterprises the home page lists; /inspections/due has them all.
DUE_SHOWN = 5


def summary(session: Session, principal: Principal) -> dict[str, Any]:
    """Counts for the home page, all bounded by the principal's scope."""
    if principal.is_enterprise:
        assert principal.enterprise_id is not None
        enterprise, grid = get_enterprise(session, principal, principal.enterprise_id)
        return {"enterprise": enterprise, "grid": grid}
    stmt = scoped(
        select(Enterprise.industry, func.count()).join(Unit, Unit.id == Enterprise.grid_id),
        principal,
    ).where(Enterprise.active.is_(True))
    by_industry = dict(session.execute(stmt.group_by(Enterprise.industry)).all())
    units = units_under(session, principal)
    return {
        "by_industry": [(industry, by_industry.get(industry.value, 0)) for industry in Industry],
        "enterprise_total": sum(by_industry.values()),
        "grids": [unit for unit in units if unit.level == UnitLevel.GRID][:20],
        "unit_counts": {level: sum(1 for u in units if u.level == level) for level in UnitLevel},
        # The supervision plan (监管计划): who checks in also sees what is due (/inspections/due).
        "due": due_summary(session, principal, utcnow(), DUE_SHOWN)
        if can_see_due(principal)
        else None,
    }


class HomePages(Controller):
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def home(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
    ) -> Response[Any]:
        return page(request, "home.html", summary(db, principal))
