"""An inspection done where there is no network: the checklist opens from the copy the phone
kept, the answers (a photo included) wait in the outbox, and the server records the inspection
exactly once when the network is back."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_outbox import (
    inspector_scope,
    keep_checklist,
    outbox_items,
    picture,
    settle,
)
from tests.browser.test_shell import sign_in, wait_for_worker, watch_console

pytestmark = pytest.mark.browser


def test_an_inspection_recorded_offline_reaches_the_server_once(
    phone: Any, live_server: LiveServer
) -> None:
    page = phone.new_page()
    errors = watch_console(page)
    page.goto("/signin")
    sign_in(page, "inspector")
    wait_for_worker(page)
    enterprise_id, _ = inspector_scope(live_server)
    keep_checklist(page, enterprise_id)
    settle(page)

    # In the plant, no signal: the checklist opens from the kept copy.
    phone.set_offline(True)
    page.reload()
    form = page.locator("#inspection-form")
    expect(form).to_be_visible()
    items = form.locator("fieldset[data-item]")
    item_ids = [int(i) for i in items.evaluate_all("(all) => all.map((f) => f.dataset.item)")]
    assert len(item_ids) >= 2
    marker = f"裂缝 {uuid.uuid4().hex[:8]}"
    for item_id in item_ids:
        choice = "fail" if item_id == item_ids[0] else "pass"
        form.locator(f"input[name=result_{item_id}][value={choice}]").check()
    form.locator(f"input[name=note_{item_ids[0]}]").fill(marker)
    form.locator(f"input[name=photo_{item_ids[0]}]").set_input_files(
        [picture("jpeg", (640, 480), "orange")]
    )
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-kept-offline='inspection.record']")).to_be_visible()
    [queued] = outbox_items(page)
    assert (queued["name"], queued["state"]) == ("inspection.record", "pending")
    inspection_id = queued["args"]["id"]
    assert len(queued["args"]["photos"]) == 1
    assert live_server.query("SELECT id FROM inspection WHERE id = ?", inspection_id) == []
    screenshot(page, "inspection-kept-offline")

    # Back above ground: the outbox sends it (the photo first), and once only.
    phone.set_offline(False)
    page.evaluate("() => GridSafeOutbox.sync()")
    page.wait_for_function(
        "async () => (await GridSafeOutbox.list()).every((item) => item.state !== 'pending'"
        " && item.state !== 'sending')"
    )
    assert [item["state"] for item in outbox_items(page)] in ([], ["received"])
    page.evaluate("() => GridSafeOutbox.sync()")
    stored = live_server.query(
        "SELECT id, enterprise_id, kind FROM inspection WHERE id IN"
        " (SELECT inspection_id FROM inspection_result WHERE note = ?)",
        marker,
    )
    assert stored == [(inspection_id, enterprise_id, "inspection")]
    results = live_server.query(
        "SELECT item_id, result FROM inspection_result WHERE inspection_id = ?", inspection_id
    )
    assert sorted(results) == sorted(
        (item_id, "fail" if item_id == item_ids[0] else "pass") for item_id in item_ids
    )
    photos = live_server.query(
        "SELECT item_id FROM inspection_photo WHERE inspection_id = ?", inspection_id
    )
    assert photos == [(item_ids[0],)]

    # The inspection's page, online, offers the failed item's hazard report.
    page.goto(f"/inspections/{inspection_id}")
    expect(page.locator("[data-report-link]")).to_have_count(1)
    offline = ("htmx:sendError", "htmx:afterRequest", "net::ERR_INTERNET_DISCONNECTED")
    assert [e for e in errors if not any(mark in e for mark in offline)] == []


def test_with_a_network_the_form_records_at_once(phone: Any, live_server: LiveServer) -> None:
    """The same form online: sent by htmx, recorded by the page, and the person lands on it."""
    page = phone.new_page()
    errors = watch_console(page)
    page.goto("/signin")
    sign_in(page, "inspector")
    enterprise_id, _ = inspector_scope(live_server)
    page.goto(f"/enterprises/{enterprise_id}/inspect")
    form = page.locator("#inspection-form")
    marker = f"online {uuid.uuid4().hex[:8]}"
    for item_id in form.locator("fieldset[data-item]").evaluate_all(
        "(all) => all.map((f) => f.dataset.item)"
    ):
        form.locator(f"input[name=result_{item_id}][value=na]").check()
        form.locator(f"input[name=note_{item_id}]").fill(marker)
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/inspections/*")
    inspection_id = page.url.rsplit("/", 1)[1]
    stored = live_server.query(
        "SELECT DISTINCT inspection_id FROM inspection_result WHERE note = ?", marker
    )
    assert stored == [(inspection_id,)]
    assert outbox_items(page) == []
    assert errors == []
