"""Rescoring outside the writer's transaction, on SQLite and PostgreSQL: the pending row is part
of the change's transaction, a failed job leaves it pending, two jobs on PostgreSQL never take
the same rows, the nudge after commit is coalesced and never raises, and on a real worker a
major hazard reported on the page turns the enterprise red within seconds."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import event, func, select, text
from sqlmodel import Session

from backend.app import create_app
from backend.db import make_engine, make_session_factory
from backend.models import Accident, Enterprise, RiskPending
from backend.risk import jobs, pending
from backend.risk.jobs import refresh_pending
from backend.risk.services import touch
from backend.settings import Settings
from backend.worker import celery_app
from tests.conftest import ONLY_POSTGRESQL, enterprise_in
from tests.push.conftest import with_changes, worker_on
from tests.services import REDIS_URL, require_redis
from tests.test_loop import reported
from tests.test_risk import levels_of, profile, red_alerts, rescored

DOWN_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def waiting(db: Session) -> list[int]:
    db.expire_all()
    return list(db.execute(select(RiskPending.enterprise_id).order_by(RiskPending.id)).scalars())


def accident(enterprise: Enterprise, deaths: int = 0) -> Accident:
    assert enterprise.id is not None
    return Accident(
        enterprise_id=enterprise.id,
        unit_path="",
        occurred_on=date(2026, 10, 1),
        level="major",
        deaths=deaths,
    )


@pytest.fixture(autouse=True)
def fresh_window() -> Iterator[None]:
    pending.nudger.reset()
    yield
    pending.nudger.reset()


def test_the_pending_row_is_written_in_the_changes_transaction(
    client: TestClient[Any], db: Session
) -> None:
    enterprise = enterprise_in(db, "420107001001")
    assert enterprise.id is not None
    assert waiting(db) == []
    reported(client, db, severity="major")
    assert waiting(db) == [enterprise.id]  # committed with the hazard, not yet rescored

    # A transaction that fails after it marked: neither the accident nor the mark is kept.
    def boom(_session: Any) -> None:
        raise RuntimeError("the commit fails after the mark")

    db.add(accident(enterprise))
    touch(db, [enterprise.id])
    event.listen(db, "before_commit", boom)  # runs after the class-level marking listener
    with pytest.raises(RuntimeError):
        db.commit()
    db.rollback()
    event.remove(db, "before_commit", boom)
    assert waiting(db) == [enterprise.id]
    assert db.execute(select(func.count()).select_from(Accident)).scalar_one() == 2  # the demo's

    assert rescored(db).rows == 1
    assert waiting(db) == []
    assert profile(db, enterprise.id).colour == "red"


def test_a_failed_job_leaves_the_rows_pending_and_the_next_run_does_them(
    client: TestClient[Any], db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    enterprise = enterprise_in(db, "420107001001")
    assert enterprise.id is not None
    reported(client, db, severity="major")

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("scoring failed")

    monkeypatch.setattr(jobs, "refresh", broken)
    with pytest.raises(RuntimeError):
        refresh_pending(db)
    assert waiting(db) == [enterprise.id]
    assert profile(db, enterprise.id).colour != "red"
    assert red_alerts(db, enterprise.id) == []

    monkeypatch.undo()
    assert rescored(db).enterprises == 1
    assert waiting(db) == []
    assert profile(db, enterprise.id).colour == "red"
    assert {"street", "district"} <= levels_of(
        db, [alert.user_id for alert in red_alerts(db, enterprise.id)]
    )


def test_the_job_merges_marks_in_bounded_rounds(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = list(db.execute(select(Enterprise.id).order_by(Enterprise.id).limit(5)).scalars())
    for _ in range(3):  # three transactions marking the same enterprises
        touch(db, ids)
        db.commit()
    assert len(waiting(db)) == 15
    scored: list[int] = []
    real = jobs.refresh

    def spy(session: Session, enterprise_ids: Iterable[int], **kwargs: Any) -> Any:
        scored.extend(enterprise_ids)
        return real(session, enterprise_ids, **kwargs)

    monkeypatch.setattr(jobs, "refresh", spy)
    done = refresh_pending(db, limit=4)
    assert (done.rows, done.rounds) == (15, 4)
    assert sorted(set(scored)) == ids
    assert waiting(db) == []


# SKIP LOCKED is PostgreSQL's; SQLite has one writer, so this runs on PostgreSQL only.
@pytest.mark.parametrize("database_url", [ONLY_POSTGRESQL], indirect=True)
def test_two_jobs_on_postgresql_never_take_the_same_rows(
    db: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = list(db.execute(select(Enterprise.id).order_by(Enterprise.id).limit(40)).scalars())
    touch(db, ids)
    db.commit()
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    scored: list[int] = []
    lock = threading.Lock()
    real = jobs.refresh

    def spy(session: Session, enterprise_ids: Iterable[int], **kwargs: Any) -> Any:
        wanted = list(enterprise_ids)
        with lock:
            scored.extend(wanted)
        time.sleep(0.05)  # hold the rows a while, so the other job meets the locks
        return real(session, wanted, **kwargs)

    monkeypatch.setattr(jobs, "refresh", spy)
    try:
        # One job holds the oldest rows; another, impatient with locks, takes only the rest.
        with factory() as holder, factory() as other:
            held = jobs._claim(holder, 10)
            other.execute(text("SET lock_timeout = '1s'"))
            other.commit()
            done = refresh_pending(other, limit=7)
            assert done.rows == 30
            assert sorted(scored) == sorted(set(ids) - {row.enterprise_id for row in held})
            holder.rollback()
        scored.clear()
        touch(db, ids)
        db.commit()
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def one() -> None:
            try:
                with factory() as session:
                    start.wait()
                    refresh_pending(session, limit=5)
            except BaseException as error:  # reported below, not lost in the thread
                errors.append(error)

        threads = [threading.Thread(target=one) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        engine.dispose()
    assert errors == []
    assert waiting(db) == []
    # The 10 rows held before, and the 40 marked again: each taken by exactly one job.
    assert sorted(scored) == sorted([*ids, *(row.enterprise_id for row in held)])


def test_the_nudge_is_coalesced_and_never_raises(
    settings: Settings, db: Session, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    sent: list[str] = []
    real_send = celery_app.send_task

    def counting(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "gridsafe.risk.refresh_pending":
            sent.append(name)
        return real_send(name, *args, **kwargs)

    monkeypatch.setattr(celery_app, "send_task", counting)
    clock = [1000.0]
    monkeypatch.setattr(pending.time, "monotonic", lambda: clock[0])
    engine = make_engine(settings.resolved_database_url)
    web = make_session_factory(engine, settings)
    down = make_session_factory(engine, with_changes(settings, broker_url=DOWN_BROKER))
    enterprise = enterprise_in(db, "420107001001")
    try:
        with web() as session:
            for _ in range(20):  # twenty commits in one window: one message
                touch(session, [enterprise.id])
                session.commit()
            assert len(sent) == 1
            session.commit()  # a commit that marked nothing sends nothing
            clock[0] += settings.risk_delay_seconds + 0.01  # the queued run has started
            touch(session, [enterprise.id])
            session.commit()
            assert len(sent) == 2
        assert len(waiting(db)) == 21

        # The broker is down: the commit stands, the rows wait for the beat sweep, one warning.
        caplog.set_level(logging.WARNING, logger="backend.risk.pending")
        with down() as session:
            touch(session, [enterprise.id])
            session.commit()
            touch(session, [enterprise.id])
            session.commit()  # same window: not tried again
    finally:
        engine.dispose()
    assert len(waiting(db)) == 23
    assert sum("could not queue risk" in r.getMessage() for r in caplog.records) == 1
    assert rescored(db).enterprises == 1


@pytest.mark.redis
def test_a_major_hazard_turns_red_on_a_real_worker(settings: Settings, db: Session) -> None:
    require_redis()
    enterprise = enterprise_in(db, "420107001001")
    assert enterprise.id is not None
    with (
        worker_on(settings, REDIS_URL) as worker_settings,
        TestClient(create_app(worker_settings), base_url="http://testserver.local") as web,
    ):
        reported(web, db, severity="major")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (
            profile(db, enterprise.id).colour != "red" or waiting(db)
        ):
            time.sleep(0.1)
    assert profile(db, enterprise.id).colour == "red"
    assert waiting(db) == []
    assert {"street", "district"} <= levels_of(
        db, [alert.user_id for alert in red_alerts(db, enterprise.id)]
    )
