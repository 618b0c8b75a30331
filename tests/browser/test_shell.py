"""The PWA shell on a phone: sign-in, language switch, offline reload, manifest, page cache."""

from __future__ import annotations

import io
import json
import re
import time
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from backend.demo.seed import DEMO_PASSWORD
from backend.pwa import NETWORK_TIMEOUT_MS, PRECACHE
from tests.browser.conftest import LiveServer, screenshot

pytestmark = pytest.mark.browser

PAGES_CACHE = "gridsafe-pages"
INSPECTOR = "红卫路第1网格网格员"
INSPECTOR2 = "大智街道第1网格网格员"


# Chromium logs every 4xx answer as a console error; the tests check those statuses themselves.
HTTP_STATUS_LOG = "Failed to load resource: the server responded with a status of 4"


def watch_console(page: Any) -> list[str]:
    """Console errors and uncaught exceptions; a CSP violation shows up here too."""
    errors: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith(HTTP_STATUS_LOG):
            errors.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def sign_in(page: Any, username: str, password: str = DEMO_PASSWORD) -> None:
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("#signin-form button[type=submit]")
    if password == DEMO_PASSWORD:
        page.wait_for_url(lambda url: "/signin" not in url)


def wait_for_worker(page: Any) -> None:
    """The worker controls the page. A page that loaded while the worker was still activating
    (sign-in's redirect, say) stays uncontrolled in Chromium: `clients.claim()` ran before the
    page existed. The next load is controlled, as it is for a person."""
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    if not page.evaluate("() => navigator.serviceWorker.controller !== null"):
        page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def cached_pages(page: Any) -> list[str]:
    return list(
        page.evaluate(
            """async (name) => {
                if (!(await caches.has(name))) return [];
                const cache = await caches.open(name);
                return (await cache.keys()).map((request) => new URL(request.url).pathname
                    + new URL(request.url).search);
            }""",
            PAGES_CACHE,
        )
    )


def wait_until_cached(page: Any, path: str) -> None:
    # wait_for_function does not await a promise, so the polling loop runs in the page.
    found = page.evaluate(
        """async ([name, path]) => {
            const deadline = Date.now() + 5000;
            while (Date.now() < deadline) {
                const cache = await caches.open(name);
                const keys = await cache.keys();
                if (keys.some((r) => new URL(r.url).pathname + new URL(r.url).search === path)) {
                    return true;
                }
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
            return false;
        }""",
        [PAGES_CACHE, path],
    )
    assert found, f"{path} was not cached"


def assert_fits_phone(page: Any) -> None:
    """No sideways scrolling at 360 px, and every control is big enough for a thumb."""
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow} px"
    small = page.evaluate(
        """() => [...document.querySelectorAll(`button, input:not([type=hidden]), select,
                textarea, .button, .tabs a, .tabs summary, .outbox-link, .brand, .pager a`)]
            .filter((el) => el.offsetParent !== null)
            .map((el) => el.matches("[type=checkbox], [type=radio]") && el.closest("label") || el)
            .map((el) => [el.outerHTML.slice(0, 80), el.getBoundingClientRect()])
            .filter(([, box]) => box.height < 43.5 || box.width < 43.5)
            .map(([html, box]) => `${html} ${Math.round(box.width)}x${Math.round(box.height)}`)"""
    )
    assert small == [], f"touch targets under 44 px on {page.url}: {small}"


