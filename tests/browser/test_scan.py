"""The in-app scanner on a phone: Chromium's fake camera plays a video of a printed code, jsQR reads
it in the page, and the person lands where the code leads them (一企一码)."""

from __future__ import annotations

import io
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
