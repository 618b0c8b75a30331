"""A cancelled warning stops reaching phones, on SQLite and PostgreSQL: the alarm's pushes still
waiting in the outbox are withdrawn in the cancel's transaction, and the sweep and the worker's
delivery code then send the cancel notices through the loopback push service, never the alarm."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from alembic import command
from sqlalchemy import select
from sqlmodel import Session

from backend.cli import alembic_config
from backend.db import make_engine, make_session_factory
from backend.models import Delivery, Notification, utcnow
from backend.push import delivery
from backend.push.outbox import notify
from backend.settings import Settings
from backend.warnings import services
from backend.warnings.targeting import Targeting
from tests.push.conftest import subscribe, user_id
from tests.push.receiver import Receiver
from tests.test_warnings import principal_of

REACHED = Targeting(roles=("grid_inspector", "street_responder"))


def alarm(db: Session, title: str) -> str:
    """A warning from the district to its inspectors and responders, committed with no worker
    running: every delivery stays pending."""
    draft = services.Draft(title, "orange", "大风", "", utcnow() + timedelta(hours=2), REACHED)
    warning = services.send(db, principal_of(db, "district"), draft, utcnow())
    db.commit()
    return warning.id


def notifications_of(db: Session, warning_id: str, *kinds: str) -> list[int]:
    return list(
        db.execute(
            select(Notification.id).where(
                Notification.data["warning_id"].as_string() == warning_id,
                Notification.kind.in_(kinds),  # type: ignore[attr-defined]
            )
        ).scalars()
    )


def states(db: Session, notification_ids: list[int]) -> list[str]:
    db.expire_all()
    return sorted(
        db.execute(
            select(Delivery.state).where(Delivery.notification_id.in_(notification_ids))  # type: ignore[attr-defined]
        ).scalars()
    )


def test_cancel_withdraws_the_alarms_waiting_and_only_the_notices_are_sent(
    push_settings: Settings, receiver: Receiver, db: Session
) -> None:
    phone, tablet = receiver.device(), receiver.device()
    subscribe(db, "inspector", phone)
    subscribe(db, "responder", tablet)
    cancelled = alarm(db, "大风橙色预警")
    services.renotify(db, principal_of(db, "district"), cancelled, utcnow())
    db.commit()
    kept = alarm(db, "暴雨橙色预警")  # another warning to the same people: not touched
    task = notify(
        db,
        user_ids=[user_id(db, "inspector")],
        kind="task.assigned",
        title="新任务",
        body="请尽快受理",
        url="/notifications",
    )
    db.commit()
    alarms = notifications_of(db, cancelled, "warning.sent", "warning.renotified")
    assert set(states(db, alarms)) == {"pending"}
    # A worker holds the responder's first alarm (its lease runs): it may be handing it over.
    [held] = db.execute(
        select(Notification.id).where(
            Notification.id.in_(alarms),  # type: ignore[attr-defined]
            Notification.user_id == user_id(db, "responder"),
            Notification.kind == "warning.sent",
        )
    ).scalars()
    jobs = delivery.load(db, delivery.claim(db, [held], utcnow()))
    assert len(jobs) == 2  # the tablet and the second channel

    services.cancel(db, principal_of(db, "district"), cancelled, "误报", utcnow())
    db.commit()

    waiting = [n for n in alarms if n != held]
    withdrawn = states(db, waiting)
    assert len(withdrawn) >= 4  # both devices and the second channel, alarm and reminder
    assert set(withdrawn) == {"withdrawn"}
    assert states(db, [held]) == ["withdrawn", "withdrawn"]
    # The worker's attempt fails after all: it is not put back in the queue for a retry.
    delivery.record(db, push_settings, jobs, [delivery.Outcome("retry", "503")] * len(jobs))
    assert states(db, [held]) == ["withdrawn", "withdrawn"]
    notices = notifications_of(db, cancelled, "warning.cancelled")
    assert notices
    assert set(states(db, notices)) == {"pending"}
    assert set(states(db, notifications_of(db, kept, "warning.sent") + task)) == {"pending"}

    # The beat sweep, once the pending rows are past their grace: it never lists a withdrawn
    # alarm, nor the held one whose lease has not run out.
    with time_machine.travel(utcnow() + timedelta(seconds=push_settings.push_sweep_seconds + 1)):
        overdue = delivery.overdue(db, push_settings)
    assert not set(overdue) & set(alarms)
    assert set(notices) <= set(overdue)
    engine = make_engine(push_settings.resolved_database_url)
    try:
        factory = make_session_factory(engine, push_settings)
        # A late queue message for the alarms (a retry's countdown, a lost message resent).
        assert dict(delivery.deliver(push_settings, factory, alarms).counts) == {}
        report = delivery.deliver(push_settings, factory, overdue)
    finally:
        engine.dispose()
    assert receiver.errors == []
    assert report.counts["sent"] == len(receiver.pushes)
    got: dict[str, list[tuple[str, Any]]] = {phone.token: [], tablet.token: []}
    for push in receiver.pushes:
        got[push.token].append((push.payload["kind"], push.payload["data"].get("warning_id")))
    for token in (phone.token, tablet.token):
        assert ("warning.cancelled", cancelled) in got[token]
        assert ("warning.sent", kept) in got[token]
        assert ("warning.sent", cancelled) not in got[token]
        assert ("warning.renotified", cancelled) not in got[token]
    assert ("task.assigned", None) in got[phone.token]
    assert set(states(db, waiting)) == {"withdrawn"}
    rows = db.execute(
        select(Delivery.attempts, Delivery.sent_at).where(
            Delivery.notification_id.in_(waiting)  # type: ignore[attr-defined]
        )
    ).all()
    assert len(rows) == len(withdrawn)
    assert all(row == (0, None) for row in rows)


def test_downgrade_turns_withdrawn_into_failed_with_a_note(
    push_settings: Settings, db: Session
) -> None:
    """0014 down: the old constraint has no 'withdrawn'; such rows say failed, and why."""
    warning_id = alarm(db, "大风橙色预警")
    services.cancel(db, principal_of(db, "district"), warning_id, "误报", utcnow())
    db.commit()
    alarms = notifications_of(db, warning_id, "warning.sent")
    notices = notifications_of(db, warning_id, "warning.cancelled")
    assert set(states(db, alarms)) == {"withdrawn"}
    db.close()
    config = alembic_config(push_settings.resolved_database_url)
    command.downgrade(config, "0013")
    assert set(states(db, alarms)) == {"failed"}
    notes = db.execute(
        select(Delivery.last_error).where(Delivery.notification_id.in_(alarms))  # type: ignore[attr-defined]
    ).scalars()
    assert set(notes) == {"withdrawn: the warning was cancelled before it was sent"}
    assert set(states(db, notices)) == {"pending"}
    db.close()
    command.upgrade(config, "head")
