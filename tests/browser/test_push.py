"""The push switch and the service worker in a real Chromium. Headless Chromium cannot get a real
push subscription (no vendor push service here), so `pushManager.subscribe` is stubbed to return
a subscription whose endpoint is the loopback push service; everything after that is real."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from backend.db import make_engine, make_session_factory
from backend.push import delivery
from backend.push.outbox import notify
from backend.settings import Settings
from tests.browser.conftest import SECRET, LiveServer, screenshot, service_worker_registration
from tests.browser.test_loop import csrf, new_context
from tests.browser.test_shell import sign_in, wait_for_worker, watch_console
from tests.push.receiver import Device, Receiver

pytestmark = pytest.mark.browser

STUB = """
([endpoint, p256dh, auth]) => {
  const fake = {
    endpoint: endpoint,
    expirationTime: null,
    toJSON() { return { endpoint: endpoint, expirationTime: null, keys: { p256dh: p256dh, auth: auth } }; },
    async unsubscribe() { localStorage.removeItem("fake-push"); return true; },
  };
  PushManager.prototype.subscribe = async function (options) {
    if (!options || !options.userVisibleOnly || options.applicationServerKey.byteLength !== 65) {
      throw new Error("subscribe called without a VAPID key");
    }
    localStorage.setItem("fake-push", "1");
    return fake;
  };
  PushManager.prototype.getSubscription = async function () {
    return localStorage.getItem("fake-push") ? fake : null;
  };
}
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    service = Receiver().start()
    yield service
    service.stop()


def server_settings(server: LiveServer) -> Settings:
    return Settings(
        env="dev", data_dir=server.data_dir, database_url="", secret_key=SECRET, broker_url=""
    )


def wait_for_row(server: LiveServer, sql: str, *params: object) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = server.query(sql, *params)
        if rows:
            return rows
        time.sleep(0.1)
    raise AssertionError(f"no row for {sql}")


def enable_push(page: Any, device: Device) -> None:
    page.add_init_script(f"({STUB})({json.dumps([device.endpoint, device.p256dh, device.auth])})")
    page.goto("/signin?next=/notifications")
    sign_in(page, "responder")
    page.goto("/notifications")
    control = page.locator("[data-push-control]")
    expect(control).to_have_attribute("data-push-state", "off")
    control.locator("[data-push-toggle]").click()
    expect(control).to_have_attribute("data-push-state", "on")


def quiet_enterprise(live_server: LiveServer) -> int:
    """An enterprise in the dispatcher's street that no hazard names yet: its queue is ours."""
    street = live_server.query(
        "SELECT unit.path FROM app_user JOIN unit ON unit.id = app_user.unit_id"
        " WHERE app_user.username = 'dispatcher'"
    )[0][0]
    rows = live_server.query(
        "SELECT enterprise.id FROM enterprise JOIN unit ON unit.id = enterprise.grid_id"
        " WHERE unit.path LIKE ? AND NOT EXISTS"
        " (SELECT 1 FROM hazard WHERE hazard.enterprise_id = enterprise.id)"
        " ORDER BY enterprise.id DESC LIMIT 1",
        street + "%",
    )
    return int(rows[0][0])


