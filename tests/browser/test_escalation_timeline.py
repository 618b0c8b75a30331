"""The escalation timeline names the tier an item reached: "escalated automatically to the
district", not just "escalated automatically"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from backend.escalation.services import sweep
from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_loop import new_context
from tests.browser.test_outbox import inspector_scope
from tests.browser.test_severity import report, server_database
from tests.browser.test_shell import sign_in, watch_console

pytestmark = pytest.mark.browser


def test_the_timeline_names_the_tier_reached(browser: Any, live_server: LiveServer) -> None:
    enterprise_id, _ = inspector_scope(live_server)
    desk_context = new_context(browser, live_server)
    district_context = new_context(browser, live_server)
    try:
        desk = desk_context.new_page()
        desk.goto("/signin")
        sign_in(desk, "dispatcher")
        hazard_id = report(desk_context, desk, enterprise_id, "general")
        desk.goto(f"/hazards/{hazard_id}")
        [(responder_id,)] = live_server.query(
            "SELECT id FROM app_user WHERE username = 'responder'"
        )
        form = desk.locator("[data-assign-form]")
        form.locator(f"input[name=people][value='{responder_id}']").check()
        form.locator("button[type=submit]").click()
        expect(desk.locator("[data-open-task]")).to_have_attribute("data-task-state", "offered")

        # Nobody accepts it in time: the sweep moves it up to the district.
        [(accept_by,)] = live_server.query(
            "SELECT accept_by FROM task WHERE hazard_id = ? AND state = 'offered'", hazard_id
        )
        deadline = datetime.fromisoformat(accept_by)
        later = (deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)) + timedelta(
            minutes=1
        )
        with server_database(live_server) as session:
            assert sweep(session, later).escalated >= 1
        assert live_server.query(
            "SELECT json_extract(data, '$.to_tier') FROM event"
            " WHERE entity_id = ? AND action = 'hazard.escalated'",
            hazard_id,
        ) == [("district",)]

        page = district_context.new_page()
        errors = watch_console(page)
        page.goto(f"/signin?next=/hazards/{hazard_id}")
        sign_in(page, "district")
        expect(page.locator("#escalation [data-escalation-reason]")).to_contain_text(
            "自动升级至区级"
        )
        expect(page.locator("[data-latest-event]")).to_contain_text("自动升级至区级")
        page.locator("[data-history] summary").click()
        step = page.locator("[data-history] li[data-event='hazard.escalated']")
        expect(step).to_be_visible()
        expect(step).to_contain_text("自动升级至区级")
        expect(step).to_contain_text("超时未接收")
        screenshot(page, "escalation-timeline-names-the-tier")
        assert errors == []
    finally:
        desk_context.close()
        district_context.close()
