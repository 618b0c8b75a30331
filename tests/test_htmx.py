"""One URL, page or fragment: what htmx gets after a change, and what a re-rendered form holds."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from backend.demo.seed import DEMO_PASSWORD
from backend.models import Enterprise, Unit, UserSession
from tests.conftest import csrf_token, enterprise_in, post_form, sign_in

HTMX = {"HX-Request": "true"}
GRID = "420107001001"
NEW_CODE = "91420107MA4KLJ5E3Y"  # a valid credit code no demo enterprise has
HIDDEN_CSRF = re.compile(r'<input type="hidden" name="_csrf_token" value="([^"]*)"')


def new_enterprise(db: Session, **changes: str) -> dict[str, str]:
    grid = db.execute(select(Unit.id).where(Unit.code == GRID)).scalar_one()
    return {
        "name": "武汉新建化工有限公司",
        "credit_code": NEW_CODE,
        "industry": "hazardous_chemicals",
        "grid_id": str(grid),
        **changes,
    }


def created_id(db: Session) -> int | None:
    db.rollback()
    return db.execute(select(Enterprise.id).where(Enterprise.credit_code == NEW_CODE)).scalar()


def sessions(db: Session) -> int:
    db.rollback()
    return int(db.execute(select(func.count()).select_from(UserSession)).scalar_one())


def assert_client_redirect(response: Any, url: str) -> None:
    """htmx follows a 303 inside its request and would swap the next page into the form;
    a 200 with HX-Redirect makes it navigate instead."""
    assert response.status_code == 200, response.text
    assert response.headers["hx-redirect"] == url
    assert "location" not in response.headers
    assert "HX-Request" in response.headers["vary"]


def test_creating_an_enterprise_with_htmx_navigates_to_its_card(
    client: TestClient[Any], db: Session
) -> None:
    sign_in(client, "district")
    response = post_form(client, "/enterprises/new", new_enterprise(db), headers=HTMX)
    enterprise_id = created_id(db)
    assert enterprise_id is not None
    assert_client_redirect(response, f"/enterprises/{enterprise_id}")


def test_a_plain_enterprise_form_gets_a_303(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "district")
    response = post_form(client, "/enterprises/new", new_enterprise(db))
    enterprise_id = created_id(db)
    assert enterprise_id is not None
    assert response.status_code == 303
    assert response.headers["location"] == f"/enterprises/{enterprise_id}"


def test_editing_an_enterprise_with_htmx_navigates_to_its_card(
    client: TestClient[Any], db: Session
) -> None:
    target = enterprise_in(db, GRID)
    form = {
        "name": target.name,
        "credit_code": target.credit_code,
        "industry": target.industry,
        "grid_id": str(target.grid_id),
        "contact_phone": "02786001234",
    }
    sign_in(client, "district")
    response = post_form(client, f"/enterprises/{target.id}/edit", form, headers=HTMX)
    assert_client_redirect(response, f"/enterprises/{target.id}")
    db.rollback()
    assert db.get(Enterprise, target.id).contact_phone == "02786001234"  # type: ignore[union-attr]


def test_a_422_fragment_of_the_enterprise_form_keeps_its_csrf_field(
    client: TestClient[Any], db: Session
) -> None:
    """Without it the form would work only while htmx adds the header, not as a plain form."""
    sign_in(client, "district")
    token = csrf_token(client)
    response = post_form(client, "/enterprises/new", new_enterprise(db, name=""), headers=HTMX)
    assert response.status_code == 422
    assert response.text.lstrip().startswith('<form id="enterprise-form"')
    assert 'data-error-code="validation_failed"' in response.text
    assert 'data-field-error="name"' in response.text
    assert HIDDEN_CSRF.findall(response.text) == [token]
    assert created_id(db) is None


def test_sign_in_with_htmx_sets_the_cookie_and_navigates(
    client: TestClient[Any], db: Session
) -> None:
    form = {"username": "inspector", "password": DEMO_PASSWORD, "next": "/enterprises"}
    response = post_form(client, "/signin", form, headers=HTMX)
    assert_client_redirect(response, "/enterprises")
    assert "gs_session=" in response.headers["set-cookie"]
    assert sessions(db) == 1
    assert client.get("/", follow_redirects=False).status_code == 200


def test_a_failed_htmx_sign_in_is_the_form_with_its_csrf_field(client: TestClient[Any]) -> None:
    token = csrf_token(client)
    form = {"username": "inspector", "password": "wrong-password"}
    response = post_form(client, "/signin", form, headers=HTMX)
    assert response.status_code == 422
    assert 'data-error-code="invalid_credentials"' in response.text
    assert HIDDEN_CSRF.findall(response.text) == [token]


def test_sign_out_with_htmx_ends_the_session_and_navigates(
    client: TestClient[Any], db: Session
) -> None:
    sign_in(client, "inspector")
    assert sessions(db) == 1
    response = post_form(client, "/signout", {}, headers=HTMX)
    assert_client_redirect(response, "/signin")
    assert sessions(db) == 0


def test_language_switch_with_htmx_sets_the_cookie_and_navigates(
    client: TestClient[Any],
) -> None:
    form = {"lang": "en", "next": "/signin?next=/enterprises"}
    response = post_form(client, "/language", form, headers=HTMX)
    assert_client_redirect(response, "/signin?next=/enterprises")
    assert "gs_lang=en" in response.headers["set-cookie"]
    plain = post_form(client, "/language", {"lang": "zh", "next": "/signin"})
    assert (plain.status_code, plain.headers["location"]) == (303, "/signin")
    assert "gs_lang=zh" in plain.headers["set-cookie"]
