"""`inspection.record` beside the rest of a phone's outbox: the check-in scanned offline just
before it (stored, refused or never sent), two installs racing one inspection id, and the history
naming where it came from (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import event, select
from sqlmodel import Session

import qr
from backend.codes.keys import code_path
from backend.db import make_engine, make_session_factory
from backend.models import (
    CheckIn,
    CodeKind,
    Enterprise,
    Event,
    Inspection,
    InspectionResult,
    QrCode,
    SyncMutation,
    Unit,
    User,
)
from backend.offline.ingest import apply_push
from backend.settings import Settings
from sync import Mutation
from tests.conftest import TEST_SECRET, enterprise_in, post_form, sign_in
from tests.sync.conftest import (
    JIANGAN_GRID,
    QINGSHAN_GRID,
    check_in,
    count,
    iso,
    new_client_id,
    push,
    statuses,
)
from tests.sync.test_inspection_record import answer, recording
from tests.test_inspections import answers, attribute
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


def _scanned_check_in(mutation_id: int, enterprise: Enterprise) -> dict[str, Any]:
    """A check-in scanned offline from the enterprise's first poster."""
    scanned = code_path(
        qr.Keyring.from_secrets(TEST_SECRET), CodeKind.ENTERPRISE, enterprise.id or 0, 1
    )
    return {
        "id": mutation_id,
        "name": "inspection.check_in",
        "args": {"id": str(uuid.uuid4()), "enterprise_id": enterprise.id, "code": scanned},
        "at": iso(),
    }


def _recorded_event(db: Session, inspection_id: str) -> dict[str, Any]:
    [data] = db.execute(
        select(Event.data).where(
            Event.action == "inspection.recorded", Event.entity_id == inspection_id
        )
    ).scalars()
    return dict(data)


REFUSED_CHECK_INS = [
    # The poster was replaced after the phone scanned it (轮换二维码).
    ("code-replaced", "check_in.code_rotated"),
    # The phone checked in at an enterprise outside the inspector's area.
    ("out-of-area", "check_in.out_of_scope"),
    # The check-in never reached the server (the phone's outbox lost it).
    ("never-sent", ""),
]


@pytest.mark.parametrize(
    ("how", "refusal"), REFUSED_CHECK_INS, ids=[how for how, _ in REFUSED_CHECK_INS]
)
def test_an_inspection_whose_check_in_the_server_lacks_is_kept_without_the_link(
    client: TestClient[Any], db: Session, how: str, refusal: str
) -> None:
    """The inspector did the inspection and cannot mend a check-in from the phone: it is stored
    unlinked, and both the phone's answer and the history say the check-in was missing."""
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    client_id = new_client_id()
    batch: list[dict[str, Any]] = []
    if how == "code-replaced":
        db.add(QrCode(kind="enterprise", subject_id=enterprise.id or 0, version=2))
        db.commit()
        batch.append(_scanned_check_in(1, enterprise))
    elif how == "out-of-area":
        batch.append(check_in(1, enterprise_in(db, JIANGAN_GRID).id or 0))
    check_in_id = batch[0]["args"]["id"] if batch else str(uuid.uuid4())
    inspected = recording(2, db, enterprise, check_in_id=check_in_id)
    body = push(client, client_id, [*batch, inspected])
    expected = {2: ("applied", "")}
    if refusal:
        expected[1] = ("rejected", refusal)
    assert statuses(body) == expected
    inspection_id = inspected["args"]["id"]
    assert answer(body, 2)["result"] == {"inspection_id": inspection_id, "check_in_missing": True}
    # The answer lost on the way, the phone sends the batch again: told the same.
    again = answer(push(client, client_id, [*batch, inspected]), 2)
    assert (again["status"], again["result"]) == ("duplicate", answer(body, 2)["result"])
    db.expire_all()
    inspection = db.get(Inspection, inspection_id)
    assert inspection is not None
    assert (inspection.enterprise_id, inspection.check_in_id) == (enterprise.id, None)
    assert count(db, InspectionResult, InspectionResult.inspection_id == inspection_id) == len(
        inspected["args"]["results"]
    )
    assert count(db, CheckIn) == 0
    data = _recorded_event(db, inspection_id)
    assert (data["check_in_missing"], data["client_id"]) == (check_in_id, client_id)


