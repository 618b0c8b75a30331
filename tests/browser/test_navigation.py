"""Getting around on a 360 px phone, in both languages and every role: a bottom bar whose places
all fit, unclipped, with "more" for the rest; the outbox and its count always in sight; home's
big "report a hazard" and "scan" for the people on site."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from backend.demo.seed import DEMO_PASSWORD
from tests.browser.conftest import PHONE, LiveServer, screenshot
from tests.browser.test_shell import assert_fits_phone, wait_for_worker, wait_until_cached

pytestmark = pytest.mark.browser

# What a thumb reaches without opening "more", per role: the places each uses all day.
BAR = {
    "inspector": ["/", "/hazards/new", "/scan", "/tasks"],
    "responder": ["/", "/tasks", "/scan", "/hazards/new"],
    "enterprise": ["/", "/hazards/new", "/scan", "/tasks"],
    "dispatcher": ["/", "/dispatch", "/hazards", "/dashboard"],
    "district": ["/", "/dispatch", "/dashboard", "/hazards"],
    "city": ["/", "/dashboard", "/hazards", "/warnings"],
    "admin": ["/", "/admin", "/enterprises", "/codes"],
}
# Places every role has somewhere in the bar or under "more".
EVERYONE = {"/", "/hazards", "/hazards/new", "/scan", "/notifications", "/warnings"}
MORE_LABEL = {"zh-CN": "更多", "en-US": "More"}

# Each label in a bar cell: on screen, a thumb's size, and no word wider than its cell (a word
# broken or cut, "Tas…", fails).
CELLS = """(selector) => [...document.querySelectorAll(selector)].map((el) => {
    const box = el.getBoundingClientRect();
    const style = el.style.overflowWrap;
    el.style.overflowWrap = "normal";
    const wordFits = el.scrollWidth <= el.clientWidth;
    el.style.overflowWrap = style;
    return {
        text: el.textContent.trim(), href: el.getAttribute("href"),
        left: box.left, right: box.right, width: box.width, height: box.height,
        visible: el.offsetParent !== null, wordFits,
    };
})"""


def signed_in(browser: Any, live_server: LiveServer, username: str, locale: str) -> Any:
    context = browser.new_context(**PHONE, locale=locale, base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/signin")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("#signin-form button[type=submit]")
    page.wait_for_url(lambda url: "/signin" not in url)
    # The account's stored language beats the browser's (an earlier test may have stored one):
    # choose it with the switch, as a person would.
    choose_language(page, locale)
    return page


def choose_language(page: Any, locale: str) -> None:
    english = locale.startswith("en")
    page.locator(".footer").get_by_role("button", name="English" if english else "中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "en" if english else "zh-CN")


def assert_cells_fit(cells: list[dict[str, Any]], where: str) -> None:
    for cell in cells:
        assert cell["visible"], f"{where}: {cell['text']} is not shown"
        assert cell["left"] >= 0, (where, cell)
        assert cell["right"] <= PHONE["viewport"]["width"], (where, cell)
        assert cell["height"] >= 44, (where, cell)
        assert cell["width"] >= 44, (where, cell)
        assert cell["wordFits"], f"{where}: {cell['text']!r} is cut or broken"


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
@pytest.mark.parametrize("username", list(BAR))
def test_the_navigation_fits_a_phone(
    browser: Any, live_server: LiveServer, username: str, locale: str
) -> None:
    page = signed_in(browser, live_server, username, locale)
    try:
        nav = page.locator("nav.tabs")
        expect(nav).to_be_visible()
        assert nav.evaluate("(el) => el.scrollWidth <= el.clientWidth"), "the bar scrolls sideways"
        # The bar stays at the bottom of the screen, in reach of a thumb.
        box = nav.bounding_box()
        assert box is not None
        assert abs(box["y"] + box["height"] - PHONE["viewport"]["height"]) <= 1, box

        bar = page.evaluate(CELLS, "nav.tabs > a, nav.tabs summary")
        assert [cell["href"] for cell in bar] == [*BAR[username], None]
        assert bar[-1]["text"].startswith(MORE_LABEL[locale])
        assert_cells_fit(bar, f"{username} bar ({locale})")
        assert_cells_fit(page.evaluate(CELLS, ".topbar .outbox-link"), "outbox")

        # "More" opens over the page and holds the rest, each a thumb's size.
        more = page.locator("nav.tabs summary")
        more.click()
        menu = page.locator(".more-menu")
        expect(menu).to_be_visible()
        rest = page.evaluate(CELLS, ".more-menu a")
        assert_cells_fit(rest, f"{username} more ({locale})")
        reachable = {cell["href"] for cell in bar + rest}
        assert reachable >= EVERYONE
        assert len(reachable - {None}) == len(bar) - 1 + len(rest), "a place is listed twice"
        screenshot(page, f"nav-{username}-{locale}")
        assert_fits_phone(page)

        # A tap elsewhere closes it; a place under "more" marks "more" as where one is.
        page.locator("main h1").click()
        expect(menu).to_be_hidden()
        more.click()
        menu.locator("a[href='/notifications']").click()
        page.wait_for_url("**/notifications")
        expect(page.locator(".more-menu a[href='/notifications']")).to_have_attribute(
            "aria-current", "page"
        )
        expect(page.locator("nav.tabs summary")).to_have_class("current")
    finally:
        page.context.close()
        live_server.forget_language(username)


def test_the_outbox_and_its_count_are_always_in_sight(phone: Any) -> None:
    phone.grant_permissions(["geolocation"])
    page = phone.new_page()
    page.goto("/signin")
    page.fill("input[name=username]", "inspector")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("#signin-form button[type=submit]")
    page.wait_for_url(lambda url: "/signin" not in url)
    wait_for_worker(page)
    wait_until_cached(page, "/")
    wait_until_cached(page, "/outbox")
    badge = page.locator(".topbar .outbox-link [data-outbox-count]")
    expect(badge).to_be_hidden()

    phone.set_offline(True)
    page.evaluate(
        """async () => {
            for (const id of [1, 2]) await GridSafeOutbox.enqueue("warning.ack", { warning_id: id });
        }"""
    )
    page.reload()
    expect(badge).to_be_visible()
    expect(badge).to_have_text("2")
    assert_fits_phone(page)

    # On the outbox page itself, too.
    page.locator(".topbar .outbox-link").click()
    page.wait_for_url("**/outbox")
    expect(page.locator(".topbar .outbox-link")).to_have_attribute("aria-current", "page")
    expect(badge).to_be_visible()
    expect(badge).to_have_text("2")
    phone.set_offline(False)


@pytest.mark.parametrize(
    ("username", "scan_label"),
    [("inspector", "扫码签到"), ("responder", "扫码签到"), ("enterprise", "扫码自查")],
)
def test_home_has_big_report_and_scan_for_people_on_site(
    browser: Any, live_server: LiveServer, username: str, scan_label: str
) -> None:
    page = signed_in(browser, live_server, username, "zh-CN")
    try:
        report = page.locator("[data-home-action=report]")
        scan = page.locator("[data-home-action=scan]")
        expect(report).to_have_text("上报隐患")
        expect(scan).to_have_text(scan_label)
        for action in (report, scan):
            box = action.bounding_box()
            assert box is not None
            assert box["height"] >= 64, box
            assert box["width"] >= 140, box
            # Above the fold: seen without scrolling.
            assert box["y"] + box["height"] <= PHONE["viewport"]["height"] - 56, box
        report.click()
        expect(page.locator('form[data-outbox="hazard.report"]')).to_be_visible()
        page.go_back()
        scan.click()
        page.wait_for_url("**/scan")
    finally:
        page.context.close()
        live_server.forget_language(username)


def test_office_roles_keep_home_for_their_own_work(browser: Any, live_server: LiveServer) -> None:
    page = signed_in(browser, live_server, "dispatcher", "zh-CN")
    try:
        expect(page.locator("h1")).to_be_visible()
        expect(page.locator("[data-home-actions]")).to_have_count(0)
    finally:
        page.context.close()
        live_server.forget_language("dispatcher")
