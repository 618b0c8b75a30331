"""The closed loop on real phones: a task reaches the responder's inbox, is accepted with no
network, arrives when the network is back, and the dispatcher's queue shows who has it; the
second person to accept is told who was first."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, LiveServer, screenshot
from tests.browser.test_outbox import inspector_scope, settle
from tests.browser.test_shell import sign_in, wait_for_worker, watch_console

pytestmark = pytest.mark.browser


def new_context(browser: Any, live_server: LiveServer) -> Any:
    context = browser.new_context(**PHONE, locale="zh-CN", base_url=live_server.url)
    context.set_default_timeout(10_000)
    return context


def csrf(context: Any) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "gs_csrf")


def report_as(context: Any, page: Any, enterprise_id: int) -> str:
    """A hazard reported through the plain form (the dispatcher's desk, online)."""
    hazard_id = str(uuid.uuid4())
    response = page.request.post(
        "/hazards/new",
        multipart={
            "_csrf_token": csrf(context),
            "id": hazard_id,
            "enterprise_id": str(enterprise_id),
            "severity": "general",
            "category": "fire",
            "description": "消防通道堵塞，需立即清理",
        },
        max_redirects=0,
    )
    assert response.status == 303, response.text()
    return hazard_id


def test_accept_offline_and_the_second_is_told(
    browser: Any, phone: Any, live_server: LiveServer
) -> None:
    enterprise_id, _ = inspector_scope(live_server)
    desk_context = new_context(browser, live_server)
    other_context = new_context(browser, live_server)
    try:
        desk = desk_context.new_page()
        desk.goto("/signin")
        sign_in(desk, "dispatcher")
        hazard_id = report_as(desk_context, desk, enterprise_id)

        # The dispatcher offers it to the street's responder and the grid's inspector.
        desk.goto(f"/hazards/{hazard_id}")
        form = desk.locator("[data-assign-form]")
        [responder_id] = live_server.query("SELECT id FROM app_user WHERE username = 'responder'")[
            0:1
        ]
        [inspector_id] = live_server.query("SELECT id FROM app_user WHERE username = 'inspector'")[
            0:1
        ]
        form.locator(f"input[name=people][value='{responder_id[0]}']").check()
        form.locator(f"input[name=people][value='{inspector_id[0]}']").check()
        form.locator("button[type=submit]").click()
        expect(desk.locator("[data-open-task]")).to_have_attribute("data-task-state", "offered")
        task_id = live_server.query(
            "SELECT id FROM task WHERE hazard_id = ? AND state = 'offered'", hazard_id
        )[0][0]

        # The responder's phone: the task is in the inbox (no push needed).
        page = phone.new_page()
        errors = watch_console(page)
        page.goto("/signin?next=/tasks")
        sign_in(page, "responder")
        wait_for_worker(page)
        page.goto("/tasks")
        item = page.locator(f"[data-task-id='{task_id}']")
        expect(item).to_have_attribute("data-task-state", "offered")
        settle(page)

        # In a basement: Accept is kept on the phone.
        phone.set_offline(True)
        item.locator(f"[data-accept='{task_id}']").click()
        expect(item.locator("[data-kept-offline='task.accept']")).to_be_visible()
        queued = page.evaluate("() => GridSafeOutbox.list()")
        assert [(q["name"], q["args"]["task_id"], q["state"]) for q in queued] == [
            ("task.accept", task_id, "pending")
        ]
        assert live_server.query("SELECT state FROM task WHERE id = ?", task_id) == [("offered",)]
        screenshot(page, "task-accepted-offline")

        # The inspector, offered the same task, has it open on their phone meanwhile.
        other = other_context.new_page()
        other.goto("/signin")
        sign_in(other, "inspector")
        other.goto(f"/tasks/{task_id}")
        expect(other.locator(f"[data-accept='{task_id}']")).to_be_visible()

        # Back above ground: it goes by itself (here: the reconnect handler, or a nudge).
        phone.set_offline(False)
        page.evaluate("() => GridSafeOutbox.sync()")
        page.wait_for_function(
            "async () => (await GridSafeOutbox.list()).every((item) => item.state === 'done')"
        )
        responder_name = live_server.query(
            "SELECT display_name FROM app_user WHERE username = 'responder'"
        )[0][0]
        assert live_server.query("SELECT state, accepted_by FROM task WHERE id = ?", task_id) == [
            ("accepted", responder_id[0])
        ]

        # The dispatcher's queue (kept fresh by htmx) shows who has it.
        desk.goto("/dispatch")
        row = desk.locator(f"[data-hazard-id='{hazard_id}']")
        expect(row).to_have_attribute("data-state", "rectifying")
        expect(row.locator("[data-holder]")).to_contain_text(responder_name)

        # The inspector taps Accept too late, and is told who was first.
        other.locator(f"[data-accept='{task_id}']").click()
        refusal = other.locator("[data-error-code='task.taken']")
        expect(refusal).to_contain_text(re.compile(f"已由{re.escape(responder_name)}接收"))
        # htmx and Chromium report the request that could not leave the phone; nothing else.
        offline = ("htmx:sendError", "htmx:afterRequest", "net::ERR_INTERNET_DISCONNECTED")
        assert [e for e in errors if not any(mark in e for mark in offline)] == []
        assert any("net::ERR_INTERNET_DISCONNECTED" in e for e in errors)
    finally:
        desk_context.close()
        other_context.close()
