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


def test_the_sync_api_is_documented(client: TestClient[Any]) -> None:
    """Push and pull are in the OpenAPI schema with their body and query, and the push documents
    no `principal` parameter (the session cookie signs it in)."""
    paths = client.get("/schema/openapi.json").json()["paths"]
    push = paths["/api/v1/sync/push"]["post"]
    assert "application/json" in push["requestBody"]["content"]
    assert not push.get("parameters")
    pull = paths["/api/v1/sync/pull"]["get"]
    assert {p["name"] for p in pull["parameters"]} == {"cursor", "client_id", "limit"}
