"""`make screenshots` (docs/screenshots.py) stays true to the app: every screen it photographs is
a page the app serves, and docs/screens.md shows exactly the screens the script makes. The
script itself is a docs tool and runs outside the test suite."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from litestar import Litestar

from backend.demo.seed import DEMO_USERS

ROOT = Path(__file__).resolve().parent.parent
PARAMETER = re.compile(r"\{(\w+)(?::(\w+))?\}")
PATTERNS = {"int": r"\d+", "path": r".+"}


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_screenshots", ROOT / "docs/screenshots.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script()


def page_routes(app: Litestar) -> list[re.Pattern[str]]:
    """The app's GET routes as patterns over a concrete path."""
    patterns = []
    for route in app.routes:
        if "GET" not in getattr(route, "methods", ()):
            continue
        parts = PARAMETER.split(route.path)
        # split() yields text, name, type, text, name, type, …: rebuild with a pattern per type.
        pattern = "".join(
            re.escape(part) if i % 3 == 0 else (PATTERNS.get(part or "", r"[^/]+"))
            for i, part in enumerate(parts)
            if i % 3 != 1
        )
        patterns.append(re.compile(pattern))
    return patterns


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_screen_is_a_page_the_app_serves(app: Litestar, script: Any) -> None:
    routes = page_routes(app)
    users = {user.username for user in DEMO_USERS} | {"enterprise", ""}
    names = [screen.name for screen in script.SCREENS]
    assert len(names) == len(set(names)), "two screens share a file name"
    for screen in script.SCREENS:
        path = screen.path.format(**script.SAMPLE_STATE).split("#")[0].split("?")[0]
        assert any(route.fullmatch(path) for route in routes), f"{screen.name}: no page {path}"
        assert screen.who in users, screen.name
        assert screen.who in script.ROLES, f"{screen.name}: {screen.who!r} has no heading"
        for action in (screen.before, screen.after):
            assert not action or action in script.ACTIONS, f"{screen.name}: {action}"


def test_the_docs_page_shows_what_the_script_makes(script: Any) -> None:
    assert script.PAGE.read_text() == script.markdown(script.SCREENS), (
        "docs/screens.md is not what docs/screenshots.py writes: run `make screenshots`"
    )
    shown = set(re.findall(r'src="screenshots/([\w-]+)\.png"', script.PAGE.read_text()))
    assert shown == {screen.name for screen in script.SCREENS}
    missing = [name for name in shown if not (script.OUT / f"{name}.png").is_file()]
    assert missing == [], "run `make screenshots`"
