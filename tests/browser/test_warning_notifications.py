"""A warning's notifications on a real Chromium: the cancel notice replaces the alarm it withdraws
(one tag per warning, re-alerting) instead of sitting beside it; other pushes keep their own."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, service_worker_registration
from tests.browser.test_shell import sign_in, wait_for_worker, watch_console

pytestmark = pytest.mark.browser

SHOWN = """async () => (await (await navigator.serviceWorker.ready).getNotifications())
    .map((n) => ({ tag: n.tag, title: n.title, renotify: n.renotify, id: n.data.id }))"""


def shown_once(page: Any, *titles: str) -> list[dict[str, Any]]:
    """The notifications on screen once the worker has shown every one with these titles (two
    pushes are handled side by side: the second may be shown before the first)."""
    deadline = time.monotonic() + 10
    while True:
        shown: list[dict[str, Any]] = page.evaluate(SHOWN)
        on_screen = {n["title"] for n in shown}
        if set(titles) <= on_screen or time.monotonic() > deadline:
            return shown
        page.wait_for_timeout(50)


def test_the_cancel_notice_replaces_the_alarm_and_alerts_again(
    phone: Any, live_server: LiveServer
) -> None:
    phone.grant_permissions(["notifications"])
    page = phone.new_page()
    errors = watch_console(page)
    page.goto("/signin?next=/notifications")
    sign_in(page, "inspector")
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.goto("/notifications")  # a page loaded once the worker is active: it controls it
    wait_for_worker(page)
    cdp, registration = service_worker_registration(phone, page)
    warning_id = str(uuid.uuid4())
    base = 2_000_000_000  # far above the shared server's notification ids: no receipt lands

    def push(number: int, kind: str, title: str, data: dict[str, Any]) -> None:
        message = {
            "id": base + number,
            "kind": kind,
            "title": title,
            "body": "",
            "url": "/notifications",
            "actions": [],
            "data": data,
            "task_id": None,
            "hazard_id": None,
        }
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": live_server.url,
                "registrationId": registration,
                "data": json.dumps(message, ensure_ascii=False),
            },
        )

    push(1, "warning.sent", "[橙色预警] 大风", {"warning_id": warning_id})
    push(2, "task.assigned", "新任务", {"task_id": None})
    before = shown_once(page, "[橙色预警] 大风", "新任务")
    assert {n["tag"] for n in before} == {f"gridsafe-warning-{warning_id}", f"gridsafe-{base + 2}"}
    push(3, "warning.cancelled", "已撤销 [橙色预警] 大风", {"warning_id": warning_id})
    shown = sorted(shown_once(page, "已撤销 [橙色预警] 大风"), key=lambda n: n["id"])
    assert shown == [
        {"tag": f"gridsafe-{base + 2}", "title": "新任务", "renotify": False, "id": base + 2},
        {
            "tag": f"gridsafe-warning-{warning_id}",
            "title": "已撤销 [橙色预警] 大风",
            "renotify": True,
            "id": base + 3,
        },
    ]
    assert errors == []
