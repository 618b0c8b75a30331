"""From a task to its place: the responder's task page opens the phone's map app there, with
the position as each app reads it (geo: in WGS-84, AMap in GCJ-02)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from backend.geo import wgs84_to_gcj02
from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_loop import new_context
from tests.browser.test_outbox import inspector_scope
from tests.browser.test_severity import report
from tests.browser.test_shell import sign_in, watch_console

pytestmark = pytest.mark.browser

# Where the inspector stood when reporting (WGS-84, as the phone's GPS gave it): 青山区.
LATITUDE, LONGITUDE = 30.6398, 114.3857


def test_the_task_page_navigates_to_the_place(browser: Any, live_server: LiveServer) -> None:
    enterprise_id, _ = inspector_scope(live_server)
    inspector_context = new_context(browser, live_server)
    desk_context = new_context(browser, live_server)
    responder_context = new_context(browser, live_server)
    try:
        field = inspector_context.new_page()
        field.goto("/signin")
        sign_in(field, "inspector")
        hazard_id = report(
            inspector_context,
            field,
            enterprise_id,
            "general",
            latitude=str(LATITUDE),
            longitude=str(LONGITUDE),
            accuracy_m="6",
        )
        assert live_server.query(
            "SELECT latitude, longitude FROM hazard WHERE id = ?", hazard_id
        ) == [(LATITUDE, LONGITUDE)]

        desk = desk_context.new_page()
        desk.goto(f"/signin?next=/hazards/{hazard_id}")
        sign_in(desk, "dispatcher")
        [(responder_id,)] = live_server.query(
            "SELECT id FROM app_user WHERE username = 'responder'"
        )
        form = desk.locator("[data-assign-form]")
        form.locator(f"input[name=people][value='{responder_id}']").check()
        form.locator("button[type=submit]").click()
        expect(desk.locator("[data-open-task]")).to_have_attribute("data-task-state", "offered")
        [(task_id,)] = live_server.query(
            "SELECT id FROM task WHERE hazard_id = ? AND state = 'offered'", hazard_id
        )

        page = responder_context.new_page()
        errors = watch_console(page)
        page.goto(f"/signin?next=/tasks/{task_id}")
        sign_in(page, "responder")
        geo = page.locator("[data-navigate-geo]")
        amap = page.locator("[data-navigate-amap]")
        expect(geo).to_be_visible()
        expect(amap).to_be_visible()

        # geo: (RFC 5870) is WGS-84: the position as stored, with a labelled pin.
        href = str(geo.get_attribute("href"))
        point = f"{LATITUDE:.6f},{LONGITUDE:.6f}"
        assert href.startswith(f"geo:{point}?q={point}("), href

        # AMap is told the position is GCJ-02, and it is: a few hundred metres from the GPS fix.
        url = urlsplit(str(amap.get_attribute("href")))
        assert (url.scheme, url.netloc, url.path) == ("https", "uri.amap.com", "/navigation")
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        longitude, latitude = wgs84_to_gcj02(LONGITUDE, LATITUDE)
        to_longitude, to_latitude, _name = query["to"].split(",", 2)
        assert (float(to_longitude), float(to_latitude)) == pytest.approx(
            (longitude, latitude), abs=1e-6
        )
        assert abs(float(to_longitude) - LONGITUDE) > 0.003  # really moved, not WGS-84
        assert (query["coordinate"], query["callnative"]) == ("gaode", "1")

        # Both are real links a tap opens: large enough to hit on a phone.
        for link in (geo, amap):
            box = link.bounding_box()
            assert box is not None
            assert min(box["height"], box["width"]) >= 44
        screenshot(page, "task-navigation")
        assert errors == []
    finally:
        inspector_context.close()
        desk_context.close()
        responder_context.close()
