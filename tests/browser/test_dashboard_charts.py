"""The dashboard's charts on a 360 px phone: a district officer sees the on-time rate per week,
open hazards by tier and hazards by category as drawn bars, each bar's figures the database's
own for the district (and nothing of another district), with no sideways scrolling; and the
risk report draws the area's enterprises by risk colour and each street's inspections."""

from __future__ import annotations

import sqlite3
import uuid
from collections import Counter
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, LiveServer, screenshot
from tests.browser.test_shell import sign_in

pytestmark = pytest.mark.browser

ZONE = ZoneInfo("Asia/Shanghai")  # the server's default GRIDSAFE_TIMEZONE
DISTRICT = "420107"
# (grid, category, severity, state, tier, reported days ago, closed days ago, closed on time)
HAZARDS = (
    ("420107001001", "fire", "general", "assigned", "street", 3, None, None),
    ("420107001002", "fire", "major", "rectifying", "district", 5, None, None),
    ("420107002001", "electrical", "general", "rectified", "city", 6, None, None),
    ("420107001001", "gas", "general", "reported", "street", 45, None, None),
    ("420107001001", "chemicals", "general", "closed", "street", 12, 1, True),
    ("420107002001", "dust", "major", "closed", "district", 12, 1, False),
    ("420107001002", "fire", "general", "closed", "street", 20, 9, True),
    ("420107001001", "fire", "general", "returned", "street", 2, None, None),
    # Another district: in none of the figures.
    ("420102001001", "molten_metal", "major", "assigned", "district", 2, None, None),
)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # how SQLite keeps UTC


def _moment(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def hazards(live_server: LiveServer) -> None:
    now = datetime.now(UTC)
    [(reporter,)] = live_server.query("SELECT id FROM app_user WHERE username = 'inspector'")
    with closing(sqlite3.connect(live_server.data_dir / "gridsafe.sqlite3", timeout=10)) as db:
        for grid, category, severity, state, tier, reported, closed, on_time in HAZARDS:
            [(grid_id, path)] = db.execute(
                "SELECT id, path FROM unit WHERE code = ?", (grid,)
            ).fetchall()
            closed_at = None if closed is None else now - timedelta(days=closed)
            rectify_by = None
            if closed_at is not None:
                rectify_by = closed_at + timedelta(hours=1 if on_time else -1)
            db.execute(
                "INSERT INTO hazard (id, grid_id, unit_path, severity, category, description,"
                " state, reported_by, reported_at, received_at, synced_later, updated_at, tier,"
                " closed_at, rectify_by) VALUES (?, ?, ?, ?, ?, '看板图表', ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                (
                    str(uuid.uuid4()),
                    grid_id,
                    path,
                    severity,
                    category,
                    state,
                    reporter,
                    _stamp(now - timedelta(days=reported)),
                    _stamp(now),
                    _stamp(now),
                    tier,
                    None if closed_at is None else _stamp(closed_at),
                    None if rectify_by is None else _stamp(rectify_by),
                ),
            )
        db.commit()


def district_path(live_server: LiveServer) -> str:
    [(path,)] = live_server.query("SELECT path FROM unit WHERE code = ?", DISTRICT)
    return str(path)


def bars(page: Any, chart: str) -> dict[str, dict[str, str]]:
    """data-key → the bar's data attributes and the value written beside it."""
    return {
        row["key"]: row
        for row in page.locator(f'figure[data-chart="{chart}"] svg g[data-key]').evaluate_all(
            """(groups) => groups.map((g) => ({
                key: g.dataset.key, total: g.dataset.total, major: g.dataset.major,
                value: g.querySelector('[data-value]').textContent.trim(),
                label: g.querySelector('[data-label]').textContent.trim(),
                drawn: [...g.querySelectorAll('rect[data-severity]')]
                    .map((r) => r.dataset.severity + ':' + Math.round(r.getBBox().width)).join(' '),
            }))"""
        )
    }


def week_of(moment: datetime) -> str:
    local = moment.astimezone(ZONE).date()
    return (local - timedelta(days=local.weekday())).isoformat()


