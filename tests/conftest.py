"""Shared fixtures: databases built by the real migrations (SQLite and PostgreSQL), app, clients."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine, create_engine, make_url, select, text
from sqlmodel import Session

from backend.app import create_app
from backend.cli import alembic_config
from backend.db import make_engine, make_session_factory, session_scope
from backend.demo.seed import DEMO_PASSWORD, seed
from backend.models import Enterprise, Unit
from backend.settings import Settings
from tests.services import POSTGRES_ADMIN_URL, require_postgres

ROOT = Path(__file__).resolve().parents[1]
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def build_database(url: str, with_demo: bool = True) -> None:
    command.upgrade(alembic_config(url), "head")
    if with_demo:
        engine = make_engine(url)
        with session_scope(make_session_factory(engine)) as session:
            seed(session)
        engine.dispose()


class PostgresDatabases:
    """Creates throw-away databases on the test server, copied from a migrated template."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.admin: Engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.prefix = f"gridsafe_test_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []
        self.templates: dict[bool, str] = {}

    def url_for(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        with self.admin.connect() as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
        self.created.append(name)
        return self.url_for(name)

    def fresh(self, with_demo: bool = True) -> str:
        if with_demo not in self.templates:
            url = self.create()
            build_database(url, with_demo)
            self.templates[with_demo] = make_url(url).database or ""
        return self.create(self.templates[with_demo])

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in reversed(self.created):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    require_postgres()
    databases = PostgresDatabases(POSTGRES_ADMIN_URL)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "demo.sqlite3"
    build_database(f"sqlite:///{path}")
    return path


# For a test that only makes sense on PostgreSQL (SKIP LOCKED, statement timeouts):
# @pytest.mark.parametrize("database_url", [ONLY_POSTGRESQL], indirect=True)
ONLY_POSTGRESQL = pytest.param("postgresql", marks=pytest.mark.postgres)


@pytest.fixture(params=["sqlite", ONLY_POSTGRESQL])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database with the demo data, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "gridsafe.sqlite3"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return databases.fresh()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="dev",
        data_dir=tmp_path / "data",
        database_url=database_url,
        broker_url="memory://",
        secret_key=TEST_SECRET,
    )


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app, base_url="http://testserver.local") as test_client:
        yield test_client


@pytest.fixture
def db(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.resolved_database_url)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def csrf_token(client: TestClient[Any]) -> str:
    """The CSRF cookie, fetching a page first if the client has none yet."""
    token = client.cookies.get("gs_csrf")
    if not token:
        client.get("/signin")
        token = client.cookies.get("gs_csrf")
    assert token
    return token


def sign_in(client: TestClient[Any], username: str, password: str = DEMO_PASSWORD) -> None:
    response = client.post(
        "/signin",
        data={"username": username, "password": password, "_csrf_token": csrf_token(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def post_form(client: TestClient[Any], url: str, data: dict[str, str], **kwargs: Any) -> Any:
    return client.post(
        url, data={**data, "_csrf_token": csrf_token(client)}, follow_redirects=False, **kwargs
    )


def enterprise_in(db: Session, grid_code: str) -> Enterprise:
    """The first demo enterprise in a grid."""
    return (
        db.execute(
            select(Enterprise)
            .join(Unit, Unit.id == Enterprise.grid_id)
            .where(Unit.code == grid_code)
            .order_by(Enterprise.id)
        )
        .scalars()
        .first()
    )  # type: ignore[return-value]


def form_of(enterprise: Enterprise, **changes: str) -> dict[str, str]:
    """The enterprise edit form as it stands, with some fields changed."""
    return {
        "name": enterprise.name,
        "credit_code": enterprise.credit_code,
        "industry": enterprise.industry,
        "grid_id": str(enterprise.grid_id),
        "address": enterprise.address,
        "contact_name": enterprise.contact_name,
        "contact_phone": enterprise.contact_phone,
        "latitude": str(enterprise.latitude),
        "longitude": str(enterprise.longitude),
        **changes,
    }


def sign_in_http(http: httpx.Client, username: str) -> None:
    response = http.post(
        "/signin",
        data={"username": username, "password": DEMO_PASSWORD, "_csrf_token": csrf_token(http)},  # type: ignore[arg-type]
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


# --- a real server, for what a test client cannot do: parallel requests and cut connections ---


@dataclass
class LiveServer:
    url: str
    host: str
    port: int

    def signed_in(self, username: str) -> httpx.Cookies:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            sign_in_http(http, username)
            return httpx.Cookies(http.cookies)

    def http(self, cookies: httpx.Cookies | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, cookies=cookies, timeout=60)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def uvicorn_server(env: dict[str, str], log_path: Path, *options: str) -> Iterator[str]:
    """The app in a uvicorn subprocess on a free loopback port, answering /healthz: its URL.
    Stopped (terminated, then killed) when the block ends; its output goes to `log_path`."""
    port = _free_port()
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "backend.app:create_app_from_env",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *options,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                pytest.fail(f"the server exited early:\n{log_path.read_text()}", pytrace=False)
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the server did not answer /healthz in 30 s:\n{log_path.read_text()}",
                    pytrace=False,
                )
            time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


@pytest.fixture
def live_server_env() -> dict[str, str]:
    """Extra environment for `live_server`; a test module overrides this fixture to configure it."""
    return {}


@pytest.fixture
def live_server(
    settings: Settings, tmp_path: Path, live_server_env: dict[str, str]
) -> Iterator[LiveServer]:
    """uvicorn in a subprocess on a free loopback port, on the test's database."""
    env = {
        **os.environ,
        "GRIDSAFE_ENV": "dev",
        "GRIDSAFE_DATABASE_URL": settings.resolved_database_url,
        "GRIDSAFE_DATA_DIR": str(tmp_path / "server-data"),
        "GRIDSAFE_BROKER_URL": "memory://",
        "GRIDSAFE_SECRET_KEY": TEST_SECRET,
        **live_server_env,
    }
    with uvicorn_server(env, tmp_path / "uvicorn.log", "--no-access-log") as url:
        port = int(url.rsplit(":", 1)[1])
        yield LiveServer(url, "127.0.0.1", port)