def assign_to_responder(
    context: Any, desk: Any, live_server: LiveServer, enterprise_id: int
) -> str:
    """The dispatcher reports a hazard at the enterprise and offers it to the responder alone;
    the task's id."""
    hazard_id = str(uuid.uuid4())
    response = desk.request.post(
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
    [(responder_id,)] = live_server.query("SELECT id FROM app_user WHERE username = 'responder'")
    desk.goto(f"/hazards/{hazard_id}")
    form = desk.locator("[data-assign-form]")
    form.locator(f"input[name=people][value='{responder_id}']").check()
    form.locator("button[type=submit]").click()
    expect(desk.locator("[data-open-task]")).to_have_attribute("data-task-state", "offered")
    [(task_id,)] = live_server.query(
        "SELECT id FROM task WHERE hazard_id = ? AND state = 'offered'", hazard_id
    )
    return str(task_id)


def test_enabling_push_stores_a_subscription_that_receives_real_pushes(
    phone: Any,
    live_server: LiveServer,
    receiver: Receiver,
) -> None:
    phone.grant_permissions(["notifications"])
    page = phone.new_page()
    errors = watch_console(page)
    device = receiver.device()
    enable_push(page, device)
    [(user,)] = wait_for_row(
        live_server,
        "SELECT app_user.username FROM push_subscription JOIN app_user"
        " ON app_user.id = push_subscription.user_id WHERE endpoint = ?",
        device.endpoint,
    )
    assert user == "responder"

    # A dispatch to the responder reaches the subscription the page stored, encrypted and signed.
    settings = server_settings(live_server)
    engine = make_engine(settings.resolved_database_url)
    try:
        factory = make_session_factory(engine)
        with factory() as session:
            ids = dispatch(session)
        report = delivery.deliver(settings, factory, ids)
    finally:
        engine.dispose()
    assert report.counts["sent"] >= 1
    [push] = receiver.wait_for(1)
    assert push.payload["title"] == "新任务"
    assert receiver.errors == []

    page.reload()
    expect(page.locator("[data-inbox] li").first).to_contain_text("新任务")
    screenshot(page, "push-inbox")

    # Turning it off removes the subscription on the server.
    page.locator("[data-push-toggle]").click()
    expect(page.locator("[data-push-control]")).to_have_attribute("data-push-state", "off")
    assert (
        live_server.query("SELECT id FROM push_subscription WHERE endpoint = ?", device.endpoint)
        == []
    )
    assert errors == []


def dispatch(session: Session) -> list[int]:
    from sqlalchemy import select

    from backend.models import User

    responder = session.execute(select(User.id).where(User.username == "responder")).scalar_one()
    ids = notify(
        session,
        user_ids=[int(responder)],
        kind="task.assigned",
        title="新任务",
        body="请尽快受理",
        url="/notifications",
        actions=[{"action": "accept", "title": "接受"}],
        task_id="00000000-0000-4000-8000-000000000001",
    )
    session.commit()
    return ids


def test_the_service_worker_shows_every_push_and_reports_it_delivered(
    phone: Any,
    live_server: LiveServer,
    receiver: Receiver,
) -> None:
    phone.grant_permissions(["notifications"])
    page = phone.new_page()
    enable_push(page, receiver.device())
    wait_for_worker(page)
    settings = server_settings(live_server)
    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as session:
            [notification_id] = dispatch(session)
    finally:
        engine.dispose()
    # The browser's push service, stood in for by DevTools: a push arrives at the worker.
    cdp, registration_id = service_worker_registration(phone, page)
    message = {
        "id": notification_id,
        "kind": "task.assigned",
        "title": "新任务",
        "body": "请尽快受理",
        "url": "/notifications",
        "actions": [{"action": "accept", "title": "接受"}],
        "data": {},
        "task_id": "00000000-0000-4000-8000-000000000001",
    }
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": live_server.url,
            "registrationId": registration_id,
            "data": json.dumps(message, ensure_ascii=False),
        },
    )
    wait_for_row(
        live_server,
        "SELECT delivered_at FROM notification WHERE id = ? AND delivered_at IS NOT NULL",
        notification_id,
    )
    shown = page.evaluate(
        """async () => (await (await navigator.serviceWorker.ready).getNotifications())
            .map((n) => [n.title, n.body, n.data.task_id, n.actions.map((a) => a.action)])"""
    )
    assert ["新任务", "请尽快受理", message["task_id"], ["accept"]] in shown
    # Leave the shared server as it was: no subscription pointing at a receiver that is gone.
    page.locator("[data-push-toggle]").click()
    expect(page.locator("[data-push-control]")).to_have_attribute("data-push-state", "off")


CLICK = """
async ([action, data, title]) => {
  // The real notificationclick listener, given a notification the test made; window handling
  // is recorded instead (a headless click cannot focus or open windows).
  const opened = [];
  Object.defineProperty(self.clients, "matchAll", { value: async () => [], configurable: true });
  Object.defineProperty(self.clients, "openWindow", {
    value: async (url) => { opened.push(url); return null; }, configurable: true,
  });
  const waits = [];
  const event = new Event("notificationclick");
  Object.defineProperty(event, "action", { value: action });
  Object.defineProperty(event, "notification", { value: { title: title, data: data, close() {} } });
  event.waitUntil = (promise) => waits.push(promise);
  self.dispatchEvent(event);
  await Promise.all(waits);
  return opened;
}
"""