def test_a_district_officer_sees_the_trends_as_charts(
    browser: Any, live_server: LiveServer, hazards: None
) -> None:
    context = browser.new_context(**PHONE, locale="zh-CN", base_url=live_server.url)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto("/signin")
        sign_in(page, "district")
        page.goto("/dashboard?days=30")
        now = datetime.now(UTC)
        since = now - timedelta(days=30)
        path = district_path(live_server)

        # Open hazards by tier: three bars, the database's counts, the major part drawn apart.
        expected: Counter[tuple[str, str]] = Counter()
        for tier, severity, count in live_server.query(
            "SELECT tier, severity, count(*) FROM hazard WHERE unit_path LIKE ? || '%'"
            " AND state NOT IN ('closed', 'returned') GROUP BY tier, severity",
            path,
        ):
            expected[(tier, severity)] = count
        tiers = bars(page, "open-by-tier")
        assert list(tiers) == ["street", "district", "city"]
        for tier, row in tiers.items():
            general, major = expected[(tier, "general")], expected[(tier, "major")]
            assert (row["total"], row["major"]) == (str(general + major), str(major)), tier
            assert row["value"] == (f"{general + major}（重大 {major}）" if major else str(general))
            assert ("major:" in row["drawn"]) == bool(major), tier
        assert [tiers[t]["label"] for t in tiers] == ["街道", "区", "市"]
        assert int(tiers["district"]["major"]) >= 1  # ours; 江岸区's is not counted
        # Its bars are links, so it is a named group rather than an image that hides them.
        tier_chart = page.locator('figure[data-chart="open-by-tier"] svg[role=group]')
        expect(tier_chart).to_be_visible()
        assert tier_chart.locator("title").first.text_content()
        assert (
            page.locator(
                'figure[data-chart="open-by-tier"] svg a[href="/dispatch?tier=city"]'
            ).count()
            == 1
        )

        # Reported in the last 30 days by category, most first; sent-back reports left out.
        reported = {
            category: count
            for category, count in live_server.query(
                "SELECT category, count(*) FROM hazard WHERE unit_path LIKE ? || '%'"
                " AND state != 'returned' AND reported_at >= ? GROUP BY category",
                path,
                _stamp(since),
            )
        }
        categories = bars(page, "by-category")
        assert {key: int(row["total"]) for key, row in categories.items()} == reported
        totals = [int(row["total"]) for row in categories.values()]
        assert totals == sorted(totals, reverse=True)
        assert "gas" not in categories  # reported 45 days ago
        assert "molten_metal" not in categories  # another district
        assert categories["dust"]["label"] == "粉尘防爆"
        expect(
            page.locator('figure[data-chart="by-category"] [data-label]', has_text="消防安全")
        ).to_be_visible()

        # The on-time rate per week: a column per local calendar week (Monday first) from the
        # one the period began in, each with the database's closed and on-time counts and its
        # rate written over it.
        first, last = week_of(since), week_of(now)
        start = datetime.fromisoformat(first).replace(tzinfo=ZONE)
        weeks: dict[str, list[int]] = {}
        for closed_at, rectify_by in live_server.query(
            "SELECT closed_at, rectify_by FROM hazard WHERE unit_path LIKE ? || '%'"
            " AND state = 'closed' AND closed_at >= ?",
            path,
            _stamp(start),
        ):
            counts = weeks.setdefault(week_of(_moment(closed_at)), [0, 0])
            counts[0] += 1
            counts[1] += int(_moment(closed_at) <= _moment(rectify_by))
        columns = page.locator(
            'figure[data-chart="on-time-trend"] svg g[data-bucket]'
        ).evaluate_all(
            """(groups) => groups.map((g) => ({
                bucket: g.dataset.bucket, closed: +g.dataset.closed, onTime: +g.dataset.onTime,
                value: g.querySelector('[data-value]').textContent.trim(),
                bar: g.querySelector('rect') ? g.querySelector('rect').getBBox().height : 0,
            }))"""
        )
        days = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).days
        assert [c["bucket"] for c in columns] == [
            (datetime.fromisoformat(first) + timedelta(days=d)).date().isoformat()
            for d in range(0, days + 1, 7)
        ]
        for column in columns:
            closed, on_time = weeks.get(column["bucket"], [0, 0])
            assert (column["closed"], column["onTime"]) == (closed, on_time), column
            if closed:
                assert column["value"].rstrip("%") == f"{on_time / closed * 100:.0f}"
                assert column["bar"] >= 1
            else:
                assert column["value"] == "—"
                assert column["bar"] == 0
        assert weeks[week_of(now - timedelta(days=1))][0] >= 2  # ours, one on time, one late
        trend = page.locator('figure[data-chart="on-time-trend"] svg[role=img]')
        expect(trend).to_be_visible()
        assert "按期整改率" in (trend.locator("title").first.text_content() or "")
        assert page.locator('figure[data-chart="on-time-trend"] [data-axis]').count() >= 3

        # The district's streets, a bar each, linked to the closed hazards behind it.
        [(district_id,)] = live_server.query("SELECT id FROM unit WHERE code = ?", DISTRICT)
        streets = live_server.query(
            "SELECT count(*) FROM unit WHERE parent_id = ? AND active = 1", district_id
        )[0][0]
        unit_bars = page.locator('figure[data-chart="on-time-by-unit"] svg g[data-unit-id]')
        assert unit_bars.count() == streets

        # Nothing scrolls sideways, and every chart stays inside the screen.
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the dashboard scrolls sideways by {overflow} px"
        rights = page.locator("figure.chart > svg").evaluate_all(
            "(charts) => charts.map((svg) => svg.getBoundingClientRect().right)"
        )
        assert len(rights) == 4
        assert max(rights) <= 360
        screenshot(page, "dashboard-charts")
    finally:
        context.close()


