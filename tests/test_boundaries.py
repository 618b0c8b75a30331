"""`sync/` stays independent of the web framework, the ORM, the broker and the backend."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = (
    "litestar",
    "sqlalchemy",
    "sqlmodel",
    "celery",
    "kombu",
    "redis",
    "pydantic",
    "backend",
)


def test_sync_imports_no_framework() -> None:
    code = (
        "import sys, sync, sync.engine, sync.pull, sync.registry, sync.protocol;"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
