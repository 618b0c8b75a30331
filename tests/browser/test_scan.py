"""The in-app scanner on a phone: Chromium's fake camera plays a video of a printed code, jsQR reads
it in the page, and the person lands where the code leads them (一企一码)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

import qr
from backend.codes.keys import code_path
from backend.demo.seed import DEMO_PASSWORD
from backend.models import CodeKind
from tests.browser.conftest import CHROMIUM_ARGS, PHONE, SECRET, LiveServer, screenshot
from tests.browser.test_outbox import outbox_items, pass_every_item_offline
from tests.browser.test_shell import assert_fits_phone, wait_for_worker, wait_until_cached
from tests.browser.test_shell import sign_in as sign_in_here
from tests.services import CHROMIUM

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 640, 480
HTTP_STATUS_LOG = "Failed to load resource: the server responded with a status of 4"


def write_y4m(path: Path, text: str, frames: int = 5) -> None:
    """A short greyscale video of the code as a camera would see it (YUV 4:2:0, white around)."""
    code = Image.open(io.BytesIO(qr.png(text, scale=6))).convert("L")
    frame = Image.new("L", (WIDTH, HEIGHT), 255)
    frame.paste(code, ((WIDTH - code.width) // 2, (HEIGHT - code.height) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + luma + chroma + chroma)


@pytest.fixture
def camera_phone(browser: Any, live_server: LiveServer, tmp_path: Path) -> Iterator[Any]:
    """Returns a function that films a code and gives a fresh phone whose camera sees it."""
    launched: list[Any] = []

    def open_phone(path: str) -> Any:
        video = tmp_path / f"code-{len(launched)}.y4m"
        write_y4m(video, live_server.url + path)
        chromium = browser.browser_type.launch(
            executable_path=CHROMIUM,
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ],
        )
        launched.append(chromium)
        context = chromium.new_context(
            **PHONE, locale="zh-CN", base_url=live_server.url, permissions=["camera"]
        )
        context.set_default_timeout(15_000)
        return context.new_page()

    yield open_phone
    for chromium in launched:
        chromium.close()


def sign_in(page: Any, username: str) -> None:
    page.goto("/signin")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("#signin-form button[type=submit]")
    page.wait_for_url(lambda url: "/signin" not in url)


def console_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and not message.text.startswith(HTTP_STATUS_LOG)
            else None
        ),
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def first_enterprise(live_server: LiveServer, grid_code: str) -> int:
    [(enterprise_id,)] = live_server.query(
        "SELECT e.id FROM enterprise e JOIN unit u ON u.id = e.grid_id WHERE u.code = ?"
        " ORDER BY e.id LIMIT 1",
        grid_code,
    )
    return int(enterprise_id)


def scan(page: Any, path: str) -> None:
    page.goto("/scan")
    page.wait_for_url(re.compile(re.escape(path) + "$"))


def test_an_inspector_scans_an_enterprise_code_and_lands_on_check_in(
    camera_phone: Any, live_server: LiveServer
) -> None:
    enterprise_id = first_enterprise(live_server, "420107001001")
    path = code_path(qr.Keyring.from_secrets(SECRET), CodeKind.ENTERPRISE, enterprise_id, 1)
    page = camera_phone(path)
    errors = console_errors(page)
    sign_in(page, "inspector")
    scan(page, path)
    expect(page.locator('[data-scan-view="check_in"]')).to_be_visible()
    form = page.locator("#check-in-form")
    expect(form).to_have_attribute("data-outbox", "inspection.check_in")
    expect(form.locator("input[name=enterprise_id]")).to_have_value(str(enterprise_id))
    screenshot(page, "scan-inspector")
    assert errors == []


def test_an_enterprise_officer_scans_a_key_point_and_lands_on_self_inspection(
    camera_phone: Any, live_server: LiveServer
) -> None:
    [(enterprise_id,)] = live_server.query(
        "SELECT enterprise_id FROM app_user WHERE username = 'enterprise'"
    )
    [(point_id, point_name)] = live_server.query(
        "SELECT id, name FROM key_point WHERE enterprise_id = ? ORDER BY id LIMIT 1", enterprise_id
    )
    path = code_path(qr.Keyring.from_secrets(SECRET), CodeKind.POINT, int(point_id), 1)
    page = camera_phone(path)
    errors = console_errors(page)
    sign_in(page, "enterprise")
    scan(page, path)
    view = page.locator('[data-scan-view="self_inspection"]')
    expect(view).to_be_visible()
    expect(view).to_contain_text(point_name)
    screenshot(page, "scan-enterprise-officer")
    assert errors == []


def test_a_code_of_another_kind_of_content_is_not_opened(
    camera_phone: Any, live_server: LiveServer
) -> None:
    page = camera_phone("/not-a-gridsafe-code")
    sign_in(page, "inspector")
    page.goto("/scan")
    status = page.locator("[data-scan-status]")
    expect(status).to_have_text(re.compile("安全网格"))  # "this is not a GridSafe code"
    assert page.url.endswith("/scan")


# --- Offline: the code is read on the phone, the check-in waits in the outbox --------------------


def wait_until_pulled(page: Any, enterprise_id: int) -> None:
    """The sign-in's first sync has put the inspector's enterprises on the phone."""
    found = page.evaluate(
        """async (id) => {
            const deadline = Date.now() + 10000;
            while (Date.now() < deadline) {
                const items = await GridSafeOutbox.cached("enterprise");
                if (items.some((item) => item.id === id)) return true;
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
            return false;
        }""",
        enterprise_id,
    )
    assert found, "the enterprise never reached the phone's cache"


def wait_until_kept(page: Any, name: str) -> None:
    """A static file whose name contains `name` is in the worker's shell cache."""
    found = page.evaluate(
        """async (name) => {
            const deadline = Date.now() + 5000;
            while (Date.now() < deadline) {
                for (const cacheName of await caches.keys()) {
                    if (!cacheName.startsWith("gridsafe-shell-")) continue;
                    const keys = await (await caches.open(cacheName)).keys();
                    if (keys.some((r) => new URL(r.url).pathname.includes(name))) return true;
                }
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
            return false;
        }""",
        name,
    )
    assert found, f"{name} was not kept by the worker"


def offline_ready_phone(camera_phone: Any, path: str, enterprise_id: int) -> Any:
    page = camera_phone(path)
    page.context.grant_permissions(["camera", "geolocation"])
    sign_in(page, "inspector")
    wait_for_worker(page)
    # The decoder is fetched by the scan page, not at install: opened once with a signal, the
    # scanner reads codes offline from then on. Online it reads the code in view and opens it.
    scan(page, path)
    wait_until_kept(page, "jsQR")
    page.goto("/outbox")
    wait_until_cached(page, "/scan")
    wait_until_cached(page, "/outbox")
    wait_until_pulled(page, enterprise_id)
    return page


def test_offline_an_inspector_scans_checks_in_and_it_reaches_the_server_later(
    camera_phone: Any, live_server: LiveServer
) -> None:
    [(enterprise_id, name, latitude, longitude)] = live_server.query(
        "SELECT e.id, e.name, e.latitude, e.longitude FROM enterprise e JOIN unit u"
        " ON u.id = e.grid_id WHERE u.code = '420107001001' ORDER BY e.id LIMIT 1 OFFSET 1"
    )
    path = code_path(qr.Keyring.from_secrets(SECRET), CodeKind.ENTERPRISE, enterprise_id, 1)
    page = offline_ready_phone(camera_phone, path, enterprise_id)
    errors = console_errors(page)
    # Opened once with a signal, the checklist is kept, so the scan offers it offline too.
    checklist = f"/enterprises/{enterprise_id}/inspect"
    page.goto(checklist)
    wait_until_cached(page, checklist)
    # About 110 m north of the enterprise's registered position: near, not flagged.
    page.context.set_geolocation(
        {"latitude": latitude + 0.001, "longitude": longitude, "accuracy": 9}
    )

    page.context.set_offline(True)
    page.goto("/scan")
    panel = page.locator("[data-offline-scan]")
    expect(panel).to_have_attribute("data-offline-state", "found")
    expect(panel.locator("[data-offline-name]")).to_have_text(name)
    expect(page.locator("[data-scan-status]")).to_have_text(re.compile("无网络"))
    expect(panel.locator("[data-offline-distance]")).to_contain_text("111")
    expect(panel.locator("[data-offline-position]")).to_contain_text("9")
    inspect = panel.locator("[data-offline-inspect]")
    expect(inspect).to_be_visible()
    expect(inspect.locator("a")).to_have_attribute("href", checklist)
    screenshot(page, "scan-offline-found")
    panel.locator("button[type=submit]").click()

    # Kept on the phone; as on the online check-in page, the checklist is offered next, and its
    # link names the check-in just kept.
    expect(panel).to_have_attribute("data-offline-state", "kept")
    expect(panel.locator("[data-offline-kept]")).to_be_visible()
    [item] = outbox_items(page)
    assert item["name"] == "inspection.check_in"
    assert (item["args"]["enterprise_id"], item["args"]["code"]) == (enterprise_id, path)
    assert item["args"]["accuracy_m"] == 9
    check_in_id = item["args"]["id"]
    check_in_sql = "SELECT enterprise_id, far, distance_m, accuracy_m FROM check_in WHERE id = ?"
    assert live_server.query(check_in_sql, check_in_id) == []
    expect(inspect.locator("a")).to_have_attribute("href", f"{checklist}?check_in={check_in_id}")
    screenshot(page, "scan-offline-queued")

    # The inspection right after, still offline: the kept checklist opens, naming the check-in.
    inspect.locator("a").click()
    inspection_id = pass_every_item_offline(page, check_in_id)
    queued = {entry["name"]: entry for entry in outbox_items(page)}
    assert queued["inspection.record"]["args"]["check_in_id"] == check_in_id

    page.goto("/outbox")
    pending = page.locator("[data-outbox-id][data-state=pending]")
    expect(pending).to_have_count(2)
    expect(pending.first).to_contain_text(name)

    # The network returns: the outbox sends itself, the server judges the code and records it.
    page.context.set_offline(False)
    received = page.locator("[data-outbox-id][data-state=received]")
    expect(received.first).to_be_visible(timeout=15_000)
    [(stored_enterprise, far, distance, accuracy)] = live_server.query(check_in_sql, check_in_id)
    assert (stored_enterprise, far, accuracy) == (enterprise_id, 0, 9)
    assert 100 < distance < 125
    [(data,)] = live_server.query(
        "SELECT data FROM event WHERE action = 'inspection.checked_in' AND data LIKE ?",
        f"%{check_in_id}%",
    )
    assert json.loads(data)["code"] == "enterprise"
    # Sent in the same push, the inspection waited for its check-in to be stored (`retry`);
    # the same drain sends it again at once and it is recorded, linked.
    expect(received).to_have_count(2, timeout=15_000)
    assert live_server.query(
        "SELECT enterprise_id, check_in_id FROM inspection WHERE id = ?", inspection_id
    ) == [(enterprise_id, check_in_id)]
    offline = ("htmx:sendError", "htmx:afterRequest", "net::ERR_INTERNET_DISCONNECTED")
    assert [e for e in errors if not any(mark in e for mark in offline)] == []


def test_offline_a_code_outside_the_synced_data_is_said_so(
    camera_phone: Any, live_server: LiveServer
) -> None:
    inside = first_enterprise(live_server, "420107001001")
    outside = first_enterprise(live_server, "420102001001")  # another district's grid
    path = code_path(qr.Keyring.from_secrets(SECRET), CodeKind.ENTERPRISE, outside, 1)
    page = offline_ready_phone(camera_phone, path, inside)
    page.context.set_offline(True)
    page.goto("/scan")
    panel = page.locator("[data-offline-scan]")
    expect(panel).to_have_attribute("data-offline-state", "unknown")
    expect(panel.locator("[data-offline-problem]")).to_contain_text("本机已同步的数据中没有该企业")
    expect(panel.locator("[data-offline-form]")).to_be_hidden()
    expect(panel.locator("[data-offline-inspect]")).to_be_hidden()
    assert outbox_items(page) == []


def test_offline_a_replaced_poster_is_refused_when_the_check_in_arrives(
    camera_phone: Any, phone: Any, live_server: LiveServer
) -> None:
    [(enterprise_id,)] = live_server.query(
        "SELECT e.id FROM enterprise e JOIN unit u ON u.id = e.grid_id"
        " WHERE u.code = '420107001001' ORDER BY e.id LIMIT 1 OFFSET 2"
    )
    old_poster = code_path(qr.Keyring.from_secrets(SECRET), CodeKind.ENTERPRISE, enterprise_id, 1)
    # The street dispatcher replaces the poster; the inspector's phone cannot know.
    desk = phone.new_page()
    desk.goto("/signin")
    sign_in_here(desk, "dispatcher")
    desk.goto(f"/codes/enterprises/{enterprise_id}")
    desk.locator(f"form[action='/codes/enterprises/{enterprise_id}/rotate'] button").click()
    desk.wait_for_load_state()
    assert live_server.query(
        "SELECT version FROM qr_code WHERE kind = 'enterprise' AND subject_id = ?", enterprise_id
    ) == [(2,)]

    page = offline_ready_phone(camera_phone, old_poster, enterprise_id)
    page.context.set_offline(True)
    page.goto("/scan")
    panel = page.locator("[data-offline-scan]")
    expect(panel).to_have_attribute("data-offline-state", "found")
    panel.locator("button[type=submit]").click()
    expect(panel).to_have_attribute("data-offline-state", "kept")
    page.goto("/outbox")
    expect(page.locator("[data-outbox-id][data-state=pending]")).to_have_count(1)
    page.context.set_offline(False)
    refused = page.locator("[data-outbox-id][data-state=rejected]")
    expect(refused).to_have_count(1, timeout=15_000)
    reason = refused.locator("[data-error-code]")
    expect(reason).to_have_attribute("data-error-code", "check_in.code_rotated")
    expect(reason).to_have_text("所扫海报已被新二维码替换，请扫描新海报签到。")
    screenshot(page, "scan-offline-refused")
    [item] = outbox_items(page)
    assert live_server.query("SELECT id FROM check_in WHERE id = ?", item["args"]["id"]) == []


# --- Anyone: a problem reported from the public card -------------------------------------------


def test_a_passer_by_reports_a_problem_from_the_poster(phone: Any, live_server: LiveServer) -> None:
    enterprise_id = first_enterprise(live_server, "420107001001")
    path = code_path(qr.Keyring.from_secrets(SECRET), CodeKind.ENTERPRISE, enterprise_id, 1)
    page = phone.new_page()
    errors = console_errors(page)
    page.goto(path)  # what the phone's own camera app opens: no account, no app
    page.click("[data-field=report]")
    expect(page).to_have_url(re.compile(re.escape(path) + "/report$"))
    assert_fits_phone(page)
    marker = f"路人举报 {enterprise_id} 仓库门口堆满纸箱"
    form = page.locator("#public-report-form")
    form.locator("select[name=category]").select_option("fire")
    form.locator("textarea[name=description]").fill(marker)
    form.locator("input[name=contact_phone]").fill("13800138000")
    photo = io.BytesIO()
    Image.new("RGB", (800, 600), "orange").save(photo, format="JPEG")
    form.locator("input[name=photo]").set_input_files(
        {"name": "p.jpg", "mimeType": "image/jpeg", "buffer": photo.getvalue()}
    )
    screenshot(page, "public-report-form")
    form.locator("button[type=submit]").click()
    expect(page.locator("[data-report-sent]")).to_be_visible()
    rows = live_server.query(
        "SELECT enterprise_id, category, contact_phone, state, photo IS NOT NULL"
        " FROM public_report WHERE description = ?",
        marker,
    )
    assert rows == [(enterprise_id, "fire", "13800138000", "open", 1)]
    assert errors == []


def test_the_decoder_comes_with_the_scan_page_and_stays_for_offline_use(
    phone: Any, live_server: LiveServer
) -> None:
    # Signed in before any page ran, so /scan is the first page: it loads its decoder before the
    # worker exists, past it, and names its files to the worker once that is ready.
    phone.request.get("/signin")
    csrf = next(c["value"] for c in phone.cookies() if c["name"] == "gs_csrf")
    phone.request.post(
        "/signin",
        form={"username": "inspector", "password": DEMO_PASSWORD, "_csrf_token": csrf},
        max_redirects=0,
    )
    page = phone.new_page()
    page.goto("/scan")
    wait_until_kept(page, "jsQR")
    wait_until_cached(page, "/scan")
    phone.set_offline(True)
    page.reload()
    assert page.evaluate("() => typeof window.jsQR") == "function"
    phone.set_offline(False)


def test_a_new_release_keeps_the_decoder_a_phone_already_had(
    phone: Any, live_server: LiveServer
) -> None:
    page = phone.new_page()
    page.goto("/signin")
    sign_in_here(page, "inspector")
    wait_for_worker(page)
    page.goto("/scan")
    wait_until_kept(page, "jsQR")
    decoder = page.locator("script[src*=jsQR]").get_attribute("src")
    assert decoder

    # The previous release's shell held the decoder under an older hash; this release's worker
    # (another script URL makes the browser install it) finds it there and fetches today's file.
    kept = page.evaluate(
        """async (decoder) => {
            const [name] = (await caches.keys()).filter((n) => n.startsWith("gridsafe-shell-"));
            const shell = await caches.open(name);
            const older = decoder.replace(/\\.[0-9a-f]{10}\\.js$/, ".0123456789.js");
            await (await caches.open("gridsafe-shell-previous")).put(older, await shell.match(decoder));
            await caches.delete(name);
            await navigator.serviceWorker.register("/sw.js?release=next", { scope: "/" });
            const deadline = Date.now() + 10000;
            while (Date.now() < deadline) {
                const names = await caches.keys();
                if (names.includes(name) && !names.includes("gridsafe-shell-previous")) {
                    return (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname);
                }
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
            return await caches.keys();
        }""",
        decoder,
    )
    assert decoder in kept
    assert not [path for path in kept if "0123456789" in path]
