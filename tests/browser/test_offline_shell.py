"""No dead ends offline: a phone that signed in and then lost its network still reaches the report
form, the scanner, the outbox and its tasks from any page, the offline page included, because
those pages (and the files they load) are kept at sign-in, not on first visit."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from backend.pwa import OFFLINE_PAGES
from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_scan import wait_until_kept
from tests.browser.test_shell import (
    INSPECTOR,
    assert_fits_phone,
    sign_in,
    wait_for_worker,
    wait_until_cached,
    watch_console,
)

pytestmark = pytest.mark.browser

# No page asks the worker to keep the offline pages: whatever is kept, sign-in kept.
PAGES_NEVER_ASK = """
(() => {
    const post = ServiceWorker.prototype.postMessage;
    ServiceWorker.prototype.postMessage = function (message, ...rest) {
        if (message && message.type === "keep-offline-pages") return undefined;
        return post.call(this, message, ...rest);
    };
})();
"""
OFFLINE_NOISE = ("net::ERR_INTERNET_DISCONNECTED", "htmx:sendError", "outbox")


def signed_in_then_offline(phone: Any) -> tuple[Any, list[str]]:
    """The inspector signs in on a fresh phone whose worker controls the sign-in page; the
    network drops on the home page, once sign-in has had its chance to keep pages."""
    phone.add_init_script(PAGES_NEVER_ASK)
    page = phone.new_page()
    errors = watch_console(page)
    page.goto("/signin")
    wait_for_worker(page)
    sign_in(page, "inspector")
    expect(page.locator("h1")).to_have_text(f"您好，{INSPECTOR}")
    for path in ("/hazards/new", "/scan", "/outbox", "/tasks"):
        wait_until_cached(page, path)
    # The scanner reads codes with a decoder that only /scan loads: kept with it.
    wait_until_kept(page, "jsQR")
    phone.set_offline(True)
    return page, errors


def test_the_pages_the_field_needs_are_kept_at_sign_in(phone: Any) -> None:
    page, errors = signed_in_then_offline(phone)
    assert {"/hazards/new", "/scan", "/outbox", "/tasks"} <= set(OFFLINE_PAGES)

    # Offline on home, the person taps the hazard list, never opened: the offline page.
    page.goto("/hazards")
    offline = page.locator("[data-offline-page]")
    expect(offline).to_be_visible()
    screenshot(page, "offline-ways")
    assert_fits_phone(page)

    # Its ways on lead to the report form, the scanner, the outbox and the tasks.
    offline.get_by_role("link", name="上报隐患").click()
    expect(page.locator('form[data-outbox="hazard.report"]')).to_be_visible()
    expect(page.locator("select[name=enterprise_id] option")).not_to_have_count(0)

    page.goto("/hazards?state=open")
    page.locator("[data-offline-page]").get_by_role("link", name="扫码签到").click()
    expect(page.locator("#scanner h1")).to_have_text("扫码")
    assert page.evaluate("() => typeof window.jsQR") == "function"

    page.goto("/hazards?state=closed")
    page.locator("[data-offline-page]").get_by_role("link", name="待发送").click()
    expect(page.locator("[data-outbox-list]")).to_be_visible()

    page.goto("/enterprises?page=3")
    page.locator("[data-offline-page]").get_by_role("link", name="任务").click()
    page.wait_for_url("**/tasks")
    expect(page.locator("[data-offline-page]")).to_have_count(0)
    expect(page.locator("main h1")).to_have_text("我的任务")

    # From a kept page, the bar and the top bar lead on too: home → report, tasks → scan.
    page.goto("/")
    page.locator("[data-home-action=report]").click()
    expect(page.locator('form[data-outbox="hazard.report"]')).to_be_visible()
    page.locator(".tabs [data-nav=scan]").click()
    expect(page.locator("#scanner")).to_be_visible()
    page.locator(".topbar .outbox-link").click()
    expect(page.locator("[data-outbox-list]")).to_be_visible()
    page.locator(".tabs [data-nav=tasks]").click()
    expect(page.locator("main h1")).to_have_text("我的任务")

    phone.set_offline(False)
    assert [e for e in errors if not any(noise in e for noise in OFFLINE_NOISE)] == []


def test_the_offline_page_offers_only_what_opens_here(phone: Any, live_server: LiveServer) -> None:
    """Signed out, nothing of anyone's is kept: the offline page leads home only."""
    page = phone.new_page()
    page.goto("/signin")
    wait_for_worker(page)
    phone.set_offline(True)
    page.goto("/hazards")
    offline = page.locator("[data-offline-page]")
    expect(offline).to_be_visible()
    expect(offline.get_by_role("link", name="首页 · Home", exact=True)).to_be_visible()
    for path in ("/hazards/new", "/scan", "/outbox", "/tasks"):
        expect(offline.locator(f"a[href='{path}']")).to_have_count(1)
        expect(offline.locator(f"a[href='{path}']")).to_be_hidden()
    phone.set_offline(False)
