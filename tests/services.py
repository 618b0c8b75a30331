"""Which outside services the tests can reach; with GRIDSAFE_REQUIRE_SERVICES=1 a missing one fails."""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlsplit

import pytest

REQUIRE_SERVICES = os.environ.get("GRIDSAFE_REQUIRE_SERVICES") == "1"
POSTGRES_ADMIN_URL = os.environ.get(
    "GRIDSAFE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("GRIDSAFE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("GRIDSAFE_TEST_CHROMIUM", "/usr/bin/chromium")


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("postgresql+psycopg", "postgresql"))
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2
        ):
            return True
    except OSError:
        return False


def require(name: str, available: bool) -> None:
    """Skip (or, when services are required, fail) a test whose service is missing."""
    if available:
        return
    message = f"{name} is not reachable"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}, and GRIDSAFE_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def require_postgres() -> None:
    require(f"PostgreSQL ({POSTGRES_ADMIN_URL})", _reachable(POSTGRES_ADMIN_URL, 5432))


def require_redis() -> None:
    require(f"Redis ({REDIS_URL})", _reachable(REDIS_URL, 6379))


def require_chromium() -> None:
    require(f"Chromium ({CHROMIUM})", shutil.which(CHROMIUM) is not None)
