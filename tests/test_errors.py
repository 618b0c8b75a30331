"""One error handler: JSON problem details under /api, a translated page elsewhere, never a trace."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient
from sqlalchemy import update
from sqlmodel import Session

from backend.app import create_app
from backend.models import User
from backend.settings import Settings
from tests.conftest import csrf_token, sign_in


@get("/api/v1/boom", sync_to_thread=False)
def api_boom() -> None:
    raise RuntimeError("secret internals: password=hunter2")


@get("/boom", sync_to_thread=False)
def page_boom() -> None:
    raise RuntimeError("secret internals: password=hunter2")


@pytest.fixture
def broken_app(settings: Settings) -> Litestar:
    app = create_app(settings)
    app.register(api_boom)
    app.register(page_boom)
    return app


def test_an_unexpected_error_shows_no_trace(
    broken_app: Litestar, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(broken_app, raise_server_exceptions=False) as client:
        api = client.get("/api/v1/boom")
        assert api.status_code == 500
        assert api.headers["content-type"].startswith("application/problem+json")
        assert api.json()["code"] == "internal_error"
        page = client.get("/boom", headers={"accept-language": "en"})
        assert page.status_code == 500
        assert 'data-error-code="internal_error"' in page.text
        for body in (api.text, page.text):
            assert "hunter2" not in body
            assert "Traceback" not in body
            assert "RuntimeError" not in body
    assert "hunter2" in caplog.text  # it is logged for the operators instead


def test_not_found_in_both_languages(client: TestClient[Any]) -> None:
    sign_in(client, "inspector")
    zh = client.get("/enterprises/999999")
    assert zh.status_code == 404
    assert "找不到" in zh.text
    client.post("/language", data={"lang": "en", "next": "/", "_csrf_token": csrf_token(client)})
    en = client.get("/enterprises/999999")
    assert "Not found" in en.text
    assert client.get("/no-such-page").status_code == 404


def test_htmx_gets_a_fragment_not_a_page(client: TestClient[Any]) -> None:
    sign_in(client, "inspector")
    response = client.get("/enterprises/999999", headers={"hx-request": "true"})
    assert response.status_code == 404
    assert "<html" not in response.text
    assert 'data-error-code="not_found"' in response.text


def test_api_validation_errors_are_problem_details(client: TestClient[Any]) -> None:
    sign_in(client, "district")
    headers = {"x-csrftoken": csrf_token(client), "accept-language": "en"}
    bad_json = client.post(
        "/api/v1/enterprises",
        content=b"{not json",
        headers={**headers, "content-type": "application/json"},
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["code"] == "validation_failed"
    wrong_type = client.post(
        "/api/v1/enterprises", json={"name": "x", "grid_id": "abc"}, headers=headers
    )
    assert wrong_type.status_code == 400
    assert wrong_type.json()["code"] == "validation_failed"
    bad_query = client.get("/api/v1/enterprises", params={"limit": "100000"})
    assert bad_query.status_code == 400


def test_api_without_sign_in_is_401_json(client: TestClient[Any]) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_signed_in"


def test_pages_without_sign_in_redirect_to_sign_in(client: TestClient[Any]) -> None:
    response = client.get("/enterprises?q=x", follow_redirects=False)
    assert response.status_code == 303
    # The query goes along (encoded), so signing in returns to the filtered list.
    assert response.headers["location"] == "/signin?next=/enterprises%3Fq%3Dx"


def test_security_headers(client: TestClient[Any]) -> None:
    response = client.get("/signin")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "HX-Request" in {v.strip() for v in response.headers["vary"].split(",")}


def test_a_lost_signed_in_person_gets_the_nav_and_a_way_home(client: TestClient[Any]) -> None:
    """An address no route matches never passes the session middleware; its page still knows
    who is signed in, and speaks their language."""
    sign_in(client, "dispatcher")
    for path in ("/no-such-page", "/hazards/no/such/thing", "/enterprises/999999"):
        page = client.get(path)
        assert page.status_code == 404, path
        assert 'data-error-page="404"' in page.text
        assert 'class="tabs"' in page.text, path  # the app's nav
        assert 'href="/dispatch"' in page.text  # this person's own tabs
        assert "页面不存在" in page.text
        assert "data-home-link" in page.text
        assert "data-signin-link" not in page.text
    client.post("/language", data={"lang": "en", "next": "/", "_csrf_token": csrf_token(client)})
    english = client.get("/no-such-page")
    assert "Page not found" in english.text
    assert "Back to home" in english.text


def test_forbidden_page_has_the_nav(client: TestClient[Any]) -> None:
    sign_in(client, "inspector")
    page = client.get("/admin")
    assert page.status_code == 403
    assert 'data-error-page="403"' in page.text
    assert 'class="tabs"' in page.text
    assert "无权访问" in page.text


def test_a_lost_visitor_is_offered_sign_in_and_api_stays_json(client: TestClient[Any]) -> None:
    page = client.get("/no-such-page", headers={"accept-language": "en"})
    assert page.status_code == 404
    assert 'class="tabs"' not in page.text
    assert "data-signin-link" in page.text
    assert "Page not found" in page.text
    sign_in(client, "dispatcher")
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["code"] == "not_found"
    fragment = client.get("/no-such-page", headers={"hx-request": "true"})
    assert fragment.status_code == 404
    assert "<nav" not in fragment.text
    assert 'data-error-code="not_found"' in fragment.text


def test_a_lost_page_speaks_the_language_the_person_chose(
    client: TestClient[Any], db: Session
) -> None:
    """No language cookie on this browser: the account's own choice decides, which only a
    recognised session can tell."""
    db.execute(update(User).where(User.username == "dispatcher").values(locale="en"))
    db.commit()
    sign_in(client, "dispatcher")
    client.cookies.delete("gs_lang")
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert "Page not found" in page.text
    assert 'lang="en"' in page.text
