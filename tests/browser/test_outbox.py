"""Offline hazard reports on a phone: kept in the outbox, sent by themselves, on the server once."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from backend.demo.seed import DEMO_PASSWORD
from tests.browser.conftest import PHONE, LiveServer, screenshot
from tests.browser.test_shell import sign_in, wait_for_worker, wait_until_cached, watch_console

pytestmark = pytest.mark.browser

WUHAN = {"latitude": 30.5801, "longitude": 114.2734, "accuracy": 8}
OUT_OF_SCOPE = "该企业不在您的管辖范围内（可能您的权限已调整）。"
# The aborted push of the lost-answer test; Chromium logs it as a console error.
CONNECTION_RESET = "Failed to load resource: net::ERR_CONNECTION_RESET"


def inspector_in_wuhan(phone: Any) -> tuple[Any, list[str]]:
    """A page on the phone, located in Wuhan, with the inspector signed in and the worker in
    control; and the console's errors, watched from the first load."""
    phone.grant_permissions(["geolocation"])
    phone.set_geolocation(WUHAN)
    page = phone.new_page()
    errors = watch_console(page)
    page.goto("/signin")
    sign_in(page, "inspector")
    wait_for_worker(page)
    return page, errors


def on_the_outbox(phone: Any, live_server: LiveServer) -> tuple[Any, list[str], int, int]:
    """The inspector signed in on the outbox page, settled, with the console watched; and an
    enterprise inside and one outside their grid."""
    page = phone.new_page()
    errors = watch_console(page)
    page.goto("/signin?next=/outbox")
    sign_in(page, "inspector")
    inside, outside = inspector_scope(live_server)
    settle(page)
    return page, errors, inside, outside


def picture(kind: str, size: tuple[int, int], colour: str) -> dict[str, Any]:
    """A camera-like photo (a JPEG) or a screenshot-like PNG, made here."""
    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).ellipse((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), "white")
    out = io.BytesIO()
    image.save(out, format=kind.upper())
    mime = "image/jpeg" if kind == "jpeg" else "image/png"
    return {"name": f"photo.{kind}", "mimeType": mime, "buffer": out.getvalue()}


def report_hazard(
    page: Any, description: str, photos: list[dict[str, Any]], **choices: str
) -> None:
    form = page.locator("#hazard-form")
    if "enterprise" in choices:
        form.locator("select[name=enterprise_id]").select_option(choices["enterprise"])
    else:
        form.locator("select[name=enterprise_id]").select_option(index=1)
    form.locator(f"input[name=severity][value={choices.get('severity', 'general')}]").check()
    form.locator("select[name=category]").select_option(choices.get("category", "electrical"))
    form.locator("textarea[name=description]").fill(description)
    if photos:
        form.locator("input[name=photos]").set_input_files(photos)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{page.url.split('/hazards')[0]}/outbox")
    expect(page.locator("[data-outbox-saved]")).to_be_visible()


def outbox_items(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate("() => GridSafeOutbox.list()"))


def settle(page: Any) -> None:
    """Let the drain the page runs when it opens finish, so the test's own drain is the next one."""
    page.wait_for_load_state("networkidle")
    page.evaluate("() => navigator.locks.request('gridsafe-outbox-drain', () => true)")


def keep_checklist(page: Any, enterprise_id: int) -> str:
    """Open an enterprise's checklist once with a signal, so the worker keeps a copy for when
    there is none; its address."""
    checklist = f"/enterprises/{enterprise_id}/inspect"
    page.goto(checklist)
    page.wait_for_function(f"async () => Boolean(await caches.match('{checklist}'))")
    return checklist


def pass_every_item_offline(page: Any, check_in_id: str) -> str:
    """On the checklist open offline, naming `check_in_id`: every item passed and sent, so it
    waits in the outbox. The queued inspection's id."""
    form = page.locator("#inspection-form")
    expect(form.locator("input[name=check_in_id]")).to_have_value(check_in_id)
    for item_id in form.locator("fieldset[data-item]").evaluate_all(
        "(all) => all.map((f) => f.dataset.item)"
    ):
        form.locator(f"input[name=result_{item_id}][value=pass]").check()
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-kept-offline='inspection.record']")).to_be_visible()
    [queued] = [e for e in outbox_items(page) if e["name"] == "inspection.record"]
    return str(queued["args"]["id"])


