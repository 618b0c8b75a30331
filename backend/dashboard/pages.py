"""The dashboard page for street dispatchers, district and city officers. Every number on it
links to the dispatch queue filtered to the hazards behind it."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlmodel import Session

from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.dashboard import queries, trends
from backend.errors import AppError
from backend.models import utcnow
from backend.web import page, zone_of


class DashboardPages(Controller):
    path = "/dashboard"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def dashboard(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        days: Annotated[int, QueryParameter(ge=1, le=366)] = queries.DEFAULT_DAYS,
    ) -> Response[Any]:
        tier = queries.tier_of(principal)
        if tier is None:
            raise AppError("forbidden")
        now = utcnow()
        since = queries.period_start(now, days)
        on_time = queries.on_time_by_child(db, principal, since)
        context = {
            "tier": tier.value,
            "days": days,
            "periods": queries.PERIODS,
            "counts": queries.counts(db, principal, tier, now),
            "accept": queries.time_to_accept(db, principal, since),
            "rectify": queries.time_to_rectify(db, principal, since),
            "on_time": on_time,
            "charts": trends.dashboard_charts(db, principal, since, now, zone_of(request), on_time),
            "escalated": queries.escalated_to(db, principal, tier, since),
            "duty": queries.who_is_on_duty(db, principal, tier, now),
        }
        return page(request, "dashboard/index.html", context, block="numbers")


ROUTES = [DashboardPages]
