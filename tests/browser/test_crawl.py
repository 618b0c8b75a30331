"""Every page of every role on a phone: no console error, no broken link, nothing that scrolls
sideways or is too small for a thumb, and no serious or critical accessibility violation (axe-core,
installed from npm through the lock file, run inside each page)."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

import qr
from backend.codes.keys import code_path
from backend.models import CodeKind
from tests.browser.conftest import PHONE, ROOT, SECRET, LiveServer, demo_server, screenshot
from tests.browser.test_loop import report_as
from tests.browser.test_outbox import inspector_scope
from tests.browser.test_shell import assert_fits_phone, sign_in, watch_console

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Every demo account (backend/demo/seed.py), and None for someone who is not signed in.
ROLES = [
    "inspector",
    "enterprise",
    "dispatcher",
    "responder",
    "district",
    "city",
    "admin",
    None,
]
# Pages no link leads to; everything else is found by following links from the first page.
EXTRA_PAGES = ["/enterprises?page=2", "/offline", "/no-such-page"]
EXPECTED_STATUS = {"/no-such-page": 404}
# A bound that is never reached: the crawl ends when no new kind of page is left.
MAX_PAGES_PER_ROLE = 80
# Links to files rather than pages: checked for their status, not opened as a page.
FILES = re.compile(r"\.(png|svg|csv|xlsx|geojson|json|xml|pdf)(\?|$)|/photo(\?|$)")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BLOCKING_IMPACTS = ("serious", "critical")


def page_kind(path: str) -> str:
    """One visit per kind of page: /enterprises/12 and /enterprises/40 are the same template."""
    return re.sub(r"\d+", "N", UUID.sub("ID", path.split("?")[0].split("#")[0]))


def public_pages(live_server: LiveServer) -> list[str]:
    """What a stranger's camera opens: an enterprise's and a key point's code, and their report
    forms. Codes are signed with the server's key, so they are made here as the server would."""
    keyring = qr.Keyring.from_secrets(SECRET)
    pages = []
    for kind, table in ((CodeKind.ENTERPRISE, "enterprise"), (CodeKind.POINT, "key_point")):
        [(subject_id, version)] = live_server.query(
            f"SELECT t.id, COALESCE(q.version, 1) FROM {table} t"
            " LEFT JOIN qr_code q ON q.kind = ? AND q.subject_id = t.id"
            " WHERE COALESCE(q.revoked, 0) = 0 ORDER BY t.id LIMIT 1",
            kind.value,
        )
        path = code_path(keyring, kind, subject_id, version)
        pages += [path, f"{path}/report"]
    return pages


def signed_in_context(browser: Any, server: LiveServer, username: str | None) -> Any:
    context = browser.new_context(**PHONE, locale="zh-CN", base_url=server.url)
    context.set_default_timeout(10_000)
    if username is not None:
        page = context.new_page()
        page.goto("/signin")
        sign_in(page, username)
        page.close()
    return context


def stage_the_work(browser: Any, server: LiveServer) -> None:
    """The demo data has no work in progress, so its cards would never be crawled. One of each,
    made as people make them: a hazard assigned to the responder (a task and a notification), an
    inspection, an incident with its tasks, a warning and a passer-by's report."""
    enterprise_id, _ = inspector_scope(server)
    [(responder_id,)] = server.query("SELECT id FROM app_user WHERE username = 'responder'")
    contexts = []
    try:
        desk_context = signed_in_context(browser, server, "dispatcher")
        contexts.append(desk_context)
        desk = desk_context.new_page()
        hazard_id = report_as(desk_context, desk, enterprise_id)
        desk.goto(f"/hazards/{hazard_id}")
        form = desk.locator("[data-assign-form]")
        form.locator(f"input[name=people][value='{responder_id}']").check()
        form.locator("button[type=submit]").click()
        expect(desk.locator("[data-open-task]")).to_be_visible()

        inspector_context = signed_in_context(browser, server, "inspector")
        contexts.append(inspector_context)
        inspector = inspector_context.new_page()
        inspector.goto(f"/enterprises/{enterprise_id}/inspect")
        checklist = inspector.locator("#inspection-form")
        for item_id in checklist.locator("fieldset[data-item]").evaluate_all(
            "(all) => all.map((f) => f.dataset.item)"
        ):
            checklist.locator(f"input[name=result_{item_id}][value=pass]").check()
        checklist.locator("button[type=submit]").click()
        inspector.wait_for_url("**/inspections/*")

        district_context = signed_in_context(browser, server, "district")
        contexts.append(district_context)
        district = district_context.new_page()
        district.goto("/incidents")
        incident = district.locator("#incident-form")
        incident.locator("select[name=incident_type]").select_option("chemical_leak")
        incident.locator("select[name=unit_id]").select_option(label="红卫路街道")
        incident.locator("input[name=latitude]").fill("30.6330")
        incident.locator("input[name=longitude]").fill("114.3790")
        incident.locator("textarea[name=description]").fill("储罐阀门泄漏，有刺激性气味")
        incident.locator("button[type=submit]").click()
        district.wait_for_url("**/incidents/*")
        district.locator("[data-confirm-incident]").click()
        expect(district.locator("#board-tasks")).to_be_visible()
        district.goto("/warnings/new")
        district.fill("input[name=title]", "粉尘涉爆企业高温预警")
        district.check("input[name=level][value=orange]")
        district.fill("textarea[name=body]", "未来三天高温，请加强除尘系统检查。")
        until = datetime.now(UTC) + timedelta(hours=32)
        district.fill("input[name=valid_until]", until.strftime("%Y-%m-%dT%H:%M"))
        district.check("input[name=roles][value=grid_inspector]")
        district.click("#warning-form button.primary")
        district.wait_for_url(lambda url: "/warnings/" in url and "/new" not in url)

        passer_by = signed_in_context(browser, server, None)
        contexts.append(passer_by)
        public = passer_by.new_page()
        public.goto(f"{public_pages(server)[0]}/report")
        report = public.locator("#public-report-form")
        report.locator("select[name=category]").select_option("fire")
        report.locator("textarea[name=description]").fill("仓库门口堆满纸箱，堵住了消防通道")
        photo = io.BytesIO()
        Image.new("RGB", (400, 300), "orange").save(photo, format="JPEG")
        report.locator("input[name=photo]").set_input_files(
            {"name": "p.jpg", "mimeType": "image/jpeg", "buffer": photo.getvalue()}
        )
        report.locator("button[type=submit]").click()
        expect(public.locator("[data-report-sent]")).to_be_visible()
    finally:
        for context in contexts:
            context.close()