def inspector_scope(live_server: LiveServer) -> tuple[int, int]:
    """An enterprise the inspector may report for, and one in another district."""
    path = live_server.query(
        "SELECT unit.path FROM app_user JOIN unit ON unit.id = app_user.unit_id"
        " WHERE app_user.username = 'inspector'"
    )[0][0]
    enterprises = "SELECT enterprise.id FROM enterprise JOIN unit ON unit.id = enterprise.grid_id"
    inside = live_server.query(f"{enterprises} WHERE unit.path LIKE ? LIMIT 1", path + "%")
    outside = live_server.query(f"{enterprises} WHERE unit.path NOT LIKE ? LIMIT 1", path + "%")
    return inside[0][0], outside[0][0]


def test_reports_made_offline_reach_the_server_once_when_the_network_returns(
    phone: Any, browser: Any, live_server: LiveServer
) -> None:
    page, errors = inspector_in_wuhan(phone)
    # Kept for the basement without having been opened: the worker fetched them after sign-in.
    wait_until_cached(page, "/hazards/new")
    wait_until_cached(page, "/outbox")
    # They are kept at sign-in, maybe before the home page's first pull is over: no network
    # during that pull would fail it (and log it) before the test has begun.
    settle(page)

    marker = uuid.uuid4().hex[:8]
    camera = picture("jpeg", (2400, 1800), "darkred")
    screen = picture("png", (300, 200), "navy")
    phone.set_offline(True)
    page.goto("/hazards/new")
    report_hazard(page, f"{marker} 配电箱门敞开", [camera, screen], severity="major")
    screenshot(page, "outbox-saved-offline")
    page.goto("/hazards/new")
    report_hazard(page, f"{marker} 消防通道堵塞", [picture("png", (640, 480), "olive")])

    page.reload()
    pending = page.locator("[data-outbox-id][data-state=pending]")
    expect(pending).to_have_count(2)
    expect(pending.first).to_contain_text("保存在本机，尚未发送")
    expect(page.locator("[data-outbox-id]").first).to_contain_text("1 张照片")
    expect(page.locator(".topbar [data-outbox-count]")).to_have_text("2")
    items = outbox_items(page)
    assert [len(i["args"]["photos"]) for i in items] == [2, 1]
    assert items[0]["id"] < items[1]["id"]
    assert items[0]["args"]["latitude"] == pytest.approx(WUHAN["latitude"])
    assert [uuid.UUID(i["args"]["id"]).version for i in items] == [7, 7]
    hazards_sql = "SELECT id, latitude, client_id, mutation_id FROM hazard WHERE description LIKE ?"
    assert live_server.query(hazards_sql, f"{marker}%") == []

    # No click: the outbox notices the network and sends itself.
    phone.set_offline(False)
    received = page.locator("[data-outbox-id][data-state=received]")
    expect(received).to_have_count(2, timeout=15_000)
    expect(received.first).to_contain_text("服务器已收到")
    expect(page.locator(".topbar [data-outbox-count]")).to_be_hidden()
    screenshot(page, "outbox-received")

    rows = live_server.query(hazards_sql + " ORDER BY mutation_id", f"{marker}%")
    assert len(rows) == 2
    assert [row[0] for row in rows] == [i["args"]["id"] for i in items]
    assert rows[0][1] == pytest.approx(WUHAN["latitude"])
    assert rows[0][2] == rows[1][2] is not None
    assert [row[3] for row in rows] == [i["id"] for i in items]
    photos = live_server.query(
        "SELECT hazard_photo.hazard_id, photo.width, photo.height FROM hazard_photo"
        " JOIN photo ON photo.sha256 = hazard_photo.sha256"
        " WHERE hazard_photo.hazard_id IN (?, ?) ORDER BY hazard_photo.hazard_id, position",
        rows[0][0],
        rows[1][0],
    )
    assert [p[0] for p in photos] == [rows[0][0], rows[0][0], rows[1][0]]
    # The camera photo was made smaller on the phone before it was stored and sent.
    assert photos[0][1:] == (1600, 1200)
    applied = live_server.query(
        "SELECT status, count(*) FROM sync_mutation WHERE client_id = ? GROUP BY status", rows[0][2]
    )
    assert applied == [("applied", 2)]

    # Sending again changes nothing on the server.
    page.click("[data-outbox-sync]")
    expect(page.locator("[data-outbox-sync]")).to_be_enabled()
    assert len(live_server.query(hazards_sql, f"{marker}%")) == 2
    assert errors == []

    # The street dispatcher sees both in the hazard list.
    desk = browser.new_context(**PHONE, locale="zh-CN", base_url=live_server.url)
    try:
        other = desk.new_page()
        other.goto("/signin")
        sign_in(other, "dispatcher", DEMO_PASSWORD)
        other.goto("/hazards")
        for row in rows:
            expect(other.locator(f"li[data-hazard-id='{row[0]}']")).to_be_visible()
    finally:
        desk.close()


