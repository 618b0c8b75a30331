"""Dispatch → web push, end to end: a real Celery worker, the loopback push service that checks
the VAPID signature and decrypts each push, and the rows that record what happened."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from backend.models import Delivery, Notification, PushSubscription
from backend.push import delivery
from backend.push.outbox import notify, send_after_commit
from backend.push.tasks import deliver
from backend.settings import Settings
from tests.push.conftest import (
    beat_on,
    free_port,
    subscribe,
    user_id,
    with_changes,
    worker_on,
)
from tests.push.receiver import HANG, Receiver
from tests.services import REDIS_URL, require_redis

ACTIONS = [{"action": "accept", "title": "接受"}, {"action": "decline", "title": "拒绝"}]


def dispatch(db: Session, username: str, **extra: Any) -> list[int]:
    """What the task service does: notification rows in its own transaction, then commit."""
    task_id = str(uuid.uuid4())
    ids = notify(
        db,
        user_ids=[user_id(db, username)],
        kind="task.assigned",
        title="新任务：红卫路 危化品仓库",
        body="受理期限 11-25 18:00",
        url=f"/tasks/{task_id}",
        data={"task_id": task_id},
        actions=ACTIONS,
        task_id=task_id,
        **extra,
    )
    db.commit()
    return ids


def deliveries(db: Session, notification_ids: list[int]) -> list[Delivery]:
    db.expire_all()
    return list(
        db.execute(
            select(Delivery)
            .where(Delivery.notification_id.in_(notification_ids))  # type: ignore[attr-defined]
            .order_by(Delivery.id)  # type: ignore[arg-type]
        ).scalars()
    )


def wait_until(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def settled(db: Session, notification_ids: list[int]) -> bool:
    return all(row.state not in ("pending", "sending") for row in deliveries(db, notification_ids))


@pytest.mark.redis
def test_dispatch_sends_one_encrypted_push_per_device_of_the_assignee(
    push_settings: Settings, receiver: Receiver, db: Session
) -> None:
    require_redis()
    phone, tablet, other = receiver.device(), receiver.device(), receiver.device()
    subscribe(db, "responder", phone)
    subscribe(db, "responder", tablet)
    subscribe(db, "inspector", other)  # not the assignee: gets nothing
    web = with_changes(
        push_settings,
        second_channel="webhook",
        second_channel_url=receiver.webhook_url,
        second_channel_secret=receiver.webhook_secret,
    )
    with worker_on(web, REDIS_URL) as settings:
        ids = dispatch(db, "responder")
        send_after_commit(settings, ids)
        pushes = receiver.wait_for(2)
        wait_until(lambda: settled(db, ids))
    assert receiver.errors == []
    assert sorted(p.token for p in pushes) == sorted([phone.token, tablet.token])
    assert receiver.pushes_for(other) == []
    notification = db.get(Notification, ids[0])
    assert notification is not None
    for push in pushes:
        assert push.payload == {
            "id": ids[0],
            "kind": "task.assigned",
            "title": "新任务：红卫路 危化品仓库",
            "body": "受理期限 11-25 18:00",
            "url": notification.url,
            "actions": ACTIONS,
            "data": {"task_id": notification.task_id},
            "task_id": notification.task_id,
            "hazard_id": None,
        }
        assert push.headers["ttl"] == str(settings.push_ttl_seconds)
        assert push.headers["urgency"] == "high"
        assert push.claims["sub"] == settings.vapid_subject
    rows = deliveries(db, ids)
    assert sorted((r.channel, r.state, r.attempts) for r in rows) == [
        ("second", "sent", 1),
        ("webpush", "sent", 1),
        ("webpush", "sent", 1),
    ]
    assert all(r.sent_at is not None for r in rows)
    # The second channel got the same message, signed, with the person's phone number.
    assert len(receiver.webhook_calls) == 1
    call = receiver.webhook_calls[0]
    assert (call["notification_id"], call["username"], call["title"]) == (
        ids[0],
        "responder",
        "新任务：红卫路 危化品仓库",
    )
    subscriptions = db.execute(select(PushSubscription)).scalars().all()
    assert {s.endpoint for s in subscriptions if s.last_success_at} == {
        phone.endpoint,
        tablet.endpoint,
    }


@pytest.mark.redis
def test_a_subscription_the_push_service_calls_gone_is_deleted(
    push_settings: Settings, receiver: Receiver, db: Session
) -> None:
    require_redis()
    gone, alive = receiver.device(), receiver.device()
    gone_id = subscribe(db, "responder", gone)
    subscribe(db, "responder", alive)
    receiver.script(gone, 410)
    with worker_on(push_settings, REDIS_URL) as settings:
        ids = dispatch(db, "responder")
        send_after_commit(settings, ids)
        receiver.wait_for(1)
        wait_until(lambda: settled(db, ids))
    assert [p.token for p in receiver.pushes] == [alive.token]
    assert db.get(PushSubscription, gone_id) is None
    rows = [r for r in deliveries(db, ids) if r.channel == "webpush"]
    assert sorted(r.state for r in rows) == ["gone", "sent"]
    assert [r.subscription_id for r in rows if r.state == "gone"] == [None]
    # The next dispatch does not try the dead device again.
    assert receiver.attempts[gone.token] == 1


@pytest.mark.redis
def test_a_push_service_that_times_out_or_answers_5xx_is_retried_until_sent(
    push_settings: Settings, receiver: Receiver, db: Session
) -> None:
    require_redis()
    slow, failing = receiver.device(), receiver.device()
    subscribe(db, "responder", slow)
    subscribe(db, "responder", failing)
    receiver.script(slow, HANG)  # longer than push_timeout_seconds
    receiver.script(failing, 503, 500)
    with worker_on(push_settings, REDIS_URL) as settings:
        ids = dispatch(db, "responder")
        send_after_commit(settings, ids)
        receiver.wait_for(2, timeout=30)
        wait_until(lambda: settled(db, ids), timeout=30)
    assert receiver.errors == []
    assert sorted(p.token for p in receiver.pushes) == sorted([slow.token, failing.token])
    assert receiver.attempts[slow.token] == 2
    assert receiver.attempts[failing.token] == 3
    attempts = {
        r.subscription_id: r.attempts for r in deliveries(db, ids) if r.channel == "webpush"
    }
    assert sorted(attempts.values()) == [2, 3]
    assert {r.state for r in deliveries(db, ids)} == {"sent", "skipped"}


@pytest.mark.redis
def test_with_the_broker_down_at_dispatch_the_sweep_sends_once_it_is_back(
    push_settings: Settings, receiver: Receiver, db: Session
) -> None:
    require_redis()
    phone = receiver.device()
    subscribe(db, "responder", phone)
    down = with_changes(push_settings, broker_url=f"redis://127.0.0.1:{free_port()}/0")
    ids = dispatch(db, "responder")
    started = time.monotonic()
    send_after_commit(down, ids)  # logged, never raised
    assert time.monotonic() - started < 5
    assert {r.state for r in deliveries(db, ids)} == {"pending"}
    # The broker is back: a worker, and beat sweeping every push_sweep_seconds (1 s here).
    with worker_on(push_settings, REDIS_URL), beat_on(push_settings):
        receiver.wait_for(1, timeout=30)
        wait_until(lambda: settled(db, ids))
        # Beat keeps sweeping, and a late copy of the original message turns up: nothing more.
        deliver.delay(ids)
        time.sleep(3)
    assert [p.token for p in receiver.pushes] == [phone.token]
    assert receiver.attempts[phone.token] == 1
    assert [r.attempts for r in deliveries(db, ids) if r.channel == "webpush"] == [1]


@pytest.mark.redis
def test_a_delivery_task_run_twice_sends_once(
    push_settings: Settings, receiver: Receiver, db: Session
) -> None:
    require_redis()
    devices = [receiver.device() for _ in range(3)]
    for device in devices:
        subscribe(db, "responder", device)
    with worker_on(push_settings, REDIS_URL) as settings:
        ids = dispatch(db, "responder")
        send_after_commit(settings, ids)
        send_after_commit(settings, ids)
        deliver.delay(ids)
        receiver.wait_for(3)
        wait_until(lambda: settled(db, ids))
        time.sleep(1)
    assert sorted(receiver.attempts.values()) == [1, 1, 1]
    assert len(receiver.pushes) == 3


def test_the_embedded_broker_delivers_too(
    push_settings: Settings, receiver: Receiver, db: Session, tmp_path: Path
) -> None:
    """What `make run` uses on a fresh machine: a SQLite file as broker, no server."""
    phone = receiver.device()
    subscribe(db, "responder", phone)
    with worker_on(push_settings, f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}") as settings:
        ids = dispatch(db, "responder")
        send_after_commit(settings, ids)
        receiver.wait_for(1, timeout=30)
    assert receiver.errors == []
    assert receiver.pushes[0].payload["id"] == ids[0]


def test_claims_are_exclusive(push_settings: Settings, receiver: Receiver, db: Session) -> None:
    """The conditional UPDATE hands a delivery to one claimant only, until its lease ends."""
    subscribe(db, "responder", receiver.device())
    ids = dispatch(db, "responder")
    now = delivery.utcnow()
    first = delivery.claim(db, ids, now)
    assert len(first) == 2  # the device and the second channel
    assert delivery.claim(db, ids, now) == []
    assert sorted(delivery.claim(db, ids, now + delivery.LEASE)) == sorted(first)