@pytest.fixture(scope="module")
def crawl_server(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of the crawl's own: the work staged here stays out of the other tests' counts."""
    with demo_server(tmp_path_factory.mktemp("crawl-data")) as server:
        stage_the_work(browser, server)
        yield server


@pytest.fixture
def crawl_phone(browser: Any, crawl_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(**PHONE, locale="zh-CN", base_url=crawl_server.url)
    context.set_default_timeout(10_000)
    yield context
    context.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it stands.

    The script is evaluated through DevTools rather than added as a <script> element: the page's
    Content-Security-Policy stays as strict as it is for a person, so a CSP violation still
    shows up as a console error in this crawl."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    return list(
        page.evaluate(
            """async (impacts) => {
                const results = await axe.run(document, { resultTypes: ["violations"] });
                return results.violations
                    .filter((v) => impacts.includes(v.impact))
                    .map((v) => ({
                        id: v.id,
                        impact: v.impact,
                        help: v.help,
                        nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 8),
                    }));
            }""",
            list(BLOCKING_IMPACTS),
        )
    )


def links_on(page: Any) -> list[str]:
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll("a[href^='/']:not([download])")]
                .map((a) => a.getAttribute("href"))"""
        )
    )


@pytest.mark.parametrize("username", ROLES, ids=[r or "anonymous" for r in ROLES])
def test_every_page_of_every_role(
    crawl_phone: Any, crawl_server: LiveServer, username: str | None
) -> None:
    assert AXE.is_file(), "axe-core is missing: `make setup` installs it from package-lock.json"
    started = time.monotonic()
    phone = crawl_phone
    page = phone.new_page()
    errors = watch_console(page)
    role = username or "anonymous"
    if username is None:
        queue = ["/signin"]
    else:
        page.goto("/signin")
        sign_in(page, username)
        queue = ["/"]
    # The codes on the posters, opened signed in (check in, self-inspection) or not (public card).
    extras = [*public_pages(crawl_server), *EXTRA_PAGES]
    seen: set[str] = set()
    visited: list[str] = []
    broken: list[str] = []
    violations: list[str] = []
    layout: list[str] = []
    while (queue or extras) and len(visited) < MAX_PAGES_PER_ROLE:
        path = queue.pop(0) if queue else extras.pop(0)
        kind = path if path in EXTRA_PAGES else page_kind(path)
        if kind in seen:
            continue
        seen.add(kind)
        if FILES.search(path):
            status = phone.request.get(path).status
            if status >= 400:
                broken.append(f"{path} -> {status}")
            continue
        visited.append(path)
        response = page.goto(path)
        assert response is not None, path
        expected = EXPECTED_STATUS.get(path)
        if (response.status != expected) if expected else response.status >= 400:
            broken.append(f"{path} -> {response.status}")
        # Fragments a page loads on its own (hx-trigger="load") are part of what is checked.
        page.wait_for_function("() => !document.querySelector('.htmx-request')")
        # Named by kind of page, so each run overwrites the last run's pictures.
        slug = re.sub(r"[^a-z0-9]+", "-", UUID.sub("id", path).lower()).strip("-")[:60] or "home"
        screenshot(page, f"{role}-{slug}")
        try:
            assert_fits_phone(page)
        except AssertionError as problem:  # every page's problems at once, not the first only
            layout.append(str(problem).split("\n")[0])
        for violation in axe_violations(page):
            violations.append(
                f"{violation['impact']} {violation['id']} ({violation['help']}) on {path}"
                f" as {role}: {violation['nodes']}"
            )
        queue += links_on(page)
    print(f"{role}: {len(visited)} pages in {time.monotonic() - started:.1f} s: {visited}")
    assert len(EXTRA_PAGES) + 1 < len(visited) < MAX_PAGES_PER_ROLE, visited
    problems = [
        *(f"broken link {b}" for b in broken),
        *violations,
        *layout,
        *(f"console error {e}" for e in errors),
    ]
    assert problems == [], "\n".join(problems)
