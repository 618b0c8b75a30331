"""A targeted warning on real browsers: the district officer sees the reach before sending, the
inspector's phone acknowledges it with no network, and the acknowledgement arrives once when the
network is back; the sender's page counts it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, LiveServer, screenshot
from tests.browser.test_outbox import settle
from tests.browser.test_shell import sign_in, wait_for_worker, watch_console

pytestmark = pytest.mark.browser


def test_compose_preview_send_and_acknowledge_offline(
    browser: Any, phone: Any, live_server: LiveServer
) -> None:
    desk_context = browser.new_context(locale="zh-CN", base_url=live_server.url)
    desk_context.set_default_timeout(10_000)
    try:
        desk = desk_context.new_page()
        desk.goto("/signin?next=/warnings/new")
        sign_in(desk, "district")
        desk.fill("input[name=title]", "粉尘涉爆企业高温预警")
        desk.check("input[name=level][value=orange]")
        desk.fill("textarea[name=body]", "未来三天高温，请加强除尘系统检查。")
        # Beijing wall-clock time, as the form shows it.
        until = datetime.now(UTC) + timedelta(hours=32)
        desk.fill("input[name=valid_until]", until.strftime("%Y-%m-%dT%H:%M"))
        desk.check("input[name=roles][value=grid_inspector]")
        inspectors = live_server.query(
            "SELECT count(*) FROM app_user JOIN unit ON unit.id = app_user.unit_id"
            " WHERE role = 'grid_inspector' AND app_user.active AND unit.path LIKE '/420100/420107/%'"
        )[0][0]
        reach = desk.locator("[data-reach-people]")
        expect(reach).to_have_attribute("data-reach-people", str(inspectors))
        desk.click("#warning-form button.primary")
        desk.wait_for_url(lambda url: "/warnings/" in url and "/new" not in url)
        warning_id = desk.url.rsplit("/", 1)[1]
        expect(desk.locator("[data-acknowledged-total]")).to_have_attribute(
            "data-acknowledged-total", "0"
        )

        page = phone.new_page()
        errors = watch_console(page)
        page.goto("/signin?next=/warnings")
        sign_in(page, "inspector")
        wait_for_worker(page)
        page.goto("/warnings")
        item = page.locator(f"[data-warning-id='{warning_id}']")
        expect(item).to_have_attribute("data-acknowledged", "no")
        settle(page)

        phone.set_offline(True)
        item.locator("[data-ack]").click()
        expect(item.locator("[data-kept-offline='warning.ack']")).to_be_visible()
        queued = page.evaluate("() => GridSafeOutbox.list()")
        assert [(q["name"], q["args"]["warning_id"]) for q in queued] == [
            ("warning.ack", warning_id)
        ]
        acknowledged = "SELECT ack_via FROM warning_recipient WHERE warning_id = ? AND acknowledged_at IS NOT NULL"
        assert live_server.query(acknowledged, warning_id) == []
        screenshot(page, "warning-acknowledged-offline")

        phone.set_offline(False)
        page.evaluate("() => GridSafeOutbox.sync()")
        page.wait_for_function(
            "async () => (await GridSafeOutbox.list()).every((item) => item.state === 'done')"
        )
        assert live_server.query(acknowledged, warning_id) == [("offline",)]

        # The sender's page counts it (it asks again every 10 s; a reload is the same answer).
        desk.reload()
        expect(desk.locator("[data-acknowledged-total]")).to_have_attribute(
            "data-acknowledged-total", "1"
        )
        # htmx and Chromium report the request that could not leave the phone; nothing else.
        offline = ("htmx:sendError", "htmx:afterRequest", "net::ERR_INTERNET_DISCONNECTED")
        assert [e for e in errors if not any(mark in e for mark in offline)] == []
    finally:
        desk_context.close()


def test_phone_layout_has_the_warnings_tab(phone: Any) -> None:
    page = phone.new_page()
    page.set_viewport_size(PHONE["viewport"])
    page.goto("/signin?next=/warnings")
    sign_in(page, "inspector")
    expect(page.locator("nav a[href='/warnings']")).to_have_attribute("aria-current", "page")