def test_a_refused_report_shows_why_and_does_not_hold_up_the_next(
    phone: Any, live_server: LiveServer
) -> None:
    page, errors, inside, outside = on_the_outbox(phone, live_server)
    marker = uuid.uuid4().hex[:8]
    # Queued through the outbox API, as an old copy of the form would (the enterprise has since
    # left the inspector's area), with a good report behind it: one batch, two answers.
    result = page.evaluate(
        """async ([outside, inside, marker]) => {
            const report = (enterprise, text) => GridSafeOutbox.enqueue("hazard.report", {
                id: GridSafeOutbox.uuid7(), enterprise_id: enterprise, severity: "general",
                category: "fire", description: marker + " " + text, photos: [],
            });
            const refused = await report(outside, "灭火器过期");
            const good = await report(inside, "安全出口指示灯损坏");
            const sync = await GridSafeOutbox.sync();
            return [refused.id, refused.args.id, good.id, good.args.id, sync.state];
        }""",
        [outside, inside, marker],
    )
    refused_id, refused_hazard, good_id, good_hazard, state = result
    assert state == "done"
    refused = page.locator(f"[data-outbox-id='{refused_id}']")
    expect(refused).to_have_attribute("data-state", "rejected")
    expect(refused.locator("[role=alert]")).to_have_text(OUT_OF_SCOPE)
    expect(refused.locator("[data-error-code]")).to_have_attribute(
        "data-error-code", "hazard.enterprise_out_of_scope"
    )
    expect(page.locator(f"[data-outbox-id='{good_id}']")).to_have_attribute(
        "data-state", "received"
    )
    expect(page.locator(".topbar [data-outbox-count]")).to_have_text("1")
    screenshot(page, "outbox-refused")
    hazard_sql = "SELECT enterprise_id FROM hazard WHERE id = ?"
    assert live_server.query(hazard_sql, good_hazard) == [(inside,)]
    assert live_server.query(hazard_sql, refused_hazard) == []

    # Corrected in the form it came from, and sent again as the same report.
    refused.get_by_role("link").click()
    form = page.locator("#hazard-form")
    expect(form.locator("textarea[name=description]")).to_have_value(f"{marker} 灭火器过期")
    expect(form.locator("[data-outbox-editing]")).to_be_visible()
    form.locator("select[name=enterprise_id]").select_option(str(inside))
    form.locator("button[type=submit]").click()
    expect(page.locator("[data-state=received]")).to_have_count(2)
    expect(page.locator("[data-state=rejected]")).to_have_count(0)
    assert live_server.query(hazard_sql, refused_hazard) == [(inside,)]
    assert errors == []