def test_sign_in_switch_language_and_open_offline(phone: Any, live_server: LiveServer) -> None:
    page = phone.new_page()
    errors = watch_console(page)

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin\?next=/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("登录")
    expect(page.get_by_label("用户名")).to_be_visible()
    screenshot(page, "signin-zh")
    assert_fits_phone(page)

    sign_in(page, "inspector")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("h1")).to_have_text(f"您好，{INSPECTOR}")
    expect(page.locator(".tabs")).to_contain_text("首页")
    expect(page.locator(".footer")).to_contain_text("退出登录")
    screenshot(page, "home-zh")
    assert_fits_phone(page)

    page.locator(".footer").get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text(f"Hello, {INSPECTOR}")
    expect(page.locator(".tabs")).to_have_text(re.compile(r"Home\s*Report\s*Scan\s*Tasks\s*More"))
    expect(page.locator("main")).to_contain_text("Enterprises in your area")
    expect(page.locator(".role-hint")).to_have_text(
        "Scan codes to check in, run inspections and report hazards."
    )
    expect(page.locator(".footer")).to_contain_text("Sign out")
    screenshot(page, "home-en")
    assert_fits_phone(page)

    wait_for_worker(page)
    wait_until_cached(page, "/")
    phone.set_offline(True)
    reloaded = page.reload()
    assert reloaded is not None
    assert reloaded.from_service_worker
    expect(page.locator("h1")).to_have_text(f"Hello, {INSPECTOR}")
    expect(page.locator("#net-status")).to_be_visible()

    # A form sent offline ends on the offline page, not on the browser's dead-end error page.
    page.locator(".footer").get_by_role("button", name="中文").click()
    expect(page.locator("[data-offline-page]")).to_be_visible()

    page.goto("/enterprises?page=2")
    offline = page.locator("[data-offline-page]")
    expect(offline).to_be_visible()
    expect(offline).to_contain_text("当前没有网络")
    expect(offline).to_contain_text("You are offline")
    screenshot(page, "offline")
    assert_fits_phone(page)

    phone.set_offline(False)
    page.reload()
    expect(page.locator("h1")).to_have_text("Enterprises")
    expect(page.locator("[data-offline-page]")).to_have_count(0)
    assert errors == []

    signed_in = live_server.query(
        "SELECT count(*) FROM event JOIN app_user ON app_user.id = event.actor_id"
        " WHERE event.action = 'user.signed_in' AND app_user.username = 'inspector'"
    )
    assert signed_in[0][0] >= 1

    # The switch is stored on the account (set back online here: the click above was offline);
    # then forgotten, since later tests on this shared server expect the browser's language.
    page.locator(".footer").get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    assert live_server.query("SELECT locale FROM app_user WHERE username = 'inspector'") == [
        ("zh",)
    ]
    live_server.forget_language("inspector")


def test_sign_in_page_follows_the_browser_language(
    english_phone: Any, live_server: LiveServer
) -> None:
    page = english_phone.new_page()
    errors = watch_console(page)
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.get_by_label("User name")).to_be_visible()
    screenshot(page, "signin-en")

    sign_in(page, "dispatcher", "not-the-password")
    alert = page.locator("[data-error-code=invalid_credentials]")
    expect(alert).to_have_text("Wrong user name or password.")
    expect(page).to_have_url(re.compile(r"/signin"))
    assert_fits_phone(page)
    assert not [c for c in english_phone.cookies() if c["name"] == "gs_session"]
    assert errors == []

    # Other tests sign in as the dispatcher on the same server: count the failures only.
    attempts = live_server.query(
        "SELECT count(*) FROM sign_in_attempt WHERE username = 'dispatcher' AND succeeded = 0"
    )
    assert attempts == [(1,)]


