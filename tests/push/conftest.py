"""Push fixtures: the loopback push service, settings pointed at it, and a Celery worker on a
queue of its own (parallel test runs share Redis and must not take each other's tasks)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from celery import Celery
from celery.beat import EmbeddedService
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select
from sqlmodel import Session

from backend.models import PushSubscription, User
from backend.push.vapid import resolve
from backend.settings import Settings
from backend.worker import celery_app, configure
from tests.push.receiver import Device, Receiver
from tests.test_worker import forget_connections


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    service = Receiver(hang_seconds=2.5, webhook_secret="webhook-test-secret").start()
    yield service
    service.stop()


def with_changes(settings: Settings, **changes: Any) -> Settings:
    """A copy of the settings with some fields changed (Settings is frozen)."""
    fields = settings.model_dump()
    return Settings(**{**fields, **changes})


@pytest.fixture
def push_settings(settings: Settings, receiver: Receiver) -> Settings:
    changed = with_changes(
        settings,
        push_timeout_seconds=1.0,
        push_sweep_seconds=1,
        push_max_attempts=4,
        second_channel="none",
    )
    receiver.expected_vapid_key = resolve(changed).public_key
    return changed


def user_id(db: Session, username: str) -> int:
    found = db.execute(select(User.id).where(User.username == username)).scalar_one()
    return int(found)


def subscribe(db: Session, username: str, device: Device) -> int:
    row = PushSubscription(
        user_id=user_id(db, username),
        endpoint=device.endpoint,
        p256dh=device.p256dh,
        auth=device.auth,
        device="test",
    )
    db.add(row)
    db.commit()
    assert row.id is not None
    return row.id


@contextmanager
def beat_on(settings: Settings) -> Iterator[None]:
    """Celery beat, embedded in a thread of this process (so it sends to this test's queue),
    ticking on the real schedule from backend/worker.py."""
    service = EmbeddedService(
        celery_app, thread=True, schedule_filename=str(settings.data_dir / "beat-schedule")
    )
    service.start()
    try:
        yield
    finally:
        service.stop()
        service.join(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def forget_routing(app: Celery) -> None:
    """Drop the app's cached queues: a worker started with `queues=[…]` narrows them in place,
    and the next test's worker would consume from this test's queue."""
    app.__dict__.pop("amqp", None)


@contextmanager
def worker_on(settings: Settings, broker_url: str) -> Iterator[Settings]:
    """A real worker (solo pool) consuming a queue named for this test only; yields the settings
    it runs with (the web side sends with the same broker URL)."""
    worker_settings = with_changes(settings, broker_url=broker_url)
    app = configure(worker_settings)
    forget_connections(app)
    forget_routing(app)
    queue = f"gridsafe-test-{uuid.uuid4().hex}"
    app.conf.update(task_default_queue=queue)
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=[queue]
        ):
            yield worker_settings
    finally:
        app.conf.update(task_default_queue="celery")
        forget_connections(app)
        forget_routing(app)
