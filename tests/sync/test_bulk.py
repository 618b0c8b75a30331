"""The push's fast inserts (backend/offline/bulk.py) store exactly what SQLAlchemy Core stores,
keep the rows' order, and fail the way Core fails, on SQLite and PostgreSQL; the mutation
digest stays the one earlier servers stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Table, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from backend.auth.services import principal_of
from backend.models import Change, Event, SyncMutation, Unit, User
from backend.offline import bulk, changes
from backend.offline.store import SqlSyncStore
from sync import Mutation
from tests.conftest import enterprise_in, sign_in
from tests.sync.conftest import QINGSHAN_GRID, new_client_id, push_raw, report, table_counts

EVENT: Table = Event.__table__  # type: ignore[attr-defined]
CHANGE: Table = Change.__table__  # type: ignore[attr-defined]
SYNC_MUTATION: Table = SyncMutation.__table__  # type: ignore[attr-defined]
CHINA = timezone(timedelta(hours=8))
CURRENT_TXID = "SELECT pg_current_xact_id()::text::bigint"


def event_rows(marker: str, count: int) -> list[dict[str, Any]]:
    """Rows as handlers plan them; `device` and `ip` left out so the columns' defaults apply."""
    return [
        {
            "at": datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=CHINA) + timedelta(seconds=i)
            if i % 2
            else datetime(2026, 3, 1, 1, 2, 3, tzinfo=UTC),
            "actor_id": None,
            "action": "hazard.reported",
            "entity_type": "hazard",
            "entity_id": f"{marker}-{i:03d}",
            "unit_path": "420100.420107",
            "data": {
                "description": '消防通道被货物堵塞\n\t"引号" \\ 反斜杠',
                "latitude": 30.123456789,
                "none": None,
                "nested": {"photos": ["ab" * 32], "ok": True, "n": 2**40},
            },
        }
        for i in range(count)
    ]


def stored_events(db: Session, marker: str) -> list[tuple[Any, ...]]:
    rows = db.execute(
        select(EVENT).where(EVENT.c.entity_id.startswith(marker)).order_by(EVENT.c.id)
    ).all()
    return [tuple(row)[1:] for row in rows]  # all but the id


@pytest.mark.parametrize("count", [3, 40])  # below and above the PostgreSQL COPY threshold
def test_fast_insert_stores_what_core_stores(db: Session, count: int) -> None:
    assert (count < bulk.COPY_FROM_ROWS) != (count >= bulk.COPY_FROM_ROWS)
    bulk.insert_rows(db.connection(), EVENT, event_rows("fast", count))
    db.execute(insert(EVENT), event_rows("core", count))
    db.commit()

    fast, core = stored_events(db, "fast"), stored_events(db, "core")
    assert len(fast) == count
    for fast_row, core_row in zip(fast, core, strict=True):
        entity_column = 4  # entity_id differs by its marker only
        assert fast_row[entity_column].removeprefix("fast") == core_row[entity_column].removeprefix(
            "core"
        )
        assert fast_row[:entity_column] == core_row[:entity_column]
        assert fast_row[entity_column + 1 :] == core_row[entity_column + 1 :]
    first = fast[1]
    assert first[0] == datetime(2026, 3, 1, 1, 30, 16, 123456, tzinfo=UTC)  # stored as UTC
    assert first[6:8] == ("", "")  # device and ip: the columns' defaults
    assert first[8]["nested"] == {"photos": ["ab" * 32], "ok": True, "n": 2**40}
    if db.get_bind().dialect.name == "sqlite":
        # SQLite compares timestamps as text: the stored text itself must be Core's.
        raw = "SELECT at FROM event WHERE entity_id LIKE :m ORDER BY id"
        assert [r[0] for r in db.execute(text(raw), {"m": "fast%"})] == [
            r[0] for r in db.execute(text(raw), {"m": "core%"})
        ]


