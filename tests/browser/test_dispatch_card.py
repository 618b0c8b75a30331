"""The dispatcher's hazard card after assigning: it says the task went out and to whom, it stays
short on a phone, and reassigning takes a deliberate step instead of sitting one tap away."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, LiveServer, screenshot
from tests.browser.test_loop import new_context
from tests.browser.test_outbox import inspector_scope
from tests.browser.test_severity import report
from tests.browser.test_shell import sign_in, watch_console

pytestmark = pytest.mark.browser

SCREENS = 3  # at most this many phone screens, all sections as they open


def test_assigning_confirms_and_keeps_the_card_short(browser: Any, live_server: LiveServer) -> None:
    enterprise_id, _ = inspector_scope(live_server)
    context = new_context(browser, live_server)
    try:
        desk = context.new_page()
        errors = watch_console(desk)
        desk.goto("/signin")
        sign_in(desk, "dispatcher")
        hazard_id = report(context, desk, enterprise_id, "general")
        desk.goto(f"/hazards/{hazard_id}")
        [(responder_id, responder)] = live_server.query(
            "SELECT id, display_name FROM app_user WHERE username = 'responder'"
        )
        form = desk.locator("[data-assign-form]")
        expect(form).to_be_visible()  # nothing assigned yet: the form is the next step
        form.locator(f"input[name=people][value='{responder_id}']").check()
        form.locator("button[type=submit]").click()

        # A clear confirmation, naming who was asked.
        done = desk.locator("[data-assigned]")
        expect(done).to_be_visible()
        expect(done).to_have_attribute("role", "status")
        expect(done).to_contain_text(responder)
        expect(desk.locator("[data-open-task]")).to_have_attribute("data-task-state", "offered")
        assert live_server.query(
            "SELECT count(*) FROM task WHERE hazard_id = ? AND state = 'offered'", hazard_id
        ) == [(1,)]

        # No ready-to-submit form under the task: reassigning is behind its own step.
        expect(desk.locator("[data-assign-form]")).to_be_hidden()
        reassign = desk.locator("[data-reassign]")
        expect(reassign).to_be_visible()
        height = desk.evaluate("() => document.documentElement.scrollHeight")
        screenshot(desk, "dispatch-card-after-assigning")
        assert height <= SCREENS * PHONE["viewport"]["height"], height

        reassign.locator("summary").click()
        expect(desk.locator("[data-assign-form]")).to_be_visible()
        assert errors == []
    finally:
        context.close()
