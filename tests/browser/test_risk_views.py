"""Risk views in a real browser: an inspector offline still sees the due inspections (from the
data synced onto the phone, ordered), and a district officer sees the risk map with coloured
enterprise markers drawn by Leaflet on a plain background, with no request to any tile host."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, LiveServer, screenshot
from tests.browser.test_shell import sign_in, wait_for_worker, wait_until_cached, watch_console

pytestmark = pytest.mark.browser

GRID = "420107001001"
# Three enterprises of the inspector's grid, due 20, 5 and -3 days ago (the last due in 3 days),
# placed so that nearest-first from HERE is the reverse of most-overdue-first.
HERE = (30.6000, 114.4000)
DUE = (
    ("浏览器待检甲", 20, 30.6300, 114.4000),
    ("浏览器待检乙", 5, 30.6100, 114.4000),
    ("浏览器待检丙", -3, 30.6005, 114.4000),
)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # how SQLite keeps UTC


def write(live_server: LiveServer, sql: str, *params: object) -> Any:
    with closing(sqlite3.connect(live_server.data_dir / "gridsafe.sqlite3", timeout=10)) as db:
        cursor = db.execute(sql, params)
        db.commit()
        return cursor.lastrowid


def profile(live_server: LiveServer, enterprise_id: int, colour: str, due: datetime | None) -> None:
    [(path,)] = live_server.query(
        "SELECT u.path FROM enterprise e JOIN unit u ON u.id = e.grid_id WHERE e.id = ?",
        enterprise_id,
    )
    now = _stamp(datetime.now(UTC))
    write(
        live_server,
        "INSERT INTO risk_profile (enterprise_id, unit_path, score, colour, factors,"
        " scoring_version, computed_at, colour_since, inspection_due_at)"
        " VALUES (?, ?, 60, ?, '[]', 1, ?, ?, ?) ON CONFLICT (enterprise_id) DO UPDATE SET"
        " colour = excluded.colour, inspection_due_at = excluded.inspection_due_at",
        enterprise_id,
        path,
        colour,
        now,
        now,
        None if due is None else _stamp(due),
    )


@pytest.fixture(scope="module")
def due_plan(live_server: LiveServer) -> list[int]:
    """The grid's own enterprises are not due; ours are. Written before any phone syncs."""
    [(grid_id,)] = live_server.query("SELECT id FROM unit WHERE code = ?", GRID)
    for (enterprise_id,) in live_server.query(
        "SELECT id FROM enterprise WHERE grid_id = ?", grid_id
    ):
        profile(live_server, int(enterprise_id), "blue", datetime.now(UTC) + timedelta(days=300))
    now = datetime.now(UTC)
    ids = []
    for number, (name, days_ago, lat, lng) in enumerate(DUE):
        enterprise_id = write(
            live_server,
            "INSERT INTO enterprise (name, credit_code, industry, address, latitude, longitude,"
            " grid_id, contact_name, contact_phone, active, created_at, updated_at)"
            " VALUES (?, ?, 'other', '', ?, ?, ?, '', '', 1, ?, ?)",
            name,
            f"91420107BROWSER{number:03d}",
            lat,
            lng,
            grid_id,
            _stamp(now),
            _stamp(now),
        )
        profile(
            live_server,
            int(enterprise_id),
            ("red", "orange", "yellow")[number],
            now - timedelta(days=days_ago),
        )
        ids.append(int(enterprise_id))
    return ids


def listed(page: Any) -> list[int]:
    return [
        int(value)
        for value in page.locator("[data-due-items] li[data-enterprise-id]").evaluate_all(
            "(items) => items.map((li) => li.dataset.enterpriseId)"
        )
    ]


def wait_until_synced(page: Any, ids: list[int]) -> None:
    found = page.evaluate(
        """async (ids) => {
            const deadline = Date.now() + 10000;
            while (Date.now() < deadline) {
                const items = await GridSafeOutbox.cached("enterprise");
                const due = items.filter((item) => ids.includes(item.id) && item.inspection_due_at);
                if (due.length === ids.length) return true;
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
            return false;
        }""",
        ids,
    )
    assert found, "the due enterprises never reached the phone"


