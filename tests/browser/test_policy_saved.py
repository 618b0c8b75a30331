"""Saving an escalation policy on the phone: the table shows the new version at once, a
confirmation says so, and the form is ready again (not left faded)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_loop import new_context
from tests.browser.test_shell import sign_in, watch_console

pytestmark = pytest.mark.browser


def test_a_saved_policy_shows_at_once(browser: Any, live_server: LiveServer) -> None:
    context = new_context(browser, live_server)
    try:
        page = context.new_page()
        errors = watch_console(page)
        page.goto("/signin?next=/admin/policies")
        sign_in(page, "admin")
        # The category "other" with the city default's numbers: other tests' clocks stay as
        # they were.
        before = live_server.query(
            "SELECT coalesce(max(version), 0) FROM escalation_policy"
            " WHERE severity = 'general' AND category = 'other'"
        )[0][0]
        form = page.locator("#policy-form")
        form.locator("select[name=severity]").select_option("general")
        form.locator("select[name=category]").select_option("other")
        form.locator("input[name=accept_minutes]").fill("120")
        form.locator("input[name=rectify_hours]").fill("168")
        form.locator("input[name=renotify_minutes]").fill("240")
        form.locator("input[name=tiers]").fill("street,district,city")
        page.evaluate("() => { window.notReloaded = true; }")
        form.locator("button[type=submit]").click()

        saved = page.locator("[data-policy-saved]")
        expect(saved).to_be_visible()
        expect(saved).to_have_attribute("role", "status")
        expect(saved).to_contain_text(f"v{before + 1}")
        row = page.locator(
            "#active-policies tr[data-severity=general][data-category=other]"
            f"[data-version='{before + 1}']"
        )
        expect(row).to_be_visible()
        [(policy_id, active)] = live_server.query(
            "SELECT id, active FROM escalation_policy"
            " WHERE severity = 'general' AND category = 'other' AND version = ?",
            before + 1,
        )
        assert active == 1
        expect(row).to_have_attribute("id", f"policy-{policy_id}")
        # The form is usable again, not faded by a request that never finished.
        form = page.locator("#policy-form")
        expect(form).not_to_have_class("htmx-request")
        assert form.evaluate("element => getComputedStyle(element).opacity") == "1"
        assert page.evaluate("() => window.notReloaded === true")  # swapped, not reloaded
        screenshot(page, "policy-saved")
        assert errors == []
    finally:
        context.close()