def test_accept_from_the_notification_of_a_real_task_accepts_it_even_offline(
    browser: Any,
    phone: Any,
    live_server: LiveServer,
    receiver: Receiver,
) -> None:
    """The whole way: the dispatcher assigns, the push service carries the push to the service
    worker, the responder taps Accept on the notification with no network, and once the network
    is back the task is the responder's in the database."""
    phone.grant_permissions(["notifications"])
    page = phone.new_page()
    enable_push(page, receiver.device())
    wait_for_worker(page)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    desk_context = new_context(browser, live_server)
    try:
        desk = desk_context.new_page()
        desk.goto("/signin")
        sign_in(desk, "dispatcher")
        task_id = assign_to_responder(
            desk_context, desk, live_server, quiet_enterprise(live_server)
        )
    finally:
        desk_context.close()
    [(notification_id, responder_id)] = live_server.query(
        "SELECT notification.id, app_user.id FROM notification JOIN app_user"
        " ON app_user.id = notification.user_id"
        " WHERE notification.task_id = ? AND app_user.username = 'responder'",
        task_id,
    )

    # The push leaves the server for the (loopback) push service, which decrypts it as the phone
    # would; the push service hands it to the phone's service worker (DevTools stands in for it).
    settings = server_settings(live_server)
    engine = make_engine(settings.resolved_database_url)
    try:
        report = delivery.deliver(settings, make_session_factory(engine), [notification_id])
    finally:
        engine.dispose()
    assert report.counts["sent"] >= 1
    [push] = receiver.wait_for(1)
    assert receiver.errors == []
    cdp, registration_id = service_worker_registration(phone, page)
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": live_server.url,
            "registrationId": registration_id,
            "data": json.dumps(push.payload, ensure_ascii=False),
        },
    )
    wait_for_row(
        live_server,
        "SELECT delivered_at FROM notification WHERE id = ? AND delivered_at IS NOT NULL",
        notification_id,
    )
    shown = page.evaluate(
        """async (taskId) => (await (await navigator.serviceWorker.ready).getNotifications())
            .filter((n) => n.data && n.data.task_id === taskId)
            .map((n) => ({ title: n.title, data: n.data, actions: n.actions.map((a) => a.action) }))""",
        task_id,
    )
    [notification] = shown
    assert notification["actions"] == ["accept", "decline"]
    assert notification["data"]["id"] == notification_id
    worker = phone.service_workers[0]

    # In a basement: Accept on the notification is kept in the outbox, nothing reaches the server.
    phone.set_offline(True)
    opened = worker.evaluate(CLICK, ["accept", notification["data"], notification["title"]])
    assert opened == [f"{live_server.url}/tasks/{task_id}"]
    accepts = [
        i for i in page.evaluate("() => GridSafeOutbox.list()") if i["name"] == "task.accept"
    ]
    assert [(i["args"], i["state"], i["summary"]) for i in accepts] == [
        ({"task_id": task_id}, "pending", notification["title"])
    ]
    assert live_server.query("SELECT state FROM task WHERE id = ?", task_id) == [("offered",)]
    assert live_server.query("SELECT seen_at FROM notification WHERE id = ?", notification_id) == [
        (None,)
    ]

    # Back online, the outbox sends the accept and the server applies it: the task is taken.
    phone.set_offline(False)
    page.evaluate("() => GridSafeOutbox.sync()")
    [sent] = [i for i in page.evaluate("() => GridSafeOutbox.list()") if i["name"] == "task.accept"]
    assert sent["state"] == "received"
    assert live_server.query("SELECT state, accepted_by FROM task WHERE id = ?", task_id) == [
        ("accepted", responder_id)
    ]
    wait_for_row(
        live_server,
        "SELECT accepted_at FROM notification WHERE id = ? AND accepted_at IS NOT NULL",
        notification_id,
    )
    # Decline on a notification opens the task with its decline form.
    opened = worker.evaluate(CLICK, ["decline", notification["data"], notification["title"]])
    assert opened == [f"{live_server.url}/tasks/{task_id}?decline=1"]
    page.locator("[data-push-toggle]").click()
    expect(page.locator("[data-push-control]")).to_have_attribute("data-push-state", "off")
