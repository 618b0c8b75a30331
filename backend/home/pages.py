"""Home page per role."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from sqlalchemy import bindparam, func, select
from sqlmodel import Session, col

from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.enterprises.services import get_enterprise
from backend.models import Enterprise, Industry, Unit, UnitLevel, utcnow
from backend.riskviews.due import can_see_due, due_summary
from backend.web import page

# The most overdue enterprises the home page lists; /inspections/due has them all.
DUE_SHOWN = 5
# The grids the home page names (a district officer's are many; the list is a reminder).
GRIDS_SHOWN = 20


# Built once, bound per request (see backend.riskviews.due._DUE for why).
_BY_INDUSTRY = (
    select(Enterprise.industry, func.count())
    .join(Unit, Unit.id == Enterprise.grid_id)
    .where(col(Unit.path).startswith(bindparam("scope")), Enterprise.active.is_(True))
    .group_by(Enterprise.industry)
)
_GRIDS = (
    select(Unit.name, Unit.code)
    .where(col(Unit.path).startswith(bindparam("scope")), Unit.level == UnitLevel.GRID.value)
    .order_by(Unit.path)
    .limit(GRIDS_SHOWN)
)


def summary(session: Session, principal: Principal) -> dict[str, Any]:
    """Counts for the home page, all bounded by the principal's scope."""
    if principal.is_enterprise:
        assert principal.enterprise_id is not None
        enterprise, grid = get_enterprise(session, principal, principal.enterprise_id)
        return {"enterprise": enterprise, "grid": grid}
    database = session.connection()
    scope = {"scope": principal.unit_path}
    by_industry = dict(database.execute(_BY_INDUSTRY, scope).all())
    return {
        "by_industry": [(industry, by_industry.get(industry.value, 0)) for industry in Industry],
        "enterprise_total": sum(by_industry.values()),
        "grids": database.execute(_GRIDS, scope).all(),
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
