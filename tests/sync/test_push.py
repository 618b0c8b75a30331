"""Push faults: repeats, gaps, failures mid-batch, handler bugs, revoked permissions, skewed clocks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select, text, update
from sqlmodel import Session

from backend.i18n import Translator
from backend.models import Change, Event, Hazard, SyncMutation, User
from backend.offline import changes, mutations
from sync import Mutation
from sync.registry import Plan
from tests.conftest import ONLY_POSTGRESQL, enterprise_in, sign_in
from tests.sync.conftest import (
    JIANGAN_GRID,
    QINGSHAN_GRID,
    check_in,
    count,
    grid_id,
    last_mutation_id,
    new_client_id,
    push,
    push_raw,
    report,
    statuses,
    table_counts,
    walk,
)

EN = Translator("en")


def test_same_batch_twice_is_applied_once(client: TestClient[Any], db: Session) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    foreign = enterprise_in(db, JIANGAN_GRID)
    sign_in(client, "inspector")
    client_id = new_client_id()
    batch = [
        report(1, own.id),
        check_in(2, own.id),
        report(3, foreign.id),  # refused by the rules
        report(4, own.id, photos=["ab" * 32]),
    ]
    before = table_counts(db)
    first = push(client, client_id, batch)
    assert statuses(first) == {
        1: ("applied", ""),
        2: ("applied", ""),
        3: ("rejected", "hazard.enterprise_out_of_scope"),
        4: ("applied", ""),
    }
    assert first["last_mutation_id"] == 4
    after_first = table_counts(db)
    assert {k: after_first[k] - before[k] for k in after_first} == {
        "hazard": 2,
        "hazard_photo": 1,
        "check_in": 1,
        "event": 3,  # two reports and a check-in
        "change": 2,
        "sync_mutation": 4,  # the refusal is remembered too
        "photo": 0,
    }

    # The same batch again, with an entry repeated and in another order: nothing new.
    second = push(client, client_id, [batch[3], *batch, batch[0]])
    assert [item["id"] for item in second["results"]] == [1, 2, 3, 4]
    assert statuses(second) == {
        1: ("duplicate", ""),
        2: ("duplicate", ""),
        3: ("duplicate", "hazard.enterprise_out_of_scope"),
        4: ("duplicate", ""),
    }
    # Each repeat carries the first answer's result (a phone whose first answer was lost on the
    # way learns it from the replay); a refusal has none.
    assert [item["result"] for item in second["results"]] == [
        item["result"] for item in first["results"]
    ]
    assert first["results"][0]["result"] == {"hazard_id": batch[0]["args"]["id"]}
    assert second["last_mutation_id"] == 4
    assert table_counts(db) == after_first
    assert last_mutation_id(db, client_id) == 4


def test_gap_in_ids_is_allowed_but_a_late_id_is_refused(
    client: TestClient[Any], db: Session
) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    client_id = new_client_id()
    body = push(client, client_id, [report(1, own.id), report(2, own.id), report(5, own.id)])
    assert statuses(body) == {i: ("applied", "") for i in (1, 2, 5)}
    assert body["last_mutation_id"] == 5
    assert walk(client, client_id=client_id).last_mutation_id == 5
    before = table_counts(db)

    late = report(3, own.id)
    for _ in range(2):  # refused every time, and never recorded as processed
        answer = push(client, client_id, [late], **{"accept-language": "en"})
        (result,) = answer["results"]
        assert (result["status"], result["code"]) == ("rejected", "sync.out_of_order")
        assert result["message"] == EN("errors.sync.out_of_order")
        assert answer["last_mutation_id"] == 5
    assert table_counts(db) == before
    assert db.execute(select(Hazard.id).where(Hazard.id == late["args"]["id"])).first() is None

    # A late id does not hold back a newer one in the same batch.
    mixed = push(client, client_id, [report(4, own.id), report(6, own.id)])
    assert statuses(mixed) == {4: ("rejected", "sync.out_of_order"), 6: ("applied", "")}
    # An id used before for something else is a conflict, and changes nothing.
    reused = push(client, client_id, [report(5, own.id, description="something else")])
    assert statuses(reused) == {5: ("conflict", "sync.id_reused")}
    assert last_mutation_id(db, client_id) == 6
    assert count(db, SyncMutation, SyncMutation.client_id == client_id) == 4


def _fail_after(stage: str) -> Any:
    """A `changes.store` that really writes, then hits a real database error (a statement the
    database refuses), at `stage`: after the hazards only, or after every row of the batch."""
    original = changes.store

    def failing_store(session: Session, writes: Any) -> None:
        writes = list(writes)
        if stage == "after_hazards":
            original(session, [w for w in writes if w.table == "hazard"])
        else:
            original(session, writes)
        assert count(session, Hazard) > 0  # rows were written in this transaction
        session.execute(text("INSERT INTO no_such_table VALUES (1)"))

    return failing_store


@pytest.mark.parametrize("stage", ["after_hazards", "after_all_rows"])
def test_failure_mid_batch_stores_nothing_and_a_retry_applies_everything_once(
    client: TestClient[Any], db: Session, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    client_id = new_client_id()
    assert statuses(push(client, client_id, [report(1, own.id)])) == {1: ("applied", "")}
    before = table_counts(db)
    batch = [report(2, own.id), check_in(3, own.id), report(4, own.id, photos=["cd" * 32])]

    with monkeypatch.context() as patch:
        patch.setattr(changes, "store", _fail_after(stage))
        response = push_raw(client, client_id, batch, **{"accept-language": "en"})
        assert response.status_code == 503
        assert response.json()["code"] == "sync_retry"
        assert response.json()["title"] == EN("errors.sync_retry")
    assert table_counts(db) == before
    assert last_mutation_id(db, client_id) == 1

    retried = push(client, client_id, batch)
    assert statuses(retried) == {2: ("applied", ""), 3: ("applied", ""), 4: ("applied", "")}
    assert push(client, client_id, batch)["results"][0]["status"] == "duplicate"
    after = table_counts(db)
    assert after["hazard"] - before["hazard"] == 2
    assert after["check_in"] - before["check_in"] == 1
    assert after["sync_mutation"] - before["sync_mutation"] == 3
    assert last_mutation_id(db, client_id) == 4


def test_a_handler_bug_refuses_one_mutation_and_not_those_behind_it(
    client: TestClient[Any],
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    original = mutations.registry.handler("hazard.report")
    assert original is not None

    def buggy(context: Any, mutation: Mutation) -> Plan:
        if mutation.args["description"] == "explode":
            raise KeyError("a bug in the handler")
        return original(context, mutation)

    monkeypatch.setitem(mutations.registry._handlers, "hazard.report", buggy)
    sign_in(client, "inspector")
    client_id = new_client_id()
    batch = [report(1, own.id), report(2, own.id, description="explode"), report(3, own.id)]
    body = push(client, client_id, batch, **{"accept-language": "en"})
    assert statuses(body) == {
        1: ("applied", ""),
        2: ("rejected", "internal_error"),
        3: ("applied", ""),
    }
    assert body["results"][1]["message"] == EN("errors.internal_error")
    assert "a bug in the handler" not in str(body)
    assert "failed in its handler" in caplog.text
    exploded = batch[1]["args"]["id"]
    assert db.get(Hazard, exploded) is None

    # Retried, with the bug still there and after it is fixed: processed once, never again.
    assert statuses(push(client, client_id, batch))[2] == ("duplicate", "internal_error")
    monkeypatch.undo()
    assert statuses(push(client, client_id, [batch[1]])) == {2: ("duplicate", "internal_error")}
    db.rollback()
    assert db.get(Hazard, exploded) is None
    assert count(db, Hazard, Hazard.client_id == client_id) == 2


def test_a_database_error_in_a_handler_refuses_that_mutation_only(
    client: TestClient[Any],
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PostgreSQL aborts the transaction at a failed statement: without a second try, every
    push of this batch would answer `sync_retry` for ever and the outbox behind it would stick."""
    own = enterprise_in(db, QINGSHAN_GRID)
    original = mutations.registry.handler("hazard.report")
    assert original is not None
    calls: list[int] = []

    def failing_sql(context: Any, mutation: Mutation) -> Plan:
        calls.append(mutation.id)
        if mutation.args["description"] == "bad sql":
            context.lookups.session.execute(text("SELECT * FROM no_such_table"))
        return original(context, mutation)

    monkeypatch.setitem(mutations.registry._handlers, "hazard.report", failing_sql)
    sign_in(client, "inspector")
    client_id = new_client_id()
    batch = [
        report(1, own.id),
        report(2, own.id, description="bad sql"),
        report(3, own.id),
        report(4, own.id, description="bad sql"),
        report(5, own.id),
    ]
    body = push(client, client_id, batch, **{"accept-language": "en"})
    assert statuses(body) == {
        1: ("applied", ""),
        2: ("rejected", "internal_error"),
        3: ("applied", ""),
        4: ("rejected", "internal_error"),
        5: ("applied", ""),
    }
    assert "no_such_table" not in str(body)
    assert "failed in its handler" in caplog.text
    # A failing handler runs once: on the next try its mutation is refused without it.
    assert calls.count(2) == 1
    assert calls.count(4) == 1
    applied = [batch[i]["args"]["id"] for i in (0, 2, 4)]
    assert count(db, Hazard, Hazard.client_id == client_id) == 3
    assert {h for h in applied if db.get(Hazard, h) is not None} == set(applied)
    assert count(db, SyncMutation, SyncMutation.client_id == client_id) == 5
    assert last_mutation_id(db, client_id) == 5
    assert {item["status"] for item in push(client, client_id, batch)["results"]} == {"duplicate"}


