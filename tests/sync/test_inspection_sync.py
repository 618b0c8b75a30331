"""`inspection.record` beside the rest of a phone's outbox: the check-in scanned offline just
before it, two installs racing one inspection id, and the history naming where it came from
(SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import event, select
from sqlmodel import Session

import qr
from backend.codes.keys import code_path
from backend.db import make_engine, make_session_factory
from backend.models import CheckIn, CodeKind, Event, Inspection, InspectionResult, SyncMutation
from backend.offline.ingest import apply_push
from backend.settings import Settings
from sync import Mutation
from tests.conftest import TEST_SECRET, enterprise_in, sign_in
from tests.sync.conftest import QINGSHAN_GRID, count, iso, new_client_id, push, statuses
from tests.sync.test_inspection_record import recording
from tests.test_warnings import at_once, principal_of


def test_a_check_in_scanned_offline_links_the_inspection_queued_after_it(
    client: TestClient[Any], db: Session
) -> None:
    """What the scanner queues with no network (the code, not trusted on the phone) and the
    checklist opened from its link (`?check_in=<id>`), sent together when the network returns."""
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    client_id = new_client_id()
    scanned = code_path(
        qr.Keyring.from_secrets(TEST_SECRET), CodeKind.ENTERPRISE, enterprise.id or 0, 1
    )
    check_in_id = str(uuid.uuid4())
    arrived = {
        "id": 1,
        "name": "inspection.check_in",
        "args": {"id": check_in_id, "enterprise_id": enterprise.id, "code": scanned},
        "at": iso(),
    }
    inspected = recording(2, db, enterprise, check_in_id=check_in_id)
    first = push(client, client_id, [arrived, inspected])
    assert statuses(first) == {1: ("applied", ""), 2: ("retry", "sync.retry")}
    second = push(client, client_id, [inspected])
    assert statuses(second) == {2: ("applied", "")}
    db.expire_all()
    inspection = db.get(Inspection, inspected["args"]["id"])
    assert inspection is not None
    assert inspection.check_in_id == check_in_id
    check_in = db.get(CheckIn, check_in_id)
    assert check_in is not None
    assert (check_in.enterprise_id, check_in.client_id) == (enterprise.id, client_id)


def test_the_inspections_history_names_the_install_and_the_outbox_entry(
    client: TestClient[Any], db: Session
) -> None:
    """As a hazard report's does: which phone sent it, and which of its outbox entries."""
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    client_id = new_client_id()
    mutation = recording(7, db, enterprise)
    assert statuses(push(client, client_id, [mutation])) == {7: ("applied", "")}
    db.expire_all()
    [data] = db.execute(
        select(Event.data).where(
            Event.action == "inspection.recorded", Event.entity_id == mutation["args"]["id"]
        )
    ).scalars()
    assert (data["client_id"], data["mutation_id"]) == (client_id, 7)


class _InsertsMeet:
    """Holds each thread's first insert of an inspection until every thread has reached its
    own: each has then passed the 'is this id taken?' check, which is the race being tested."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=30)
        self.met: set[int] = set()

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO inspection ") and threading.get_ident() not in (
            self.met
        ):
            self.met.add(threading.get_ident())
            self.barrier.wait()


def test_two_installs_racing_one_inspection_id_store_it_once_and_refuse_the_other(
    db: Session, settings: Settings
) -> None:
    """The same inspection sent from two installs at once (copied outbox, a restored backup):
    one records it, the other is told it is a duplicate, never an internal error."""
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    principal = principal_of(db, "inspector")
    sent = recording(1, db, enterprise)
    mutation = Mutation(1, sent["name"], sent["args"], datetime.now(UTC))
    engine = make_engine(settings.resolved_database_url)
    if engine.dialect.name == "postgresql":
        # On SQLite the first push's write lock holds the second back before it reads, so it
        # finds the inspection stored; PostgreSQL lets both read first, and then both insert.
        event.listen(engine, "before_cursor_execute", _InsertsMeet(2))
    factory = make_session_factory(engine, settings)
    answers: list[tuple[str, str]] = []

    def send_from_another_install() -> None:
        with factory() as session:
            result = apply_push(session, principal, new_client_id(), [mutation], "")
        [outcome] = result.outcomes
        answers.append((outcome.status.value, outcome.code))

    errors = at_once([send_from_another_install] * 2)
    engine.dispose()
    assert errors == []
    assert sorted(answers) == [("applied", ""), ("rejected", "inspection.duplicate_id")]
    db.expire_all()
    inspection_id = sent["args"]["id"]
    assert count(db, Inspection, Inspection.id == inspection_id) == 1
    assert count(db, InspectionResult, InspectionResult.inspection_id == inspection_id) == len(
        sent["args"]["results"]
    )
    assert count(db, Event, Event.entity_id == inspection_id) == 1
    # Both pushes were answered and remembered: a resend of either gets the same answer again.
    assert count(db, SyncMutation) == 2