def test_rows_keep_their_order_when_their_columns_differ(db: Session) -> None:
    rows: list[dict[str, Any]] = []
    for i in range(30):
        row: dict[str, Any] = {
            "entity": "hazard",
            "entity_id": f"order-{i:02d}",
            "op": "upsert" if i % 3 else "remove",
            "unit_path": "420100",
            "data": {"i": i},
            "at": datetime.now(UTC),
        }
        if i % 3:
            row["enterprise_id"] = i
        rows.append(row)
    bulk.insert_rows(db.connection(), CHANGE, rows)
    db.commit()
    stored = db.execute(
        select(CHANGE.c.entity_id, CHANGE.c.enterprise_id, CHANGE.c.data)
        .where(CHANGE.c.entity_id.startswith("order-"))
        .order_by(CHANGE.c.id)
    ).all()
    assert [tuple(r) for r in stored] == [
        (f"order-{i:02d}", i if i % 3 else None, {"i": i}) for i in range(30)
    ]


@pytest.mark.parametrize("count", [2, 20])
def test_a_refused_row_fails_like_core_and_nothing_stays(db: Session, count: int) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "client_id": "00000000-0000-4000-8000-000000000001",
            "mutation_id": i,
            "name": "hazard.report",
            "status": "applied",
            "digest": "0" * 64,
            "processed_at": now,
        }
        for i in range(1, count + 1)
    ]
    rows.append(dict(rows[0]))  # the primary key again
    with pytest.raises(IntegrityError):
        bulk.insert_rows(db.connection(), SYNC_MUTATION, rows)
    db.rollback()
    assert db.execute(select(SYNC_MUTATION.c.mutation_id)).first() is None


def test_a_naive_timestamp_is_refused(db: Session) -> None:
    rows = event_rows("naive", 1)
    rows[0]["at"] = datetime(2026, 3, 1, 9, 30)  # noqa: DTZ001  (the point of the test)
    with pytest.raises(ValueError, match="naive"):
        bulk.insert_rows(db.connection(), EVENT, rows)
    db.rollback()


