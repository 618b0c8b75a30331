"""Static files: content-hashed names, how long browsers keep them, gzip for text only."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from backend.assets import IMMUTABLE, load_assets
from backend.pwa import PRECACHE

# What is tested here does not depend on the database.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

HASHED = re.compile(r"^/static/js/app\.[0-9a-f]{10}\.js$")


@sqlite_only
def test_pages_name_hashed_files_that_browsers_keep_for_a_year(client: TestClient[Any]) -> None:
    page = client.get("/signin")
    assets = client.app.state.assets
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert assets.url("js/app.js") in scripts
    assert HASHED.match(assets.url("js/app.js"))
    assert page.headers["cache-control"] == "private, no-cache"
    for url in scripts:
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["cache-control"] == IMMUTABLE
        assert answer.headers["content-type"].startswith("text/javascript")


@sqlite_only
def test_an_unhashed_or_older_name_gets_todays_file_checked_each_time(
    client: TestClient[Any],
) -> None:
    today = client.get(client.app.state.assets.url("js/app.js"))
    for url in ("/static/js/app.js", "/static/js/app.0123456789.js"):
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["cache-control"] == "no-cache"
        assert answer.content == today.content
    assert client.get("/static/js/no-such-file.js").status_code == 404
    assert client.get("/static/../backend/app.py").status_code == 404


@sqlite_only
@pytest.mark.parametrize("url", ["/static/js/app.js", "/sw.js", "/icons/icon-192.png"])
def test_a_file_the_browser_holds_is_answered_not_modified(
    client: TestClient[Any], url: str
) -> None:
    first = client.get(url)
    etag = first.headers["etag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert client.get(url, headers={"If-None-Match": 'W/"other"'}).status_code == 200


@sqlite_only
def test_the_worker_precaches_hashed_names_and_not_the_scanner_decoder(
    client: TestClient[Any],
) -> None:
    assets = client.app.state.assets
    worker = client.get("/sw.js").text
    [listed] = re.findall(r"^const PRECACHE = (.*);$", worker, re.MULTILINE)
    precache = json.loads(listed)
    assert precache == [assets.url(u) if u.startswith("/static/") else u for u in PRECACHE]
    assert assets.url("vendor/jsQR.js") not in precache
    assert assets.url("vendor/leaflet/leaflet.js") not in precache
    [mapped] = re.findall(r"^const ASSETS = (.*);$", worker, re.MULTILINE)
    assert json.loads(mapped)["vendor/jsQR.js"] == assets.url("vendor/jsQR.js")
    assert f'importScripts("{assets.url("js/outbox.js")}")' in worker


def served(source: Path, build: Path, path: str) -> bytes:
    assets = load_assets(source, build)
    found = assets.find(assets.url(path).removeprefix("/static/"))
    assert found is not None
    asset, current = found
    assert current
    return asset.body


def test_a_source_edited_after_the_build_is_served_as_it_is(tmp_path: Path) -> None:
    source, build = tmp_path / "static", tmp_path / "build"
    (source / "js").mkdir(parents=True)
    (build / "js").mkdir(parents=True)
    (source / "js" / "a.js").write_text("var answer = 42;\n")
    (source / "js" / "b.js").write_text("var b = 1;\n")
    (build / "js" / "a.js").write_text("var answer=42;")
    assert served(source, build, "js/a.js") == b"var answer=42;"
    assert served(source, build, "js/b.js") == b"var b = 1;\n"  # never built: the source
    later = (build / "js" / "a.js").stat().st_mtime + 10
    os.utime(source / "js" / "a.js", (later, later))
    assert served(source, build, "js/a.js") == b"var answer = 42;\n"
