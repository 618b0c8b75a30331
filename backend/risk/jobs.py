"""The worker's side of rescoring (backend/risk/pending.py writes the rows): `refresh_pending`
rescores the enterprises waiting in `risk_pending` and deletes their rows in the same
transaction; the Celery task runs it after a commit's nudge, and beat every minute as the
safety net."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session

from backend.models import RiskPending, utcnow
from backend.risk.services import refresh
from backend.settings import Settings
from backend.worker import celery_app, session_factory

P = RiskPending.__table__  # type: ignore[attr-defined]
LIMIT = 2000  # rows per transaction: one refresh chunk (backend/risk/services.py CHUNK)
ROUNDS = 50  # bounded: 100,000 rows per run; the next run does the rest
# A request must not hang on a broker that is down: one quick retry, then the sweep's turn.
RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


@dataclass
class Rescored:
    enterprises: int = 0
    rows: int = 0
    rounds: int = 0


def _claim(session: Session, limit: int) -> list[Any]:
    """The oldest pending rows. On PostgreSQL they stay locked until this transaction ends and
    another worker skips them (SKIP LOCKED): two runs never rescore the same rows at once. A row
    committed after this read is not taken, so a change made while we score stays pending."""
    query = select(P.c.id, P.c.enterprise_id, P.c.at).order_by(P.c.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.execute(query).all())


def _times(rows: list[Any], now: datetime) -> dict[datetime, set[int]]:
    """Enterprises by the moment to score them at: now, or the latest `at` the sweep asked for
    if that is later (the sweep runs for a given time)."""
    latest: dict[int, datetime] = {}
    for row in rows:
        moment = max(now, row.at) if row.at is not None else now
        latest[int(row.enterprise_id)] = max(moment, latest.get(int(row.enterprise_id), moment))
    by_time: dict[datetime, set[int]] = {}
    for enterprise_id, moment in latest.items():
        by_time.setdefault(moment, set()).add(enterprise_id)
    return by_time


def refresh_pending(session: Session, limit: int = LIMIT) -> Rescored:
    """Rescore what is pending, `limit` rows per transaction, until none is left (bounded). Each
    round commits its profiles, events, alerts and the deletion of its rows together; a failure
    rolls the round back and its rows stay pending for the next run. Notifications leave after
    each commit (the after-commit hook of backend/tasks/notices.py)."""
    done = Rescored()
    for _ in range(ROUNDS):
        try:
            rows = _claim(session, limit)
            if not rows:
                session.rollback()  # end the (read-only) transaction
                break
            scored = 0
            for moment, ids in sorted(_times(rows, utcnow()).items()):
                refresh(session, ids, now=moment)
                scored += len(ids)
            session.execute(delete(P).where(P.c.id.in_([row.id for row in rows])))
            session.commit()
        except BaseException:
            session.rollback()
            raise
        done.enterprises += scored
        done.rows += len(rows)
        done.rounds += 1
        if len(rows) < limit:
            break
    return done


@celery_app.task(name="gridsafe.risk.refresh_pending", ignore_result=True)  # type: ignore[untyped-decorator]
def refresh_pending_task() -> dict[str, int]:
    with session_factory()() as session:
        done = refresh_pending(session)
    return {"enterprises": done.enterprises, "rows": done.rows, "rounds": done.rounds}


def enqueue(settings: Settings, countdown: float) -> None:
    """Queue one run on the broker `settings` names (the web process's), raising if it is down."""
    options: dict[str, Any] = {"countdown": countdown, "retry": True, "retry_policy": RETRY_POLICY}
    if settings.resolved_broker_url == celery_app.conf.broker_url:
        refresh_pending_task.apply_async(**options)
        return
    with celery_app.connection_for_write(settings.resolved_broker_url) as connection:
        refresh_pending_task.apply_async(connection=connection, **options)
