"""The series behind the dashboard's charts, set-based SQL over the officer's area: the on-time
rate per day, week or month of the period, open hazards by tier and severity, and hazards
reported in the period by category and severity.

Time buckets are whole calendar days, weeks (Monday first) or months in the deployment's zone,
from the one holding the period's start to the current one, so that every bar but the last
measures the same stretch of time (the first may reach back before the period). Their UTC
bounds are computed here and handed to the database as a CASE over the bounds: the same SQL on SQLite and
PostgreSQL, without either's date functions or a time zone table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlmodel import Session, col

from backend.auth.policy import Principal
from backend.dashboard import charts
from backend.dashboard.queries import OnTime
from backend.hazards.views import scoped
from backend.models import TIERS, Hazard, HazardCategory, HazardState, Severity

_CLOSED = (HazardState.CLOSED.value, HazardState.RETURNED.value)
SEVERITIES = tuple(s.value for s in Severity)
CATEGORIES = tuple(c.value for c in HazardCategory)


@dataclass(frozen=True)
class Bucket:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    first_day: date  # local calendar days it covers
    last_day: date

    @property
    def key(self) -> str:
        return self.first_day.isoformat()


def step_of(days: int) -> str:
    """A day per bar for a week or two, a week for up to four months, then a month."""
    return "day" if days <= 14 else "week" if days <= 120 else "month"


def _floor(day: date, step: str) -> date:
    if step == "week":
        return day - timedelta(days=day.weekday())
    if step == "month":
        return day.replace(day=1)
    return day


def _next(day: date, step: str) -> date:
    if step == "week":
        return day + timedelta(days=7)
    if step == "month":
        return date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return day + timedelta(days=1)


def buckets(since: datetime, now: datetime, step: str, where: tzinfo) -> list[Bucket]:
    """The calendar steps from the one holding `since` to the one holding `now`, in `where`."""

    def midnight(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=where).astimezone(UTC)

    found: list[Bucket] = []
    day = _floor(since.astimezone(where).date(), step)
    last = now.astimezone(where).date()
    while day <= last:
        following = _next(day, step)
        found.append(Bucket(midnight(day), midnight(following), day, following - timedelta(days=1)))
        day = following
    return found


@dataclass(frozen=True)
class OnTimePoint:
    bucket: Bucket
    closed: int
    on_time: int

    @property
    def rate(self) -> float | None:
        return None if not self.closed else self.on_time / self.closed


def on_time_series(
    session: Session, principal: Principal, steps: list[Bucket]
) -> list[OnTimePoint]:
    """Hazards of the area closed (销号) in each bucket, and how many by their rectify_by: the
    dashboard's on-time rate over time. Every bucket is in the answer, empty ones too."""
    if not steps:
        return []
    closed_at = col(Hazard.closed_at)
    index = case(*((closed_at < b.end, i) for i, b in enumerate(steps)), else_=literal(-1))
    # The bucket is worked out in a subquery and grouped on outside: PostgreSQL takes a CASE
    # in GROUP BY only when its bound values are the very parameters of the SELECT's.
    rows = scoped(
        select(
            index.label("bucket"),
            case((closed_at <= col(Hazard.rectify_by), 1), else_=0).label("on_time"),
        ).where(
            Hazard.state == HazardState.CLOSED.value,
            closed_at >= steps[0].start,
            closed_at < steps[-1].end,
        ),
        principal,
    ).subquery()
    counted = {
        int(bucket): (int(closed), int(on_time or 0))
        for bucket, closed, on_time in session.execute(
            select(rows.c.bucket, func.count(), func.sum(rows.c.on_time)).group_by(rows.c.bucket)
        ).all()
    }
    return [OnTimePoint(b, *counted.get(i, (0, 0))) for i, b in enumerate(steps)]


@dataclass(frozen=True)
class Split:
    """One bar of a breakdown: how many hazards, general and major (一般 / 重大)."""

    key: str
    by_severity: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())


def _splits(keys: tuple[str, ...], rows: Any) -> list[Split]:
    counts: dict[str, dict[str, int]] = {k: dict.fromkeys(SEVERITIES, 0) for k in keys}
    for key, severity, count in rows:
        counts.setdefault(key, dict.fromkeys(SEVERITIES, 0))[severity] = int(count)
    return [Split(key, value) for key, value in counts.items()]


def open_by_tier(session: Session, principal: Principal) -> list[Split]:
    """Open hazards of the area by the tier holding them now (street, district, city)."""
    rows = session.execute(
        scoped(
            select(Hazard.tier, Hazard.severity, func.count())
            .where(Hazard.state.not_in(_CLOSED))
            .group_by(Hazard.tier, Hazard.severity),
            principal,
        )
    ).all()
    return _splits(tuple(t.value for t in TIERS), rows)


def reported_by_category(session: Session, principal: Principal, since: datetime) -> list[Split]:
    """Hazards of the area reported in the period by category, the most frequent first; the
    categories with none are left out, and so are reports sent back (退回: not a hazard)."""
    rows = session.execute(
        scoped(
            select(Hazard.category, Hazard.severity, func.count())
            .where(
                col(Hazard.reported_at) >= since,
                Hazard.state != HazardState.RETURNED.value,
            )
            .group_by(Hazard.category, Hazard.severity),
            principal,
        )
    ).all()
    found = [split for split in _splits((), rows) if split.total]
    order = {key: number for number, key in enumerate(CATEGORIES)}
    return sorted(found, key=lambda s: (-s.total, order.get(s.key, len(order))))


@dataclass(frozen=True)
class Charts:
    step: str
    trend: charts.ColumnChart
    points: list[OnTimePoint]
    tiers: charts.BarChart
    categories: charts.BarChart
    units: charts.BarChart


def _stacked(splits: list[Split]) -> list[tuple[Any, list[tuple[str, float]]]]:
    return [(s, [(severity, s.by_severity[severity]) for severity in SEVERITIES]) for s in splits]


def dashboard_charts(
    session: Session,
    principal: Principal,
    since: datetime,
    now: datetime,
    where: tzinfo,
    by_unit: Sequence[OnTime],
) -> Charts:
    """Everything the dashboard draws, for the period starting at `since`; `by_unit` is the
    on-time table (queries.on_time_by_child), drawn as one bar per unit."""
    step = step_of((now - since).days)
    points = on_time_series(session, principal, buckets(since, now, step, where))
    label = "%Y-%m" if step == "month" else "%m-%d"
    trend = charts.column_chart(
        [charts.ColumnItem(p, p.bucket.first_day.strftime(label), p.rate) for p in points]
    )
    return Charts(
        step,
        trend,
        points,
        charts.bar_chart(_stacked(open_by_tier(session, principal))),
        charts.bar_chart(_stacked(reported_by_category(session, principal, since))),
        charts.bar_chart([(u, [("rate", u.rate or 0.0)]) for u in by_unit], top=1.0),
    )
