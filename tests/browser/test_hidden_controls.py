"""`hidden` hides, whatever a class says: on the notifications page a browser that blocks
notifications shows why, and no "开启推送" button under it that could never work."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from tests.browser.test_shell import sign_in, wait_for_worker

pytestmark = pytest.mark.browser

# As a browser whose person once said "block" to this site's notifications.
BLOCKED = 'Object.defineProperty(Notification, "permission", { get: () => "denied" });'


@pytest.mark.parametrize("username", ["inspector", "dispatcher"])
def test_blocked_notifications_show_no_enable_button(
    phone: Any, live_server: LiveServer, username: str
) -> None:
    phone.add_init_script(BLOCKED)
    page = phone.new_page()
    page.goto("/signin?next=/notifications")
    sign_in(page, username)
    wait_for_worker(page)
    control = page.locator("[data-push-control]")
    expect(control).to_have_attribute("data-push-state", "denied")
    expect(control.locator("[data-push-status]")).to_have_text(
        "浏览器已禁止本站的通知，请在浏览器设置中允许后再开启。"
    )
    button = control.locator("[data-push-toggle]")
    expect(button).to_have_attribute("hidden", "")
    expect(button).to_be_hidden()


def test_nothing_marked_hidden_is_shown_on_any_kind_of_element(
    phone: Any, live_server: LiveServer
) -> None:
    """The rule holds for every element a class gives a `display`: buttons, links styled as
    buttons, stacks, alerts."""
    page = phone.new_page()
    page.goto("/signin")
    sign_in(page, "inspector")
    shown = page.evaluate(
        """() => {
            const kinds = ['<button class="primary">', '<a class="button" href="/">', '<div class="stack">',
                '<div class="alert ok">', '<form class="inline">', '<ul class="counts">'];
            const made = kinds.map((html) => {
                const holder = document.createElement("div");
                holder.innerHTML = html;
                const element = holder.firstElementChild;
                element.textContent = "x";
                element.hidden = true;
                document.querySelector("main").append(element);
                return element;
            });
            return made.filter((el) => getComputedStyle(el).display !== "none").map((el) => el.outerHTML);
        }"""
    )
    assert shown == []