def test_manifest_icons_and_precache(phone: Any, live_server: LiveServer) -> None:
    page = phone.new_page()
    page.goto("/signin")
    assert page.locator("link[rel=manifest]").get_attribute("href") == "/manifest.webmanifest"

    manifest = phone.request.get("/manifest.webmanifest")
    assert manifest.ok
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["name"] == "安全网格 · 城市安全网格化管理"
    assert body["start_url"] == "/"
    assert body["display"] == "standalone"
    icons = {(icon["sizes"], icon["purpose"]): icon["src"] for icon in body["icons"]}
    for size in (192, 512):
        for purpose in ("any", "maskable"):
            response = phone.request.get(icons[(f"{size}x{size}", purpose)])
            assert response.ok
            image = Image.open(io.BytesIO(response.body()))
            assert image.format == "PNG"
            assert image.size == (size, size)

    worker = phone.request.get("/sw.js")
    assert worker.ok
    assert "javascript" in worker.headers["content-type"]
    # Files under /static/ are listed under their content-hashed names.
    [listed] = re.findall(r"^const PRECACHE = (.*);$", worker.text(), re.MULTILINE)
    precache = json.loads(listed)
    assert [re.sub(r"\.[0-9a-f]{10}(\.[^./]+)$", r"\1", url) for url in precache] == list(PRECACHE)
    for url in precache:
        assert phone.request.get(url).status == 200, url

    # What the installed worker actually holds: every precached file, nothing missing.
    wait_for_worker(page)
    stored = page.evaluate(
        """async () => {
            const names = (await caches.keys()).filter((n) => n.startsWith("gridsafe-shell-"));
            const cache = await caches.open(names[0]);
            return [names.length, (await cache.keys()).map((r) => new URL(r.url).pathname)];
        }"""
    )
    assert stored[0] == 1
    assert set(precache) <= set(stored[1])