def test_offline_an_inspector_sees_the_due_inspections_in_order(
    browser: Any, live_server: LiveServer, due_plan: list[int]
) -> None:
    context = browser.new_context(**PHONE, locale="zh-CN", base_url=live_server.url)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        errors = watch_console(page)
        page.goto("/signin")
        sign_in(page, "inspector")
        wait_for_worker(page)
        wait_until_cached(page, "/inspections/due")
        wait_until_synced(page, due_plan)
        most_overdue_first = due_plan  # due 20, 5 and -3 days ago
        # The home page says what is due and links to the list.
        expect(page.locator("#due-summary [data-due-count]")).to_have_text("3")

        page.goto("/inspections/due")
        assert listed(page) == most_overdue_first
        expect(page.locator("[data-due-items]")).to_have_attribute("data-source", "server")

        context.set_offline(True)
        page.reload()
        items = page.locator("[data-due-items]")
        expect(items).to_have_attribute("data-source", "device")
        assert listed(page) == most_overdue_first
        first = items.locator("li").first
        expect(first).to_contain_text("浏览器待检甲")
        expect(first).to_contain_text("逾期 20 天")
        expect(items.locator("li").last).to_contain_text("3 天后到期")
        expect(first.locator(".risk-badge.risk-red")).to_be_visible()
        expect(page.locator("[data-due-order]")).to_have_attribute("data-due-order", "overdue")
        screenshot(page, "due-offline-overdue")

        # The phone learns where it is: nearest first, with the distance.
        context.grant_permissions(["geolocation"])
        context.set_geolocation({"latitude": HERE[0], "longitude": HERE[1]})
        page.reload()
        expect(page.locator("[data-due-order]")).to_have_attribute("data-due-order", "distance")
        expect(items).to_have_attribute("data-source", "device")
        assert listed(page) == list(reversed(most_overdue_first))
        expect(items.locator("li").first.locator("[data-distance]")).to_have_text("距离 56 米")
        screenshot(page, "due-offline-nearest")
        context.set_offline(False)
        assert errors == []
    finally:
        context.close()


@pytest.fixture
def desk(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="zh-CN", base_url=live_server.url
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()


def test_a_district_officer_sees_the_map_with_coloured_enterprises(
    desk: Any, live_server: LiveServer
) -> None:
    [(red_id,)] = live_server.query(
        "SELECT e.id FROM enterprise e JOIN unit u ON u.id = e.grid_id"
        " WHERE u.path LIKE '/420100/420107/420107002/%' AND e.latitude IS NOT NULL"
        " ORDER BY e.id LIMIT 1"
    )
    profile(live_server, int(red_id), "red", None)
    page = desk.new_page()
    errors = watch_console(page)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/signin")
    sign_in(page, "district")
    page.goto("/map")
    box = page.locator("[data-risk-map]")
    expect(box).to_have_attribute("data-loaded", "true")
    assert "no-tiles" in (box.get_attribute("class") or "")
    red = page.locator("path.risk-marker.risk-red")
    expect(red.first).to_be_attached()
    assert red.first.get_attribute("fill") == "#d32f2f"
    # Every marker carries its colour as a class and as its fill.
    fills = page.locator("path.risk-marker").evaluate_all(
        "(paths) => paths.map((p) => [p.getAttribute('class'), p.getAttribute('fill')])"
    )
    palette = {"red": "#d32f2f", "orange": "#f57c00", "yellow": "#fbc02d", "blue": "#1e88e5"}
    for classes, fill in fills:
        colour = next(
            c[5:] for c in classes.split() if c.startswith("risk-") and c != "risk-marker"
        )
        assert palette.get(colour, "#9e9e9e") == fill
    assert page.locator("path.map-unit").count() > 0  # grid boundaries
    assert page.locator("img.leaflet-tile").count() == 0
    # A marker's popup leads to the enterprise and to its risk page.
    [(count,)] = live_server.query(
        "SELECT COUNT(*) FROM enterprise e JOIN unit u ON u.id = e.grid_id"
        " WHERE u.path LIKE '/420100/420107/%' AND e.active AND e.latitude IS NOT NULL"
    )
    assert page.locator("path.risk-marker").count() == count
    page.evaluate(
        """(id) => {
            const path = [...document.querySelectorAll('path.risk-red')][0];
            path.dispatchEvent(new MouseEvent('click', { bubbles: true }));
        }""",
        red_id,
    )
    popup = page.locator(".leaflet-popup-content")
    expect(popup.locator('a[href$="/risk"]')).to_be_visible()
    screenshot(page, "risk-map-district")
    assert errors == []

    # Offline, the kept page draws the data it last loaded (and still asks no tile host).
    wait_for_worker(page)
    wait_until_cached(page, "/map")
    desk.set_offline(True)
    page.reload()
    expect(box).to_have_attribute("data-drawn-from", "kept")
    expect(page.locator("path.risk-marker.risk-red").first).to_be_attached()
    assert page.locator("path.map-unit").count() > 0
    screenshot(page, "risk-map-offline")
    desk.set_offline(False)
    errors.clear()  # Chromium logs the failed fetches while offline

    # The colour filter redraws in place.
    page.select_option("select[name=colour]", "red")
    expect(box).to_have_attribute("data-loaded", "true")
    page.wait_for_function(
        "() => document.querySelectorAll('path.risk-marker:not(.risk-red)').length === 0"
    )
    assert page.locator("path.risk-marker.risk-red").count() >= 1
    assert all(url.startswith(live_server.url) for url in requested), [
        url for url in requested if not url.startswith(live_server.url)
    ]
    assert errors == []