# A statement timeout is PostgreSQL's: this runs on PostgreSQL only.
@pytest.mark.parametrize("database_url", [ONLY_POSTGRESQL], indirect=True)
def test_a_temporary_database_error_in_a_handler_asks_for_the_batch_again(
    client: TestClient[Any], db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancelled statement may pass next time: nothing is refused for ever, nothing stored."""
    own = enterprise_in(db, QINGSHAN_GRID)
    original = mutations.registry.handler("hazard.report")
    assert original is not None
    slow = {"on": True}

    def timing_out(context: Any, mutation: Mutation) -> Plan:
        if mutation.id == 2 and slow["on"]:
            session = context.lookups.session
            session.execute(text("SET LOCAL statement_timeout = 1"))
            session.execute(text("SELECT pg_sleep(0.05)"))
        return original(context, mutation)

    monkeypatch.setitem(mutations.registry._handlers, "hazard.report", timing_out)
    sign_in(client, "inspector")
    client_id = new_client_id()
    batch = [report(1, own.id), report(2, own.id), report(3, own.id)]
    before = table_counts(db)
    response = push_raw(client, client_id, batch)
    assert response.status_code == 503
    assert response.json()["code"] == "sync_retry"
    assert table_counts(db) == before
    assert last_mutation_id(db, client_id) is None

    slow["on"] = False
    assert statuses(push(client, client_id, batch)) == {
        1: ("applied", ""),
        2: ("applied", ""),
        3: ("applied", ""),
    }


def test_permission_revoked_while_offline(client: TestClient[Any], db: Session) -> None:
    old = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    client_id = new_client_id()
    reported = report(1, old.id)
    assert statuses(push(client, client_id, [reported])) == {1: ("applied", "")}
    start = walk(client)
    assert start.reset
    assert ("hazard", reported["args"]["id"]) in {(c["entity"], c["id"]) for c in start.changes}

    # Offline, the phone queues a report for the old grid; meanwhile an administrator moves the
    # inspector to another grid (the admin service bumps scope_version with the unit).
    queued = report(2, old.id)
    new_grid = grid_id(db, JIANGAN_GRID)
    db.execute(
        update(User)
        .where(User.username == "inspector")
        .values(unit_id=new_grid, scope_version=User.scope_version + 1)
    )
    db.commit()

    body = push(client, client_id, [queued], **{"accept-language": "en"})
    (result,) = body["results"]
    assert (result["status"], result["code"]) == ("rejected", "hazard.enterprise_out_of_scope")
    assert result["message"] == EN("errors.hazard.enterprise_out_of_scope")
    zh = push(client, client_id, [queued], **{"accept-language": "zh"})["results"][0]
    assert (zh["status"], zh["code"]) == ("duplicate", "hazard.enterprise_out_of_scope")
    assert zh["message"] == Translator("zh")("errors.hazard.enterprise_out_of_scope")
    assert db.get(Hazard, queued["args"]["id"]) is None

    # The old cursor is stale: a snapshot of the new grid only.
    after = walk(client, start.cursor)
    assert after.reset
    enterprises = [c for c in after.changes if c["entity"] == "enterprise"]
    assert enterprises
    assert {c["data"]["grid_id"] for c in enterprises} == {new_grid}
    assert all(c["entity"] != "hazard" or c["data"]["grid_id"] == new_grid for c in after.changes)
    assert ("hazard", reported["args"]["id"]) not in {(c["entity"], c["id"]) for c in after.changes}
    assert str(old.id) not in {c["id"] for c in enterprises}

    # Later reports in the old grid do not reach the moved inspector either.
    sign_in(client, "dispatcher")
    assert statuses(push(client, new_client_id(), [report(1, old.id)])) == {1: ("applied", "")}
    sign_in(client, "inspector")
    assert walk(client, after.cursor).changes == []


def test_skewed_clocks(client: TestClient[Any], db: Session) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    now = datetime.now(UTC)
    china = timezone(timedelta(hours=8))
    future = report(1, own.id, at=now + timedelta(days=3))
    ancient = report(2, own.id, at=now - timedelta(days=40))
    two_days = (now - timedelta(days=2)).astimezone(china)
    offline = report(3, own.id, at=two_days)
    recent = report(4, own.id, at=now - timedelta(seconds=30))
    started = datetime.now(UTC)
    body = push(client, new_client_id(), [future, ancient, offline, recent])
    finished = datetime.now(UTC)
    assert statuses(body) == {i: ("applied", "") for i in (1, 2, 3, 4)}

    def stored(mutation: dict[str, Any]) -> Hazard:
        hazard = db.get(Hazard, mutation["args"]["id"])
        assert hazard is not None
        return hazard

    for unbelievable in (future, ancient):
        hazard = stored(unbelievable)
        assert started <= hazard.reported_at <= finished  # the server's time
        assert hazard.reported_at == hazard.received_at
        assert not hazard.synced_later
    assert stored(offline).reported_at == two_days
    assert stored(offline).synced_later
    assert stored(recent).reported_at == now - timedelta(seconds=30)
    assert not stored(recent).synced_later


def test_application_follows_ids_not_clocks(client: TestClient[Any], db: Session) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    now = datetime.now(UTC)
    shared = str(uuid.uuid4())
    # Id 10 has the newest clock, id 12 the oldest; 11 reuses 10's hazard id. Sent in reverse.
    first = report(10, own.id, hazard_id=shared, description="first", at=now - timedelta(hours=1))
    second = report(11, own.id, hazard_id=shared, description="second", at=now - timedelta(hours=2))
    third = report(12, own.id, description="third", at=now - timedelta(hours=3))
    client_id = new_client_id()
    body = push(client, client_id, [third, second, first])
    assert [item["id"] for item in body["results"]] == [10, 11, 12]
    assert statuses(body) == {
        10: ("applied", ""),
        11: ("rejected", "hazard.duplicate_id"),
        12: ("applied", ""),
    }
    hazard = db.get(Hazard, shared)
    assert hazard is not None
    assert (hazard.description, hazard.mutation_id) == ("first", 10)
    logged = db.execute(
        select(Change.entity_id).where(Change.entity == "hazard").order_by(Change.id)
    ).scalars()
    assert [i for i in logged if i in {shared, third["args"]["id"]}] == [
        shared,
        third["args"]["id"],
    ]
    history = db.execute(
        select(Event.entity_id).where(Event.action == "hazard.reported").order_by(Event.id)
    ).scalars()
    assert [i for i in history if i in {shared, third["args"]["id"]}] == [
        shared,
        third["args"]["id"],
    ]


# ---- signed in: the sync API reads the session in the handler's own thread ------------------


@pytest.mark.parametrize("cookie", ["", "not-a-session", "expired"])
def test_push_and_pull_without_a_live_session_are_401_and_store_nothing(
    client: TestClient[Any], db: Session, cookie: str
) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    if cookie == "expired":
        db.execute(
            text("UPDATE user_session SET expires_at = :past"),
            {"past": datetime(2000, 1, 1, tzinfo=UTC)},
        )
        db.commit()
    elif cookie:
        client.cookies.set("gs_session", cookie)
    else:
        client.cookies.delete("gs_session")
    before = table_counts(db)
    response = push_raw(client, new_client_id(), [report(1, own.id)])
    assert response.status_code == 401
    assert response.json()["code"] == "not_signed_in"
    pulled = client.get("/api/v1/sync/pull")
    assert pulled.status_code == 401
    assert pulled.json()["code"] == "not_signed_in"
    assert table_counts(db) == before


def test_a_deactivated_user_can_no_longer_push(client: TestClient[Any], db: Session) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    client_id = new_client_id()
    assert statuses(push(client, client_id, [report(1, own.id)])) == {1: ("applied", "")}
    db.execute(update(User).where(User.username == "inspector").values(active=False))
    db.commit()
    before = table_counts(db)
    assert push_raw(client, client_id, [report(2, own.id)]).status_code == 401
    assert table_counts(db) == before
    assert last_mutation_id(db, client_id) == 1


def test_push_answers_in_the_signed_in_persons_language(
    client: TestClient[Any], db: Session
) -> None:
    """The principal is found in the handler; the refusal is still in the person's words."""
    sign_in(client, "inspector")
    client.cookies.delete("gs_lang")
    for language, expected in (("zh", Translator("zh")), ("en", EN)):
        db.execute(update(User).where(User.username == "inspector").values(locale=language))
        db.commit()
        body = push(
            client,
            new_client_id(),
            [{"id": 1, "name": "no.such", "args": {}, "at": datetime.now(UTC).isoformat()}],
        )
        (result,) = body["results"]
        assert result["status"] == "rejected"
        assert result["message"] == expected("errors.sync.unknown_mutation", name="no.such")
