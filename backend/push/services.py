"""Push subscriptions per device and the inbox: every query bounded by the signed-in person."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from backend.auth.policy import Principal
from backend.errors import AppError
from backend.models import Notification, PushSubscription, utcnow

INBOX_SIZE = 50


def _decoded(value: str, size: int) -> bool:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return False
    return len(raw) == size


def check_subscription(endpoint: str, p256dh: str, auth: str, *, allow_http: bool) -> None:
    """A browser's subscription: an https push service address (plain http only in dev, for the
    loopback test service), a P-256 public key and a 16-byte auth secret."""
    errors: dict[str, str] = {}
    parts = urlsplit(endpoint)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname or len(endpoint) > 1000:
        errors["endpoint"] = "push.endpoint"
    if not (_decoded(p256dh, 65) and p256dh[:1] in "BAa" and len(p256dh) <= 200):
        errors["keys.p256dh"] = "push.keys"
    if not _decoded(auth, 16):
        errors["keys.auth"] = "push.keys"
    if errors:
        raise AppError("validation_failed", fields=errors)


def save_subscription(
    session: Session,
    principal: Principal,
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    device: str,
    allow_http: bool,
) -> tuple[int, bool]:
    """Subscribe this device, or refresh it. A browser profile that someone else signed into
    before belongs to whoever is signed in now: the endpoint moves to them. Returns (id, new)."""
    check_subscription(endpoint, p256dh, auth, allow_http=allow_http)
    values = {"user_id": principal.id, "p256dh": p256dh, "auth": auth, "device": device[:200]}
    for _ in range(2):  # a concurrent subscribe of the same endpoint wins the insert: update it
        existing = session.execute(
            select(PushSubscription.id).where(PushSubscription.endpoint == endpoint)
        ).scalar()
        if existing is not None:
            session.execute(
                update(PushSubscription).where(col(PushSubscription.id) == existing).values(values)
            )
            session.commit()
            return int(existing), False
        row = PushSubscription(endpoint=endpoint, created_at=utcnow(), **values)  # type: ignore[arg-type]
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            continue
        assert row.id is not None
        return row.id, True
    raise AppError("conflict")


def remove_subscription(session: Session, principal: Principal, endpoint: str) -> bool:
    """Unsubscribe one of this person's devices; someone else's endpoint is left alone."""
    removed = session.execute(
        delete(PushSubscription).where(
            PushSubscription.endpoint == endpoint, col(PushSubscription.user_id) == principal.id
        )
    )
    session.commit()
    return bool(getattr(removed, "rowcount", 0))


def devices(session: Session, principal: Principal) -> list[PushSubscription]:
    return list(
        session.execute(
            select(PushSubscription)
            .where(col(PushSubscription.user_id) == principal.id)
            .order_by(col(PushSubscription.created_at))
        ).scalars()
    )


def inbox(session: Session, principal: Principal, limit: int = INBOX_SIZE) -> list[Notification]:
    return list(
        session.execute(
            select(Notification)
            .where(col(Notification.user_id) == principal.id)
            .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
            .limit(limit)
        ).scalars()
    )


def unseen_count(session: Session, principal: Principal) -> int:
    rows = session.execute(
        select(col(Notification.id)).where(
            col(Notification.user_id) == principal.id, col(Notification.seen_at).is_(None)
        )
    ).all()
    return len(rows)


def own_notification(session: Session, principal: Principal, notification_id: int) -> Notification:
    """This person's notification; anyone else's answers not_found, like one that does not exist."""
    row: Notification | None = (
        session.execute(
            select(Notification).where(
                col(Notification.id) == notification_id, col(Notification.user_id) == principal.id
            )
        )
        .scalars()
        .first()
    )
    if row is None:
        raise AppError("not_found")
    return row