def test_answers_lost_on_the_way_back_are_asked_again_and_applied_once(
    phone: Any, live_server: LiveServer
) -> None:
    page, errors, inside, outside = on_the_outbox(phone, live_server)
    good, refused = page.evaluate(
        """async ([inside, outside]) => {
            const report = (enterprise, text) => GridSafeOutbox.enqueue("hazard.report", {
                id: GridSafeOutbox.uuid7(), enterprise_id: enterprise, severity: "major",
                category: "gas", description: text, photos: [],
            });
            return [await report(inside, "燃气管道泄漏"), await report(outside, "气瓶无防倒链")];
        }""",
        [inside, outside],
    )
    answers: list[int] = []

    def lose_the_answer(route: Any) -> None:
        answers.append(route.fetch().status)  # the server processes the batch...
        route.abort("connectionreset")  # ...and the phone never hears back

    page.route("**/api/v1/sync/push", lose_the_answer)
    assert page.evaluate("() => GridSafeOutbox.sync()")["state"] == "offline"
    page.unroute("**/api/v1/sync/push")
    assert answers == [200]
    hazard_sql = "SELECT count(*) FROM hazard WHERE id = ?"
    assert live_server.query(hazard_sql, good["args"]["id"]) == [(1,)]
    states = page.evaluate("() => GridSafeOutbox.list().then((l) => l.map((i) => i.state))")
    assert states == ["pending", "pending"]

    # This time the service worker sends them, as Background Sync would with no page open.
    wait_for_worker(page)
    worker = phone.service_workers[0]
    assert worker.evaluate("() => GridSafeOutbox.sync()")["state"] in ("done", "idle")
    applied = page.evaluate("(id) => GridSafeOutbox.get(id)", good["id"])
    assert (applied["state"], applied["status"]) == ("received", "duplicate")
    # A repeat of a refusal is a refusal still, with its reason, not "received".
    again = page.evaluate("(id) => GridSafeOutbox.get(id)", refused["id"])
    assert (again["state"], again["status"]) == ("rejected", "duplicate")
    assert (again["code"], again["message"]) == ("hazard.enterprise_out_of_scope", OUT_OF_SCOPE)
    assert live_server.query(hazard_sql, good["args"]["id"]) == [(1,)]
    assert live_server.query(hazard_sql, refused["args"]["id"]) == [(0,)]
    assert [e for e in errors if not e.startswith(CONNECTION_RESET)] == []


def test_without_javascript_the_form_still_posts_to_the_server(
    browser: Any, live_server: LiveServer
) -> None:
    context = browser.new_context(
        **PHONE, locale="zh-CN", base_url=live_server.url, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto("/signin")
        sign_in(page, "inspector")
        page.goto("/outbox")
        expect(page.locator("[data-outbox-list]")).to_contain_text("本机没有待发送的记录。")
        page.goto("/hazards/new")
        marker = uuid.uuid4().hex[:8]
        form = page.locator("#hazard-form")
        expect(form.locator("[data-outbox-editing]")).to_be_hidden()
        form.locator("select[name=enterprise_id]").select_option(index=1)
        form.locator("select[name=category]").select_option("dust")
        form.locator("textarea[name=description]").fill(f"{marker} 除尘器积尘")
        form.locator("input[name=photos]").set_input_files([picture("jpeg", (800, 600), "gray")])
        form.locator("button[type=submit]").click()
        expect(page.locator("[data-hazard-id]")).to_be_visible()
        hazard_id = page.locator("[data-hazard-id]").get_attribute("data-hazard-id")
        stored = live_server.query(
            "SELECT hazard.id, count(hazard_photo.sha256) FROM hazard"
            " JOIN hazard_photo ON hazard_photo.hazard_id = hazard.id"
            " WHERE hazard.description = ? GROUP BY hazard.id",
            f"{marker} 除尘器积尘",
        )
        assert stored == [(hazard_id, 1)]
    finally:
        context.close()


def test_a_check_in_made_without_network_is_sent_when_it_returns(
    phone: Any, live_server: LiveServer
) -> None:
    """The check-in page was opened by a scan; the signal then drops in the plant."""
    import qr
    from backend.codes.keys import code_path
    from backend.models import CodeKind
    from tests.browser.conftest import SECRET

    page, _ = inspector_in_wuhan(phone)
    enterprise_id, _ = inspector_scope(live_server)
    page.goto(code_path(qr.Keyring.from_secrets(SECRET), CodeKind.ENTERPRISE, enterprise_id, 1))
    form = page.locator("#check-in-form")
    expect(form).to_be_visible()
    check_in_id = form.locator("input[name=id]").input_value()
    settle(page)

    phone.set_offline(True)
    form.locator("button[type=submit]").click()
    expect(page.locator("[data-outbox-id][data-state=pending]")).to_have_count(1)
    assert page.url.split("#")[0] == f"{live_server.url}/outbox"
    sql = "SELECT enterprise_id, latitude, distance_m FROM check_in WHERE id = ?"
    assert live_server.query(sql, check_in_id) == []

    phone.set_offline(False)
    expect(page.locator("[data-outbox-id][data-state=received]")).to_have_count(1, timeout=20_000)
    [(stored_enterprise, latitude, distance)] = live_server.query(sql, check_in_id)
    assert stored_enterprise == enterprise_id
    assert latitude == pytest.approx(WUHAN["latitude"])
    assert distance is not None