def test_the_history_lists_mark_an_inspection_whose_check_in_never_arrived(
    client: TestClient[Any], db: Session
) -> None:
    """Beside its own page, the inspector's and the enterprise's lists say so; an inspection
    that named no check-in at all is not marked."""
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    lost = str(uuid.uuid4())
    unlinked = recording(1, db, enterprise, check_in_id=lost)
    plain = recording(2, db, enterprise)
    body = push(client, new_client_id(), [unlinked, plain])
    assert statuses(body) == {1: ("applied", ""), 2: ("applied", "")}
    for path in ("/inspections", f"/enterprises/{enterprise.id}/inspections"):
        page = client.get(path)
        assert page.status_code == 200
        assert sorted(attribute(page.text, "data-inspection")) == sorted(
            [unlinked["args"]["id"], plain["args"]["id"]]
        )
        assert attribute(page.text, "data-check-in-missing") == [lost]
        assert "签到未送达" in page.text


def _stored_check_in(db: Session, enterprise: Enterprise, username: str) -> str:
    user_id = db.execute(select(User.id).where(User.username == username)).scalar_one()
    unit_path = db.execute(select(Unit.path).where(Unit.id == enterprise.grid_id)).scalar_one()
    row = CheckIn(
        id=str(uuid.uuid4()),
        enterprise_id=enterprise.id or 0,
        user_id=user_id,
        unit_path=unit_path,
        at=datetime.now(UTC),
    )
    db.add(row)
    db.commit()
    return row.id


@pytest.mark.parametrize("whose", ["another-inspectors", "at-another-enterprise"])
def test_a_stored_check_in_that_is_not_this_inspections_is_still_refused(
    client: TestClient[Any], db: Session, whose: str
) -> None:
    """Only a check-in the server lacks is forgiven: one it has must be the inspector's own, at
    the enterprise inspected, as on the page."""
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    if whose == "another-inspectors":
        stored = _stored_check_in(db, enterprise, "inspector2")
    else:
        other = (
            db.execute(
                select(Enterprise)
                .where(Enterprise.grid_id == enterprise.grid_id, Enterprise.id != enterprise.id)
                .order_by(Enterprise.id)
            )
            .scalars()
            .first()
        )
        assert other is not None
        stored = _stored_check_in(db, other, "inspector")
    sign_in(client, "inspector")
    inspected = recording(1, db, enterprise, check_in_id=stored)
    body = push(client, new_client_id(), [inspected])
    assert statuses(body) == {1: ("rejected", "validation_failed")}
    assert list(answer(body, 1)["fields"]) == ["check_in_id"]
    db.expire_all()
    assert count(db, Inspection) == 0


def test_the_page_still_refuses_a_check_in_it_does_not_know(
    client: TestClient[Any], db: Session
) -> None:
    """The page's form names only a check-in made online, through the server: an unknown one
    there is a bad form, not a lost check-in."""
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    form = {**answers(db, enterprise.industry), "check_in_id": str(uuid.uuid4())}
    response = post_form(client, f"/enterprises/{enterprise.id}/inspect", form)
    assert response.status_code == 422
    assert attribute(response.text, "data-error-code") == ["validation_failed"]
    assert attribute(response.text, "data-field-error") == ["check_in_id"]
    db.expire_all()
    assert count(db, Inspection) == 0


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
    data = _recorded_event(db, mutation["args"]["id"])
    assert (data["client_id"], data["mutation_id"]) == (client_id, 7)
    assert "check_in_missing" not in data


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
