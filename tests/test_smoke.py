"""The app serves its sign-in page and a signed-in home page on both databases."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.conftest import sign_in


def test_home_after_sign_in(client: TestClient[Any]) -> None:
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/signin")
    sign_in(client, "inspector")
    page = client.get("/")
    assert page.status_code == 200
    assert "红卫路第1网格网格员" in page.text
