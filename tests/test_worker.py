"""A real Celery worker runs GridSafe's jobs, on Redis (production) and on the embedded broker."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select
from sqlmodel import Session

from backend.auth.jobs import purge_expired_sessions
from backend.cli import worker_command
from backend.models import User, UserSession, utcnow
from backend.settings import Settings
from backend.worker import celery_app, configure
from tests.services import REDIS_URL, require_redis


def forget_connections(app: Celery) -> None:
    """Drop the cached broker pool, producer pool and result backend, as Celery does after a fork,
    so the next test's broker URL is used."""
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@pytest.fixture
def configured(settings: Settings) -> Iterator[Celery]:
    """The app pointed at this test's settings."""
    app = configure(settings)
    forget_connections(app)
    yield app
    forget_connections(app)


def add_sessions(db: Session) -> None:
    user = db.execute(select(User).where(User.username == "inspector")).scalar_one()
    assert user.id is not None
    now = utcnow()
    db.add(UserSession(token_hash="a" * 64, user_id=user.id, expires_at=now - timedelta(minutes=1)))
    db.add(UserSession(token_hash="b" * 64, user_id=user.id, expires_at=now + timedelta(hours=1)))
    db.commit()


def remaining(db: Session) -> list[str]:
    db.expire_all()
    return list(db.execute(select(UserSession.token_hash)).scalars())


@pytest.mark.redis
def test_purge_runs_on_a_real_worker_over_redis(configured: Celery, db: Session) -> None:
    require_redis()
    configured.conf.update(broker_url=REDIS_URL, result_backend=REDIS_URL)
    add_sessions(db)
    with start_worker(configured, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert purge_expired_sessions.delay().get(timeout=20) == 1
    assert remaining(db) == ["b" * 64]


def test_purge_runs_on_the_embedded_broker(configured: Celery, db: Session, tmp_path: Path) -> None:
    """What `make run` uses on a fresh machine: a SQLite file as broker, no server."""
    configured.conf.update(
        broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}",
        result_backend=f"db+sqlite:///{tmp_path / 'results.sqlite3'}",
    )
    add_sessions(db)
    with start_worker(configured, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert purge_expired_sessions.delay().get(timeout=30) == 1
    assert remaining(db) == ["b" * 64]


def test_importing_the_worker_connects_to_nothing() -> None:
    assert celery_app.conf.broker_url  # lazily resolved from settings
    assert "beat_schedule" in celery_app.conf
    assert "gridsafe.purge_expired_sessions" in {
        entry["task"] for entry in celery_app.conf.beat_schedule.values()
    }


def test_the_worker_that_gridsafe_run_starts_keeps_running(tmp_path: Path) -> None:
    """`make run` starts this command beside the web server; a bad option makes it exit at once
    (as `worker --quiet` did), and then nothing escalates and no push is ever sent."""
    env = {**os.environ, "GRIDSAFE_DATA_DIR": str(tmp_path), "GRIDSAFE_BROKER_URL": ""}
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(worker_command(), env=env, stdout=output, stderr=output)
        try:
            time.sleep(4)
            assert worker.poll() is None, log.read_text(errors="replace")
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
