"""Scratch databases for the benchmarks that fill their own: is PostgreSQL there, and a throw-away
database on it (created and dropped here)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError


def say(message: str) -> None:
    print(message, flush=True)


def postgres_problem(admin_url: str) -> str:
    """Why the PostgreSQL server cannot be used (empty when it can)."""
    engine = create_engine(admin_url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return error.__class__.__name__
    finally:
        engine.dispose()
    return ""


@contextlib.contextmanager
def postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A fresh database named `prefix` + a random suffix, dropped on the way out."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