def test_the_risk_report_draws_colours_and_inspections(
    browser: Any, live_server: LiveServer, hazards: None
) -> None:
    context = browser.new_context(**PHONE, locale="zh-CN", base_url=live_server.url)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto("/signin")
        sign_in(page, "district")
        page.goto("/reports/risk")
        path = district_path(live_server)
        expected = dict.fromkeys(("red", "orange", "yellow", "blue", "none"), 0)
        for colour, count in live_server.query(
            "SELECT coalesce(r.colour, 'none'), count(*) FROM enterprise e"
            " JOIN unit g ON g.id = e.grid_id LEFT JOIN risk_profile r ON r.enterprise_id = e.id"
            " WHERE e.active = 1 AND g.path LIKE ? || '%' GROUP BY 1",
            path,
        ):
            expected[colour] = count
        colours = bars(page, "risk-colours")
        assert list(colours) == list(expected)
        assert {key: int(row["total"]) for key, row in colours.items()} == expected
        assert all(row["value"] == str(expected[key]) for key, row in colours.items())
        assert colours["red"]["label"] == "红（重大风险）"
        assert sum(expected.values()) > 0
        # Each street's bar is the report table's own planned and done.
        table = page.locator("#report table tbody tr[data-unit-id]").evaluate_all(
            """(rows) => rows.map((tr) => {
                const cells = [...tr.cells].map((td) => td.textContent.trim());
                return [tr.dataset.unitId, cells.at(-4), cells.at(-3)];
            })"""
        )
        drawn = page.locator(
            'figure[data-chart="inspections-done"] svg g[data-unit-id]'
        ).evaluate_all(
            "(groups) => groups.map((g) => [g.dataset.unitId, g.dataset.planned, g.dataset.done])"
        )
        assert drawn == table
        assert len(drawn) >= 2
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the report scrolls sideways by {overflow} px"
        rights = page.locator("figure.chart svg[role=img]").evaluate_all(
            "(charts) => charts.map((svg) => svg.getBoundingClientRect().right)"
        )
        assert len(rights) == 2
        assert max(rights) <= 360
        screenshot(page, "risk-report-charts")
    finally:
        context.close()
