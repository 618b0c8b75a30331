"""Every answer carries the security headers: each route of the app, and what no handler of ours
answers (an unknown address, a wrong method, a CSRF refusal, a redirect to sign-in, an error)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar, get
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from backend.app import create_app
from backend.riskviews.pages import map_csp
from backend.settings import Settings
from tests.conftest import sign_in

# Headers do not depend on the database.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# A value each kind of path parameter accepts; with 1 many routes find a real row of the demo.
DUMMY: dict[type, str] = {int: "1", str: "1", Path: "css/app.css"}


def assert_secured(response: httpx.Response, what: str) -> None:
    headers = response.headers
    assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), what
    assert headers.get("x-content-type-options") == "nosniff", what
    assert headers.get("referrer-policy") == "same-origin", what


def every_request(app: Litestar) -> list[tuple[str, str]]:
    """(method, path) for each method of each route, path parameters filled in."""
    requests = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path = route.path
        for name, parameter in route.path_parameters.items():
            path = path.replace("{" + parameter.full + "}", DUMMY[parameter.type])
            assert "{" + name not in path
        requests += [(str(method), path) for method in route.route_handler_map]
    return requests


def test_every_route_sends_them(app: Litestar, client: TestClient[Any]) -> None:
    requests = every_request(app)
    assert len(requests) > 150  # the walk found the app's routes
    sign_in(client, "city")
    statuses = set()
    for method, path in requests:
        # Changes go without a CSRF token: each is refused, and nothing changes under the walk.
        response = client.request(method, path, follow_redirects=False)
        statuses.add(response.status_code)
        assert_secured(response, f"{method} {path} -> {response.status_code}")
    assert {200, 403, 404} <= statuses


def test_answers_no_handler_of_ours_makes_send_them(app: Litestar, client: TestClient[Any]) -> None:
    @get("/test-only/fails", sync_to_thread=False)
    def fails() -> None:
        raise RuntimeError("a bug")

    app.register(fails)
    answers = {
        "signed out, sent to sign in": (client.get("/enterprises", follow_redirects=False), 303),
        "no such address": (client.get("/no/such/address"), 404),
        "wrong method": (client.delete("/signin"), 405),
        "CSRF refusal": (client.post("/signout", follow_redirects=False), 403),
        "static file": (client.get("/static/css/app.css"), 200),
        "service worker": (client.get("/sw.js"), 200),
        "server error": (client.get("/test-only/fails"), 500),
    }
    for what, (response, status) in answers.items():
        assert response.status_code == status, what
        assert_secured(response, what)


def test_a_page_that_sets_its_own_policy_keeps_it(settings: Settings) -> None:
    """The map widens img-src for its tile server: that policy goes out alone, not beside ours."""
    tiled = settings.model_copy(
        update={"map_tile_url": "https://tiles.example.org/{z}/{x}/{y}.png"}
    )
    with TestClient(create_app(tiled), base_url="http://testserver.local") as client:
        sign_in(client, "city")
        page = client.get("/map")
        assert page.headers.get_list("content-security-policy") == [
            map_csp("https://tiles.example.org/{z}/{x}/{y}.png")
        ]
        assert "https://tiles.example.org" in page.headers["content-security-policy"]
        assert_secured(page, "map")
