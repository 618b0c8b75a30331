"""Gzip for text answers only, keeping the Vary values the service worker relies on."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from backend.compression import compressible
from tests.conftest import sign_in

GZIP = {"Accept-Encoding": "gzip"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_text_is_gzipped_and_keeps_its_vary_images_are_not(client: TestClient[Any]) -> None:
    sign_in(client, "inspector")
    page = client.get("/enterprises", headers=GZIP)
    assert page.headers["content-encoding"] == "gzip"
    vary = {value.strip() for value in page.headers["vary"].split(",")}
    assert {"HX-Request", "Accept-Encoding"} <= vary
    assert "<html" in page.text
    script = client.get("/static/vendor/htmx.min.js", headers=GZIP)
    assert script.headers["content-encoding"] == "gzip"
    pulled = client.get("/api/v1/sync/pull", headers=GZIP)
    assert pulled.status_code == 200
    assert pulled.headers["content-encoding"] == "gzip"
    icon = client.get("/icons/icon-512.png", headers=GZIP)
    assert "content-encoding" not in icon.headers
    small = client.get("/healthz", headers=GZIP)
    assert "content-encoding" not in small.headers  # under the minimum size
    plain = client.get("/enterprises", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/html; charset=utf-8", True),
        ("text/javascript; charset=utf-8", True),
        ("application/json", True),
        ("application/manifest+json", True),
        ("application/geo+json", True),
        ("application/problem+json; charset=utf-8", True),
        ("image/svg+xml", True),
        ("text/event-stream", False),
        ("image/png", False),
        ("image/jpeg", False),
        ("application/octet-stream", False),
        ("", False),
    ],
)
def test_only_text_is_compressible(content_type: str, expected: bool) -> None:
    assert compressible(content_type) is expected