def test_sign_out_forgets_cached_pages(phone: Any, live_server: LiveServer) -> None:
    page = phone.new_page()
    errors = watch_console(page)
    page.goto("/signin")
    sign_in(page, "inspector")
    expect(page.locator("h1")).to_have_text(f"您好，{INSPECTOR}")
    wait_for_worker(page)
    page.goto("/enterprises")
    wait_until_cached(page, "/enterprises")

    page.locator(".footer").get_by_role("button", name="退出登录").click()
    expect(page.locator("h1")).to_have_text("登录")
    assert not {"/", "/enterprises"} & set(cached_pages(page))

    # Nobody picking up the phone offline sees the last user's pages.
    phone.set_offline(True)
    page.goto("/enterprises")
    expect(page.locator("[data-offline-page]")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(INSPECTOR)

    phone.set_offline(False)
    page.goto("/signin")
    sign_in(page, "inspector2")
    expect(page.locator("h1")).to_have_text(f"您好，{INSPECTOR2}")
    wait_until_cached(page, "/")
    phone.set_offline(True)
    page.reload()
    expect(page.locator("h1")).to_have_text(f"您好，{INSPECTOR2}")
    phone.set_offline(False)
    assert errors == []


def test_htmx_fragments_are_never_cached_as_pages(phone: Any, live_server: LiveServer) -> None:
    page = phone.new_page()
    errors = watch_console(page)
    page.goto("/signin")
    sign_in(page, "inspector")
    wait_for_worker(page)
    page.goto("/enterprises")
    wait_until_cached(page, "/enterprises")

    with page.expect_response(lambda r: "q=" in r.url) as fragment:
        page.fill("input[name=q]", "化工")
    response = fragment.value
    assert response.request.headers.get("hx-request") == "true"
    assert "HX-Request" in response.headers.get("vary", "")
    assert "<html" not in response.text()
    expect(page).to_have_url(re.compile(r"q="))
    searched = page.url.removeprefix(live_server.url)

    assert searched not in cached_pages(page)
    full = page.evaluate(
        """async (name) => {
            const cache = await caches.open(name);
            const response = await cache.match("/enterprises");
            return [await response.text(), response.headers.get("vary")];
        }""",
        PAGES_CACHE,
    )
    assert "<html" in full[0]
    assert "HX-Request" in full[1]

    phone.set_offline(True)
    page.reload()
    expect(page.locator("[data-offline-page]")).to_be_visible()
    phone.set_offline(False)
    assert errors == []


# The crawl of every page of every role is in test_crawl.py.


def test_an_ended_session_sends_htmx_requests_to_sign_in(
    phone: Any, live_server: LiveServer
) -> None:
    page = phone.new_page()
    errors = watch_console(page)
    page.goto("/signin?next=/enterprises")
    sign_in(page, "inspector")
    expect(page.locator("h1")).to_have_text("企业")
    phone.clear_cookies(name="gs_session")

    page.fill("input[name=q]", "化工")
    # The search the person typed goes along, so signing in returns to it.
    expect(page).to_have_url(
        re.compile(re.escape(f"{live_server.url}/signin?next=/enterprises%3Fq%3D"))
    )
    expect(page.locator("h1")).to_have_text("登录")
    assert errors == []


def test_a_failed_precache_leaves_no_half_installed_worker(
    phone: Any, live_server: LiveServer
) -> None:
    broken = "/icons/icon-512.png"
    phone.route(f"**{broken}", lambda route: route.fulfill(status=503, body="down"))
    page = phone.new_page()
    page.goto("/signin")
    # register() resolves once installing has begun; the same job as app.js's own call.
    state = page.evaluate(
        """async () => {
            const worker = (await navigator.serviceWorker.register("/sw.js")).installing;
            await new Promise((resolve) => {
                const settled = () => ["redundant", "activated"].includes(worker.state);
                if (settled()) resolve();
                worker.addEventListener("statechange", () => settled() && resolve());
            });
            return [worker.state, await caches.keys()];
        }"""
    )
    assert state == ["redundant", []]

    phone.unroute(f"**{broken}")
    page.reload()
    wait_for_worker(page)
    shells = page.evaluate("async () => (await caches.keys()).filter((n) => n.includes('shell'))")
    assert len(shells) == 1


def test_the_page_that_installed_the_worker_opens_offline(
    phone: Any, live_server: LiveServer
) -> None:
    # Signed in before any page ran, so "/" is the first page and loads before the worker exists.
    phone.request.get("/signin")
    csrf = next(c["value"] for c in phone.cookies() if c["name"] == "gs_csrf")
    answer = phone.request.post(
        "/signin",
        form={"username": "inspector", "password": DEMO_PASSWORD, "_csrf_token": csrf},
        max_redirects=0,
    )
    assert answer.status == 303
    page = phone.new_page()
    errors = watch_console(page)
    page.goto("/")
    wait_for_worker(page)
    wait_until_cached(page, "/")
    phone.set_offline(True)
    page.reload()
    expect(page.locator("h1")).to_have_text(f"您好，{INSPECTOR}")
    phone.set_offline(False)
    assert errors == []


def test_a_page_the_network_never_answers_opens_from_the_kept_copy(
    phone: Any, live_server: LiveServer
) -> None:
    """Lie-fi: the connection is up but nothing comes back. After NETWORK_TIMEOUT_MS the worker
    shows the kept copy; the network's answer, when it does come, refreshes that copy."""
    page = phone.new_page()
    errors = watch_console(page)
    page.goto("/signin")
    sign_in(page, "inspector")
    expect(page.locator("h1")).to_have_text(f"您好，{INSPECTOR}")
    wait_for_worker(page)
    wait_until_cached(page, "/")

    held: list[Any] = []

    def hold(route: Any) -> None:
        held.append(route)  # neither answered nor failed: the network just hangs

    phone.route(f"{live_server.url}/", hold)
    started = time.monotonic()
    reloaded = page.reload()
    expect(page.locator("h1")).to_have_text(f"您好，{INSPECTOR}")
    print(f"kept copy shown after {time.monotonic() - started:.1f} s ({NETWORK_TIMEOUT_MS} ms)")
    assert reloaded is not None
    assert reloaded.from_service_worker
    assert len(held) == 1, "the worker's request for the page never reached the network"

    # The answer arrives late, carrying a mark: the kept copy becomes that answer.
    answer = held[0].fetch()
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
    body = answer.text().replace("</main>", "<p data-late-answer></p></main>")
    held[0].fulfill(response=answer, headers=headers, body=body)
    refreshed = page.evaluate(
        """async (name) => {
            const deadline = Date.now() + 5000;
            while (Date.now() < deadline) {
                const kept = await (await caches.open(name)).match("/");
                if (kept && (await kept.text()).includes("data-late-answer")) return true;
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
            return false;
        }""",
        PAGES_CACHE,
    )
    assert refreshed, "the late answer did not refresh the kept copy"
    phone.unroute(f"{live_server.url}/")
    assert errors == []
