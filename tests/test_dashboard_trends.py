"""The series behind the dashboard's charts, on SQLite and PostgreSQL: calendar buckets in the
deployment's zone, the on-time rate per week from real rows (a hazard closed a minute either
side of local midnight lands in the right week), open hazards by tier, reported ones by
category, the area bound; and where the chart geometry puts the bars."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from backend.dashboard import charts, trends
from backend.demo.seed import DEMO_PASSWORD
from backend.models import Hazard, Unit, User
from backend.riskviews import report_charts, reports
from tests.conftest import sign_in
from tests.test_reports import principal

BEIJING = ZoneInfo("Asia/Shanghai")


def beijing(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BEIJING).astimezone(UTC)  # type: ignore[misc]


def hazard(db: Session, grid_code: str, **values: Any) -> str:
    grid = db.execute(select(Unit).where(Unit.code == grid_code)).scalar_one()
    reporter = db.execute(select(User.id).where(User.username == "inspector")).scalar_one()
    hazard_id = str(uuid.uuid4())
    values.setdefault("severity", "general")
    values.setdefault("category", "fire")
    values.setdefault("state", "assigned")
    values.setdefault("reported_at", beijing(2026, 11, 20, 9))
    db.add(
        Hazard(
            id=hazard_id,
            grid_id=grid.id,
            unit_path=grid.path,
            description="看板图表",
            reported_by=reporter,
            **values,
        )
    )
    db.flush()
    return hazard_id


def closed(db: Session, grid: str, at: datetime, *, late: bool = False) -> str:
    by = at + timedelta(minutes=-5 if late else 5)
    return hazard(db, grid, state="closed", closed_at=at, rectify_by=by)


# Thursday 3 December 2026, 10:00 in Wuhan; the last 30 days began on Tuesday 3 November.
NOW = beijing(2026, 12, 3, 10)
SINCE = NOW - timedelta(days=30)


def test_weeks_are_local_calendar_weeks_from_the_one_the_period_began_in() -> None:
    weeks = trends.buckets(SINCE, NOW, "week", BEIJING)
    assert [b.first_day for b in weeks] == [
        date(2026, 11, 2),
        date(2026, 11, 9),
        date(2026, 11, 16),
        date(2026, 11, 23),
        date(2026, 11, 30),
    ]
    assert weeks[0].last_day == date(2026, 11, 8)
    # Monday 00:00 in Wuhan is Sunday 16:00 UTC; each bucket ends where the next begins.
    assert weeks[0].start == datetime(2026, 11, 1, 16, tzinfo=UTC)
    assert all(a.end == b.start for a, b in itertools.pairwise(weeks))
    assert weeks[-1].start <= NOW < weeks[-1].end


def test_the_step_follows_the_period() -> None:
    assert [trends.step_of(days) for days in (7, 30, 90, 365)] == ["day", "week", "week", "month"]
    days = trends.buckets(NOW - timedelta(days=7), NOW, "day", BEIJING)
    assert [b.first_day.day for b in days] == [26, 27, 28, 29, 30, 1, 2, 3]
    months = trends.buckets(NOW - timedelta(days=365), NOW, "month", BEIJING)
    assert [b.key for b in months][:2] == ["2025-12-01", "2026-01-01"]
    assert months[-1].key == "2026-12-01"
    assert len(months) == 13
    assert months[-2].end == beijing(2026, 12, 1)


def test_on_time_per_week_from_real_rows(db: Session) -> None:
    closed(db, "420107001001", beijing(2026, 11, 3, 12))  # first week
    closed(db, "420107001001", beijing(2026, 11, 29, 23, 59))  # Sunday: week of 23 Nov
    closed(db, "420107002001", beijing(2026, 11, 30, 0, 1), late=True)  # Monday: week of 30 Nov
    closed(db, "420107001002", beijing(2026, 12, 2, 15))
    closed(db, "420107001002", beijing(2026, 12, 2, 16), late=True)
    closed(db, "420102001001", beijing(2026, 12, 2, 9))  # 江岸区: not the district's
    hazard(db, "420107001001", state="rectified", rectify_by=beijing(2026, 12, 1))  # open
    closed(db, "420107001001", beijing(2026, 10, 20, 9))  # before the first week
    db.commit()
    district = principal(db, "district")
    points = trends.on_time_series(db, district, trends.buckets(SINCE, NOW, "week", BEIJING))
    assert [(p.bucket.key, p.closed, p.on_time) for p in points] == [
        ("2026-11-02", 1, 1),
        ("2026-11-09", 0, 0),
        ("2026-11-16", 0, 0),
        ("2026-11-23", 1, 1),
        ("2026-11-30", 3, 1),
    ]
    assert [p.rate for p in points] == [1.0, None, None, 1.0, pytest.approx(1 / 3)]
    # A street dispatcher of 红卫路街道 (420107001) sees its own street's only.
    street = principal(db, "dispatcher")
    points = trends.on_time_series(db, street, trends.buckets(SINCE, NOW, "week", BEIJING))
    assert [(p.closed, p.on_time) for p in points] == [(1, 1), (0, 0), (0, 0), (1, 1), (2, 1)]


def test_open_by_tier_and_reported_by_category(db: Session) -> None:
    hazard(db, "420107001001", tier="street")
    hazard(db, "420107001002", tier="district", severity="major", category="gas")
    hazard(db, "420107002001", tier="district", category="gas", state="rectifying")
    hazard(db, "420107002001", tier="city", category="dust", severity="major")
    hazard(db, "420107001001", state="returned", category="electrical")  # not a hazard
    closed(db, "420107001001", beijing(2026, 11, 25, 9))  # closed: not open, but reported
    hazard(db, "420107001001", category="chemicals", reported_at=beijing(2026, 10, 1))  # earlier
    hazard(db, "420102001001", tier="district", category="molten_metal")  # 江岸区
    db.commit()
    district = principal(db, "district")
    tiers = {s.key: s.by_severity for s in trends.open_by_tier(db, district)}
    assert tiers == {
        "street": {"general": 2, "major": 0},
        "district": {"general": 1, "major": 1},
        "city": {"general": 0, "major": 1},
    }
    categories = trends.reported_by_category(db, district, SINCE)
    assert [(s.key, s.total, s.by_severity["major"]) for s in categories] == [
        ("fire", 2, 0),
        ("gas", 2, 1),
        ("dust", 1, 1),
    ]
    city = principal(db, "city")
    assert {s.key for s in trends.reported_by_category(db, city, SINCE)} == {
        "fire",
        "gas",
        "dust",
        "molten_metal",
    }


def test_columns_stand_for_the_rates_and_keep_the_newest_date() -> None:
    items = [
        charts.ColumnItem(i, f"11-{i:02d}", rate) for i, rate in enumerate((1.0, None, 0.0, 0.5))
    ]
    chart = charts.column_chart(items)
    full = chart.bottom - chart.top
    assert [c.height for c in chart.columns] == [full, 0.0, 1.0, full / 2]
    assert all(c.y + c.height == chart.bottom for c in chart.columns)
    assert all(c.x + c.width <= charts.WIDTH for c in chart.columns)
    assert all(c.axis for c in chart.columns)
    assert chart.percent_fits
    # Fourteen weeks do not leave room for every date: every other one, the newest kept.
    many = charts.column_chart([charts.ColumnItem(i, "11-02", 0.5) for i in range(14)])
    assert [bool(c.axis) for c in many.columns] == [i % 2 == 1 for i in range(14)]
    assert not many.percent_fits


def test_bars_are_stacked_and_scaled_to_the_longest() -> None:
    chart = charts.bar_chart([("a", [("general", 3), ("major", 1)]), ("b", [("general", 2)])])
    [a, b] = chart.rows
    assert [(s.x, s.width) for s in a.segments] == [(0, 240), (240, 80)]
    assert [(s.x, s.width) for s in b.segments] == [(0, 160)]
    assert b.bar_y - a.bar_y == charts.ROW
    assert chart.height == 2 * charts.ROW
    rates = charts.bar_chart([("x", [("rate", 0.25)])], top=1.0)
    assert rates.rows[0].segments[0].width == 80


def test_the_page_draws_the_databases_figures(client: TestClient[Any], db: Session) -> None:
    now = datetime.now(UTC)
    closed(db, "420107001001", now - timedelta(hours=3))
    closed(db, "420107002001", now - timedelta(hours=2), late=True)
    hazard(db, "420107001002", tier="district", severity="major", category="gas", reported_at=now)
    db.commit()
    sign_in(client, "district", DEMO_PASSWORD)
    page = client.get("/dashboard?days=30").text
    columns = re.findall(r'data-bucket="([\d-]+)" data-closed="(\d+)" data-on-time="(\d+)"', page)
    assert 4 <= len(columns) <= 6
    assert (sum(int(c) for _, c, _ in columns), sum(int(o) for _, _, o in columns)) == (2, 1)
    assert re.search(r'<g data-key="district" data-total="1" data-major="1">', page)
    assert re.search(r'<g data-key="gas" data-total="1" data-major="1">', page)
    assert 'role="img" aria-labelledby="trend-title trend-desc"' in page
    # The htmx answer for another period holds the charts too.
    fragment = client.get("/dashboard?days=7", headers={"HX-Request": "true"}).text
    assert fragment.count('data-chart="on-time-trend" data-step="day"') == 1
    assert len(re.findall(r"<g data-bucket=", fragment)) == 8


def test_the_risk_reports_charts_read_the_report() -> None:
    period = reports.Period("2026-11", beijing(2026, 11, 1), beijing(2026, 12, 1))
    a = reports.Row(1, "红卫路街道", planned=4, done=3)
    a.colours.update(red=1, blue=3)
    b = reports.Row(2, "冶金街道", planned=0, done=0)
    b.colours.update(yellow=2)
    total = reports.Row(0, "")
    for row in (a, b):
        total.add(row)
    drawn = report_charts.report_charts(reports.Report(period, [a, b], total))
    assert [(r.item.key, r.item.count) for r in drawn.colours.rows] == [
        ("red", 1),
        ("orange", 0),
        ("yellow", 2),
        ("blue", 3),
        ("none", 0),
    ]
    assert [r.segments[0].width for r in drawn.colours.rows] == [106.67, 0, 213.33, 320, 0]
    assert [r.segments[0].width for r in drawn.inspections.rows] == [240, 0]
