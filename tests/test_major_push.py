"""A push about a major hazard says so in its title, in the reader's language, on the lock
screen: the pure headline rule, and the payload a real assignment hands to the push service."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from backend.i18n import Translator
from backend.models.push import Notification
from backend.push.delivery import NOTIFICATION_FIELDS, payload
from backend.tasks.notices import headline
from tests.conftest import sign_in
from tests.test_loop import assign, reported, user_id

VALUES = {"category": "消防安全", "place": "武汉某厂", "deadline": "12-08 10:00", "reason": ""}


@pytest.mark.parametrize(
    ("locale", "kind", "severity", "title"),
    [
        ("zh", "task.offered", "major", "【重大隐患】新任务：消防安全"),
        ("zh", "task.offered", "general", "新任务：消防安全"),
        ("zh", "hazard.escalated", "major", "【重大隐患】升级督办：消防安全"),
        # Its own title already says it: not twice.
        ("zh", "hazard.supervised", "major", "重大隐患挂牌督办：消防安全"),
        ("en", "task.offered", "major", "[Major hazard] New task: 消防安全"),
        ("en", "task.offered", "general", "New task: 消防安全"),
    ],
)
def test_the_headline_says_major(locale: str, kind: str, severity: str, title: str) -> None:
    assert headline(Translator(locale), kind, severity, VALUES) == title


def pushed(db: Session, kind: str, to: int) -> dict[str, Any]:
    """What the service worker would receive for the newest notification of `kind` to `to`."""
    db.expire_all()
    row = (
        db.execute(
            select(Notification)
            .where(Notification.kind == kind, Notification.user_id == to)
            .order_by(Notification.id.desc())  # type: ignore[union-attr]
        )
        .scalars()
        .first()
    )
    assert row is not None
    return dict(json.loads(payload({name: getattr(row, name) for name in NOTIFICATION_FIELDS})))


@pytest.mark.parametrize(("severity", "marked"), [("major", True), ("general", False)])
def test_an_assigned_tasks_push_says_major(
    client: TestClient[Any], db: Session, severity: str, marked: bool
) -> None:
    hazard_id = reported(client, db, severity=severity)
    sign_in(client, "dispatcher")
    responder = user_id(db, "responder")
    assert assign(client, hazard_id, [responder]).status_code == 303
    message = pushed(db, "task.offered", responder)
    assert message["hazard_id"] == hazard_id
    assert message["title"].startswith("【重大隐患】新任务") is marked
    assert message["title"].startswith("新任务") is not marked
