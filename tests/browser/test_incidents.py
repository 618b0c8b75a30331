"""A contingency plan on real browsers: a district commander reports a chemical leak, reviews the
proposed plan (radius, protection targets, people) and confirms it; the street responder's inbox
shows the task at once, the responder accepts it, and the commander's board shows who has it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_loop import new_context
from tests.browser.test_shell import sign_in, watch_console

pytestmark = pytest.mark.browser


def test_a_commander_confirms_a_plan_and_the_responder_gets_the_task(
    browser: Any, phone: Any, live_server: LiveServer
) -> None:
    desk_context = new_context(browser, live_server)
    try:
        desk = desk_context.new_page()
        desk_errors = watch_console(desk)
        desk.goto("/signin?next=/incidents")
        sign_in(desk, "district")
        desk.goto("/incidents")
        form = desk.locator("#incident-form")
        form.locator("select[name=incident_type]").select_option("chemical_leak")
        form.locator("select[name=unit_id]").select_option(label="红卫路街道")
        form.locator("input[name=latitude]").fill("30.6330")
        form.locator("input[name=longitude]").fill("114.3790")
        form.locator("textarea[name=description]").fill("储罐阀门泄漏，有刺激性气味")
        form.locator("button[type=submit]").click()
        desk.wait_for_url("**/incidents/*")
        incident_id = desk.url.rsplit("/", 1)[1]

        # The proposal: the plan, the protection targets inside 800 m, the drafted tasks.
        expect(desk.locator("[data-incident-state]")).to_have_attribute(
            "data-incident-state", "draft"
        )
        expect(desk.locator("#proposed-plans")).to_contain_text("危化品泄漏事故处置预案")
        expect(desk.locator("#targets")).to_contain_text("武汉市第九医院")
        expect(desk.locator(".draft-task")).to_have_count(4)
        screenshot(desk, "incident-draft")
        assert live_server.query(
            "SELECT count(*) FROM task WHERE incident_id = ?", incident_id
        ) == [(0,)]

        desk.locator("[data-confirm-incident]").click()
        expect(desk.locator("#board-tasks")).to_be_visible()
        expect(desk.locator("[data-incident-state]")).to_have_attribute(
            "data-incident-state", "confirmed"
        )
        [(team_task,)] = live_server.query(
            "SELECT id FROM incident_task WHERE incident_id = ? AND role_title = ?",
            incident_id,
            "街道应急处置队",
        )

        # The responder's phone: the task is in the inbox with nothing but the page itself.
        page = phone.new_page()
        errors = watch_console(page)
        page.goto("/signin?next=/tasks")
        sign_in(page, "responder")
        page.goto("/tasks")
        item = page.locator(f"[data-task-id='{team_task}']")
        expect(item).to_have_attribute("data-task-state", "offered")
        expect(item).to_contain_text("核查半径内学校和医院")
        screenshot(page, "incident-task-in-inbox")
        item.locator(f"[data-accept='{team_task}']").click()
        page.wait_for_url(f"**/tasks/{team_task}")
        expect(page.locator("[data-task-state]").first).to_have_attribute(
            "data-task-state", "accepted"
        )
        responder_id = live_server.query("SELECT id FROM app_user WHERE username = 'responder'")[0][
            0
        ]
        assert live_server.query("SELECT state, accepted_by FROM task WHERE id = ?", team_task) == [
            ("accepted", responder_id)
        ]

        # The commander's board, kept fresh by htmx, shows it accepted.
        row = desk.locator(f"#board-tasks [data-task-id='{team_task}']")
        expect(row).to_have_attribute("data-task-state", "accepted", timeout=20_000)
        screenshot(desk, "incident-board")
        assert errors == []
        assert desk_errors == []
    finally:
        desk_context.close()
