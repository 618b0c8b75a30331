"""Browser fixtures: a real server subprocess on a migrated demo database, and Debian's Chromium."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import uvicorn_server
from tests.services import CHROMIUM, require_chromium

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-results"
SECRET = "browser-test-secret-key-0123456789-abcdefghij"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A cheap Android phone: what the grid inspectors carry.
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


@dataclass(frozen=True)
class LiveServer:
    url: str
    data_dir: Path

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Read the server's database directly: browser tests check what actually got stored."""
        database = self.data_dir / "gridsafe.sqlite3"
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            return connection.execute(sql, params).fetchall()

    def forget_language(self, username: str) -> None:
        """Clear a demo user's stored language after a test chose one: a stored choice beats the
        browser's, and later tests on this shared server expect the browser's."""
        database = self.data_dir / "gridsafe.sqlite3"
        with closing(sqlite3.connect(database)) as connection:
            connection.execute("UPDATE app_user SET locale = NULL WHERE username = ?", (username,))
            connection.commit()


@contextmanager
def demo_server(data_dir: Path) -> Iterator[LiveServer]:
    """The app on a freshly migrated and seeded demo database in `data_dir`."""
    env = {
        **os.environ,
        "GRIDSAFE_DATA_DIR": str(data_dir),
        "GRIDSAFE_SECRET_KEY": SECRET,
        "GRIDSAFE_RUN_WORKER": "0",
        "GRIDSAFE_DATABASE_URL": "",
        "GRIDSAFE_BROKER_URL": "",
        "GRIDSAFE_ENV": "dev",
    }
    for command in ("migrate", "seed-demo"):
        subprocess.run(
            [sys.executable, "-m", "backend.cli", command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    with uvicorn_server(env, data_dir / "server.log") as url:
        yield LiveServer(url=url, data_dir=data_dir)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_chromium()
    with demo_server(tmp_path_factory.mktemp("browser-data")) as server:
        yield server


@pytest.fixture(scope="session")
def browser(live_server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def phone(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh phone in Chinese: its own cookies, service worker and caches."""
    context = browser.new_context(**PHONE, locale="zh-CN", base_url=live_server.url)
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def english_phone(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(**PHONE, locale="en-US", base_url=live_server.url)
    context.set_default_timeout(10_000)
    yield context
    context.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def service_worker_registration(phone: Any, page: Any) -> tuple[Any, str]:
    """DevTools' handle on the page's service worker and its registration id, to hand it pushes
    as a push service would (`ServiceWorker.deliverPushMessage`)."""
    cdp = phone.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 5
    while not registrations and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    [registration] = [r for r in registrations if not r.get("isDeleted")]
    return cdp, str(registration["registrationId"])
