"""Escalation in the browser: a district officer finds an item that climbed from a street, sees
why, and reassigns it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from backend.db import make_engine, make_session_factory
from backend.escalation.services import sweep
from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_loop import new_context, report_as
from tests.browser.test_outbox import inspector_scope
from tests.browser.test_shell import sign_in, watch_console

pytestmark = pytest.mark.browser


def test_the_district_reassigns_what_escalated(browser: Any, live_server: LiveServer) -> None:
    enterprise_id, _ = inspector_scope(live_server)
    desk_context = new_context(browser, live_server)
    district_context = new_context(browser, live_server)
    try:
        desk = desk_context.new_page()
        desk.goto("/signin")
        sign_in(desk, "dispatcher")
        hazard_id = report_as(desk_context, desk, enterprise_id)
        desk.goto(f"/hazards/{hazard_id}")
        [(responder_id,)] = live_server.query(
            "SELECT id FROM app_user WHERE username = 'responder'"
        )
        form = desk.locator("[data-assign-form]")
        form.locator(f"input[name=people][value='{responder_id}']").check()
        form.locator("button[type=submit]").click()
        expect(desk.locator("[data-open-task]")).to_have_attribute("data-task-state", "offered")

        # Nobody accepts it: the beat job's sweep, some hours later, moves it up to the district.
        [(accept_by,)] = live_server.query(
            "SELECT accept_by FROM task WHERE hazard_id = ? AND state = 'offered'", hazard_id
        )
        deadline = datetime.fromisoformat(accept_by)
        later = (deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)) + timedelta(
            minutes=1
        )
        engine = make_engine(f"sqlite:///{live_server.data_dir / 'gridsafe.sqlite3'}")
        with make_session_factory(engine)() as session:
            assert sweep(session, later).escalated >= 1
            session.commit()
        engine.dispose()

        page = district_context.new_page()
        errors = watch_console(page)
        page.goto("/signin?next=/dispatch")
        sign_in(page, "district")
        row = page.locator(f"[data-hazard-id='{hazard_id}']")
        expect(row.locator("[data-tier-badge]")).to_have_text("区级")
        row.locator("a").first.click()
        section = page.locator("#escalation")
        expect(section).to_have_attribute("data-tier", "district")
        expect(section.locator("[data-escalation-reason]")).to_contain_text("超时未接收")
        screenshot(page, "district-sees-escalated")

        # Reassigned to the grid's inspector, with a new deadline (a deliberate step: the task
        # still out is withdrawn).
        [(inspector_id,)] = live_server.query(
            "SELECT id FROM app_user WHERE username = 'inspector'"
        )
        page.locator("[data-reassign] summary").click()
        form = page.locator("[data-assign-form]")
        form.locator(f"input[name=people][value='{inspector_id}']").check()
        form.locator("button[type=submit]").click()
        # The page reloads with the new task; the old one is withdrawn.
        inspector_name = live_server.query(
            "SELECT display_name FROM app_user WHERE id = ?", inspector_id
        )[0][0]
        expect(page.locator("[data-open-task]")).to_contain_text(inspector_name)
        offered = live_server.query(
            "SELECT task_offer.user_id FROM task JOIN task_offer ON task_offer.task_id = task.id"
            " WHERE task.hazard_id = ? AND task.state = 'offered'",
            hazard_id,
        )
        assert offered == [(inspector_id,)]
        assert errors == []
    finally:
        desk_context.close()
        district_context.close()
