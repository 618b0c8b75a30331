"""What a check-in (签到) made: with a network the inspector stays on the code's page and sees the
distance, a far check-in flagged as a warning, and the checklist to open next; "saved on this
phone" is said only of what really waits on the phone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

import qr
from backend.codes.keys import code_path
from backend.models import CodeKind
from tests.browser.conftest import SECRET, LiveServer, screenshot
from tests.browser.test_outbox import (
    inspector_scope,
    report_hazard,
    settle,
)
from tests.browser.test_shell import assert_fits_phone, sign_in, wait_for_worker, watch_console

pytestmark = pytest.mark.browser

SAVED_ON_PHONE = "已保存在本机，有网络时会自动发送。"
# About 2.2 km north of the enterprise: recorded, and flagged (over 500 m).
FAR_NORTH_DEGREES = 0.02


def inspector_at(phone: Any, latitude: float, longitude: float) -> tuple[Any, list[str]]:
    phone.grant_permissions(["geolocation"])
    phone.set_geolocation({"latitude": latitude, "longitude": longitude, "accuracy": 8})
    page = phone.new_page()
    errors = watch_console(page)
    page.goto("/signin")
    sign_in(page, "inspector")
    wait_for_worker(page)
    return page, errors


def check_in_online(phone: Any, live_server: LiveServer, north: float) -> tuple[Any, str, str]:
    """The inspector scans the enterprise's poster `north` degrees north of it and checks in with
    a network: the page, the code's address and the check-in's id."""
    enterprise_id, _ = inspector_scope(live_server)
    [(latitude, longitude)] = live_server.query(
        "SELECT latitude, longitude FROM enterprise WHERE id = ?", enterprise_id
    )
    page, errors = inspector_at(phone, latitude + north, longitude)
    landing = code_path(qr.Keyring.from_secrets(SECRET), CodeKind.ENTERPRISE, enterprise_id, 1)
    page.goto(landing)
    form = page.locator("#check-in-form")
    check_in_id = form.locator("input[name=id]").input_value()
    settle(page)
    form.locator("button[type=submit]").click()
    page.wait_for_selector(f"[data-last-check-in='{check_in_id}']")
    assert errors == []
    return page, landing, check_in_id


def test_a_far_check_in_shows_its_distance_as_a_warning_and_the_checklist(
    phone: Any, live_server: LiveServer
) -> None:
    page, landing, check_in_id = check_in_online(phone, live_server, FAR_NORTH_DEGREES)

    # Still on the code's page, not sent to the outbox.
    assert page.url == f"{live_server.url}{landing}"
    result = page.locator(f"[data-last-check-in='{check_in_id}']")
    expect(result).to_be_visible()
    expect(result).to_have_class(re.compile(r"\balert warn\b"))
    expect(result).not_to_have_class(re.compile(r"\bok\b"))
    expect(result).to_contain_text(re.compile(r"距企业登记位置约 2\d{3} 米"))
    expect(result.locator("[data-far]")).to_have_text("距离超过 500 米，已标记待核实。")
    inspect = page.locator("[data-inspect-link]")
    expect(inspect).to_be_visible()
    expect(inspect).to_have_attribute("href", re.compile(rf"/inspect\?check_in={check_in_id}$"))
    expect(page.get_by_text(SAVED_ON_PHONE)).to_have_count(0)
    screenshot(page, "check-in-far")
    assert_fits_phone(page)

    [(far, distance)] = live_server.query(
        "SELECT far, distance_m FROM check_in WHERE id = ?", check_in_id
    )
    assert far == 1
    assert 2000 < distance < 2500


def test_a_near_check_in_is_shown_as_all_well(phone: Any, live_server: LiveServer) -> None:
    page, _, check_in_id = check_in_online(phone, live_server, 0.0)
    result = page.locator(f"[data-last-check-in='{check_in_id}']")
    expect(result).to_have_class(re.compile(r"\balert ok\b"))
    expect(result).to_contain_text("距企业登记位置约 0 米")
    expect(result.locator("[data-far]")).to_have_count(0)
    expect(page.locator("[data-inspect-link]")).to_be_visible()


def test_a_check_in_without_network_says_it_waits_on_the_phone(
    phone: Any, live_server: LiveServer
) -> None:
    enterprise_id, _ = inspector_scope(live_server)
    page, _ = inspector_at(phone, 30.5801, 114.2734)
    page.goto(code_path(qr.Keyring.from_secrets(SECRET), CodeKind.ENTERPRISE, enterprise_id, 1))
    settle(page)
    phone.set_offline(True)
    page.locator("#check-in-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/outbox$"))
    expect(page.locator("[data-outbox-saved]")).to_have_text(SAVED_ON_PHONE)
    expect(page.locator("[data-outbox-saved]")).to_have_class(re.compile(r"\bwarn\b"))

    # Once it is sent, the notice says so instead.
    phone.set_offline(False)
    expect(page.locator("[data-outbox-saved]")).to_have_text(
        "已发送，服务器已收到。", timeout=20_000
    )


def test_a_report_sent_at_once_is_not_said_to_wait_on_the_phone(
    phone: Any, live_server: LiveServer
) -> None:
    page, _ = inspector_at(phone, 30.5801, 114.2734)
    page.goto("/hazards/new")
    settle(page)
    report_hazard(page, "配电箱门未关闭（在线上报）", [])
    notice = page.locator("[data-outbox-saved]")
    expect(notice).to_have_text("已发送，服务器已收到。")
    expect(notice).to_have_class(re.compile(r"\bok\b"))