def test_digest_is_the_one_earlier_servers_stored() -> None:
    # Replays are compared with stored digests for ever; this value was computed by the
    # json.dumps-based implementation before the encoder was kept between calls.
    mutation = Mutation(
        7,
        "hazard.report",
        {
            "id": "0190a3c4-1234-7abc-8def-0123456789ab",
            "description": "消防通道被货物堵塞",
            "latitude": 30.5,
            "photos": ["ab" * 32],
            "grid_id": None,
            "at": datetime(2026, 1, 2, tzinfo=UTC),
            "nested": {"b": 1, "a": [1.5, True]},
        },
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert mutation.digest() == "6682de6eb1288d2888ebfcaf36cce4f189ff6d0f0075edd6598b980e208c508a"


def test_fingerprint_is_pinned_and_replays_match_either_kind() -> None:
    args = {
        "id": "0190a3c4-1234-7abc-8def-0123456789ab",
        "description": "消防通道被货物堵塞",
        "latitude": 30.5,
        "photos": ["ab" * 32],
        "grid_id": None,
        "nested": {"b": 1, "a": [1.5, True]},
    }
    at = datetime(2026, 1, 1, tzinfo=UTC)
    mutation = Mutation(7, "hazard.report", args, at)
    # Stored for ever too: this value must never change either.
    assert mutation.fingerprint() == (
        "2:eae47d0c11a9bc13bf84003394192f61f702de0c0f5f671f76847c0b09c47b"
    )
    assert len(mutation.fingerprint()) == 64  # the column's width
    # The same request with its keys in another order, sent later: the same fingerprint.
    reordered = Mutation(7, "hazard.report", dict(reversed(args.items())), at.replace(year=2027))
    assert reordered.matches(mutation.fingerprint())
    assert reordered.matches(mutation.digest())
    changed = Mutation(7, "hazard.report", {**args, "latitude": 30.6}, at)
    renamed = Mutation(7, "inspection.check_in", args, at)
    for other in (changed, renamed):
        assert not other.matches(mutation.fingerprint())
        assert not other.matches(mutation.digest())


def test_a_mutation_stored_with_an_old_digest_replays_as_a_duplicate(
    client: TestClient[Any], db: Session
) -> None:
    """Rows written before fingerprints replaced digests still answer replays correctly."""
    sign_in(client, "inspector")
    own = enterprise_in(db, QINGSHAN_GRID)
    client_id = new_client_id()
    batch = [report(1, own.id), report(2, own.id)]
    assert push_raw(client, client_id, batch).status_code == 200
    stored = (
        db.execute(select(SyncMutation).where(col(SyncMutation.client_id) == client_id))
        .scalars()
        .all()
    )
    assert [row.digest[:2] for row in stored] == ["2:", "2:"]
    first = batch[0]
    old = Mutation(1, first["name"], first["args"], datetime.now(UTC)).digest()
    db.execute(
        text("UPDATE sync_mutation SET digest = :d WHERE client_id = :c AND mutation_id = 1"),
        {"d": old, "c": client_id},
    )
    db.commit()
    reused = {**batch[1], "args": {**batch[1]["args"], "description": "another report"}}
    again = push_raw(client, client_id, [first, reused])
    assert [item["status"] for item in again.json()["results"]] == ["duplicate", "conflict"]


def test_change_rows_carry_the_writing_transaction_id(db: Session) -> None:
    """The id read by the push's first statement is used for its change rows, and only in its
    own transaction: the next one on the same connection gets its own."""
    user = db.execute(select(User).where(col(User.username) == "inspector")).scalar_one()
    unit = db.get(Unit, user.unit_id)
    assert unit is not None
    store = SqlSyncStore(db, principal_of(user, unit.path, unit.name), {})
    postgres = db.get_bind().dialect.name == "postgresql"

    def now_txid() -> int:
        return int(db.execute(text(CURRENT_TXID)).scalar_one()) if postgres else 0

    def stored(entity_id: str) -> int:
        return int(
            db.execute(select(CHANGE.c.txid).where(CHANGE.c.entity_id == entity_id)).scalar_one()
        )

    store.lock_client(str(uuid.uuid4()))
    changes.store(db, [changes.change("hazard", "txid-1", "upsert", unit.path, None, {})])
    first = now_txid()
    assert stored("txid-1") == first
    db.commit()

    changes.store(db, [changes.change("hazard", "txid-2", "upsert", unit.path, None, {})])
    second = now_txid()
    assert stored("txid-2") == second
    db.commit()
    if postgres:
        assert first != second


AT = "2026-03-01T09:30:00+08:00"


@pytest.mark.parametrize(
    ("mutation", "status"),
    [
        ({"id": 0, "name": "hazard.report", "args": {}, "at": AT}, 400),
        ({"id": 1, "name": "x" * 65, "args": {}, "at": AT}, 400),
        ({"id": 1, "name": "hazard.report", "args": [], "at": AT}, 400),
        ({"id": 1, "name": "hazard.report", "args": {}, "at": "yesterday"}, 400),
        ({"id": 1, "name": "hazard.report", "args": {}}, 400),
        # Well formed but without a time zone: refused by the push's own rule.
        ({"id": 1, "name": "hazard.report", "args": {}, "at": "2026-03-01T09:30:00"}, 422),
    ],
)
def test_a_malformed_push_is_refused_and_changes_nothing(
    client: TestClient[Any], db: Session, mutation: dict[str, Any], status: int
) -> None:
    sign_in(client, "inspector")
    before = table_counts(db)
    response = push_raw(client, new_client_id(), [mutation], **{"accept-language": "en"})
    assert response.status_code == status, response.text
    assert response.json()["code"] == "validation_failed"
    assert table_counts(db) == before
