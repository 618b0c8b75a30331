"""The notification outbox dispatch calls: rows written in the caller's transaction, delivery
queued only after it commits, and receipts (delivered, seen, accepted) recorded per person.

A notification that was written is never lost: if queuing fails (the broker is down), its
deliveries stay pending and the beat sweep (backend/push/tasks.py) sends them later."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from sqlalchemy import Table, insert, select, update
from sqlmodel import Session

from backend.errors import AppError
from backend.models import Channel, Delivery, DeliveryState, Notification, PushSubscription, utcnow
from backend.settings import Settings

log = logging.getLogger(__name__)

Receipt = Literal["delivered", "seen", "accepted"]
N: Table = Notification.__table__  # type: ignore[attr-defined]
D: Table = Delivery.__table__  # type: ignore[attr-defined]
S: Table = PushSubscription.__table__  # type: ignore[attr-defined]
RECEIPT_COLUMNS = {"delivered": "delivered_at", "seen": "seen_at", "accepted": "accepted_at"}


def _local_url(url: str) -> str:
    # Opened by the service worker and redirected to by /notifications/<id>/open: only paths on
    # this server, never another site.
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        raise ValueError(f"a notification URL must be a path on this server, not {url!r}")
    return url


def notify(
    session: Session,
    *,
    user_ids: Iterable[int],
    kind: str,
    title: str,
    body: str,
    url: str,
    data: Mapping[str, Any] | None = None,
    actions: Sequence[Mapping[str, str]] = (),
    hazard_id: str | None = None,
    task_id: str | None = None,
) -> list[int]:
    """Add one notification per person, with a pending delivery per push subscription and one for
    the second channel, in the caller's transaction. Sends nothing and does not commit: call
    `send_after_commit` once the transaction is committed. Returns the notification ids."""
    recipients = list(dict.fromkeys(int(user_id) for user_id in user_ids))
    if not recipients:
        return []
    now = utcnow()
    common = {
        "kind": kind,
        "title": title[:200],
        "body": body[:1000],
        "url": _local_url(url)[:500],
        "data": dict(data or {}),
        "actions": [dict(action) for action in actions],
        "hazard_id": hazard_id,
        "task_id": task_id,
        "created_at": now,
    }
    rows = session.execute(
        insert(N).returning(N.c.id, N.c.user_id, sort_by_parameter_order=True),
        [{"user_id": user_id, **common} for user_id in recipients],
    ).all()
    notification_of = {int(user_id): int(notification_id) for notification_id, user_id in rows}
    subscriptions = session.execute(
        select(S.c.id, S.c.user_id).where(S.c.user_id.in_(recipients))
    ).all()
    pending = {"state": DeliveryState.PENDING.value, "attempts": 0, "next_attempt_at": now}
    deliveries = [
        {
            "notification_id": notification_of[int(user_id)],
            "channel": Channel.WEBPUSH.value,
            "subscription_id": int(subscription_id),
            **pending,
        }
        for subscription_id, user_id in subscriptions
    ]
    deliveries += [
        {
            "notification_id": notification_id,
            "channel": Channel.SECOND.value,
            "subscription_id": None,
            **pending,
        }
        for notification_id in notification_of.values()
    ]
    session.execute(insert(D), deliveries)
    return [notification_of[user_id] for user_id in recipients]


def notify_many(session: Session, messages: Sequence[Mapping[str, Any]]) -> list[int]:
    """`notify` for many notifications at once (the escalation sweep's batch): each message is
    one person's row (`user_id`, `kind`, `title`, `body`, `url`, `data`, `actions`, `hazard_id`,
    `task_id`), written with one insert per table. Returns the ids, in the messages' order."""
    if not messages:
        return []
    now = utcnow()
    rows = [
        {
            "user_id": int(message["user_id"]),
            "kind": message["kind"],
            "title": str(message["title"])[:200],
            "body": str(message["body"])[:1000],
            "url": _local_url(str(message["url"]))[:500],
            "data": dict(message.get("data") or {}),
            "actions": [dict(action) for action in message.get("actions") or ()],
            "hazard_id": message.get("hazard_id"),
            "task_id": message.get("task_id"),
            "created_at": now,
        }
        for message in messages
    ]
    ids = [
        int(row[0])
        for row in session.execute(
            insert(N).returning(N.c.id, sort_by_parameter_order=True), rows
        ).all()
    ]
    recipients = sorted({row["user_id"] for row in rows})
    devices: dict[int, list[int]] = {}
    for subscription_id, user_id in session.execute(
        select(S.c.id, S.c.user_id).where(S.c.user_id.in_(recipients))
    ).all():
        devices.setdefault(int(user_id), []).append(int(subscription_id))
    pending = {"state": DeliveryState.PENDING.value, "attempts": 0, "next_attempt_at": now}
    deliveries = []
    for notification_id, row in zip(ids, rows, strict=True):
        deliveries += [
            {
                "notification_id": notification_id,
                "channel": Channel.WEBPUSH.value,
                "subscription_id": subscription_id,
                **pending,
            }
            for subscription_id in devices.get(row["user_id"], [])
        ]
        deliveries.append(
            {
                "notification_id": notification_id,
                "channel": Channel.SECOND.value,
                "subscription_id": None,
                **pending,
            }
        )
    session.execute(insert(D), deliveries)
    return ids


def send_after_commit(settings: Settings, notification_ids: Sequence[int]) -> None:
    """Queue the delivery of committed notifications. Never raises: with the broker down the
    deliveries stay pending and the beat sweep sends them once it is back."""
    from backend.push.tasks import enqueue  # the Celery side imports this module

    ids = sorted({int(notification_id) for notification_id in notification_ids})
    if not ids:
        return
    try:
        enqueue(settings, ids)
    except Exception as error:
        log.warning(
            "could not queue delivery of notifications %s (%s: %s); the sweep will send them",
            ids[:20],
            error.__class__.__name__,
            error,
        )


def mark(
    session: Session,
    *,
    user_id: int,
    event: Receipt,
    notification_id: int | None = None,
    task_id: str | None = None,
) -> None:
    """Record that a person's notification reached the device, was opened, or its task was
    accepted. Only the first time counts. A notification id that is not this person's answers
    `not_found`; a task id marks all of their notifications about that task (maybe none)."""
    if (notification_id is None) == (task_id is None):
        raise ValueError("mark() needs exactly one of notification_id and task_id")
    column = N.c[RECEIPT_COLUMNS[event]]
    mine = N.c.user_id == user_id
    if notification_id is not None:
        owned = session.execute(select(N.c.id).where(N.c.id == notification_id, mine)).first()
        if owned is None:
            raise AppError("not_found")
        which = N.c.id == notification_id
    else:
        which = N.c.task_id == task_id
    now = utcnow()
    session.execute(update(N).where(which, mine, column.is_(None)).values({column: now}))
    if event == "accepted":
        # Accepted (from the notification or the task page) means the person has seen it; it
        # says nothing about whether a push reached a device, so delivered_at is left alone.
        session.execute(update(N).where(which, mine, N.c.seen_at.is_(None)).values(seen_at=now))
