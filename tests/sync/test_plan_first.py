"""Planning a batch before taking the client's lock (SQLite): a push that got in between is seen,
nothing is doubled, and the queue for SQLite's write slot is never left taken."""

from __future__ import annotations

import gc
import os
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import create_engine, event, text
from sqlmodel import Session

import backend.db
from backend.db import WriterTurn, writer_turn
from backend.models import Hazard, SyncMutation
from backend.offline import changes, ingest
from backend.offline.store import SqlSyncStore
from sync import ClientState, Mutation, MutationRegistry, StalePlan, Write, apply_batch
from sync.protocol import Processed
from sync.registry import Plan
from tests.conftest import enterprise_in, sign_in
from tests.sync.conftest import (
    QINGSHAN_GRID,
    count,
    last_mutation_id,
    new_client_id,
    push,
    push_raw,
    report,
    statuses,
)

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


# --- the engine's side, with a store in memory ---------------------------------------------------


class MovingStore:
    """A store whose counter moves to `locked_at` between the unlocked read and the lock."""

    plans_before_lock = True

    def __init__(self, locked_at: int) -> None:
        self.locked_at = locked_at
        self.calls: list[str] = []
        self.saved: list[Sequence[Write]] = []

    def peek_client(self, client_id: str) -> ClientState:
        self.calls.append("peek")
        return ClientState(client_id, 7, 0)

    def lock_client(self, client_id: str) -> ClientState:
        self.calls.append("lock")
        return ClientState(client_id, 7, self.locked_at)

    def processed(self, client_id: str, ids: Sequence[int]) -> dict[int, Processed]:
        return {}

    def save(
        self,
        client: ClientState,
        writes: Sequence[Write],
        processed: Sequence[Processed],
        last_mutation_id: int,
    ) -> None:
        self.calls.append("save")
        self.saved.append(writes)


class Context:
    client_id = "c1"
    now = datetime.now(UTC)


def _registry() -> MutationRegistry:
    registry = MutationRegistry()

    @registry.register("note", plans_only=True)
    def note(_context: Any, mutation: Mutation) -> Plan:
        return Plan([Write("note", {"id": mutation.id})])

    @registry.register("note.with_side_effects")
    def loud(_context: Any, mutation: Mutation) -> Plan:
        return Plan([Write("note", {"id": mutation.id})])

    return registry


def _mutations(*names: str) -> list[Mutation]:
    return [Mutation(i, name, {}, datetime.now(UTC)) for i, name in enumerate(names, start=1)]


def test_a_plan_made_from_a_counter_that_moved_is_never_stored() -> None:
    store = MovingStore(locked_at=1)
    with pytest.raises(StalePlan):
        apply_batch(store, _registry(), Context(), _mutations("note", "note"), lambda *_: None)
    assert store.calls == ["peek", "lock"]
    assert store.saved == []


def test_a_plan_made_from_the_counter_still_there_is_stored_once() -> None:
    store = MovingStore(locked_at=0)
    result = apply_batch(store, _registry(), Context(), _mutations("note", "note"), lambda *_: None)
    assert [o.status for o in result.outcomes] == ["applied", "applied"]
    assert store.calls == ["peek", "lock", "save"]
    assert [w.row["id"] for w in store.saved[0]] == [1, 2]


@pytest.mark.parametrize(
    ("names", "lock_first"),
    [(("note", "note.with_side_effects"), False), (("note", "note"), True)],
    ids=["a handler that writes itself", "asked to lock first"],
)
def test_otherwise_the_client_is_locked_before_anything_is_planned(
    names: tuple[str, ...], lock_first: bool
) -> None:
    store = MovingStore(locked_at=0)
    apply_batch(
        store, _registry(), Context(), _mutations(*names), lambda *_: None, lock_first=lock_first
    )
    assert store.calls == ["lock", "save"]


# --- on SQLite: another push between planning and locking ---------------------------------------


def _as_mutations(entries: list[dict[str, Any]]) -> list[Mutation]:
    return [
        Mutation(e["id"], e["name"], e["args"], datetime.fromisoformat(e["at"])) for e in entries
    ]


def _tries(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The `lock_first` of every try the tested push makes (not the one in between)."""
    seen: list[bool] = []
    original = ingest.apply_batch

    def recording(*args: Any, **kwargs: Any) -> Any:
        if args[2].device != "another tab":
            seen.append(kwargs.get("lock_first", False))
        return original(*args, **kwargs)

    monkeypatch.setattr(ingest, "apply_batch", recording)
    return seen


def _meanwhile(
    monkeypatch: pytest.MonkeyPatch,
    app: Litestar,
    after: str,
    client_id: str,
    entries: list[dict[str, Any]],
) -> list[Any]:
    """Once, while a push is under way, another push of `entries` (a second tab, another phone)
    is applied and committed: `after` the push read its counter unlocked ("peek"), just before it
    takes the lock to store its plan ("plan"), or just before it stores its rows ("save").
    Returns the other push's outcomes."""
    name = {"peek": "peek_client", "plan": "lock_client", "save": "save"}[after]
    original = getattr(SqlSyncStore, name)
    other: list[Any] = []
    started: list[bool] = []

    def another_push(store: SqlSyncStore) -> None:
        if started:  # the other push goes through here too: straight on
            return
        started.append(True)
        with app.state.session_factory() as session:
            result = ingest.apply_push(
                session, store.principal, client_id, _as_mutations(entries), "another tab"
            )
        other.extend(result.outcomes)

    def wrapped(self: SqlSyncStore, *args: Any) -> Any:
        if after != "peek":
            another_push(self)
        answer = original(self, *args)
        if after == "peek":
            another_push(self)
        return answer

    monkeypatch.setattr(SqlSyncStore, name, wrapped)
    return other


@SQLITE_ONLY
def test_a_push_of_the_same_client_in_between_is_seen_and_nothing_is_doubled(
    app: Litestar, client: TestClient[Any], db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    client_id = new_client_id()
    first_two = [report(1, own.id), report(2, own.id)]
    hazards_before = count(db, Hazard)
    other = _meanwhile(monkeypatch, app, "peek", client_id, first_two)
    tries = _tries(monkeypatch)

    answer = push(client, client_id, [*first_two, report(3, own.id)])

    assert [o.status for o in other] == ["applied", "applied"]
    assert statuses(answer) == {1: ("duplicate", ""), 2: ("duplicate", ""), 3: ("applied", "")}
    assert tries == [False, True]  # planned unlocked, found stale, planned again under the lock
    assert count(db, Hazard) - hazards_before == 3
    assert count(db, SyncMutation, SyncMutation.client_id == client_id) == 3
    assert last_mutation_id(db, client_id) == 3


@pytest.mark.parametrize(
    ("database_url", "moment"),
    # SQLite plans before it locks: the other phone gets in before the lock. PostgreSQL locks
    # the client first, but another phone's client is another row: its report of the same id
    # can commit while this batch is planned, before its rows are stored.
    [("sqlite", "plan"), pytest.param("postgresql", "save", marks=pytest.mark.postgres)],
    indirect=["database_url"],
)
def test_the_same_report_id_stored_meanwhile_by_another_phone_is_answered_duplicate_id(
    app: Litestar,
    client: TestClient[Any],
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
    moment: str,
) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    hazard_id = str(uuid.uuid4())
    other = _meanwhile(
        monkeypatch, app, moment, new_client_id(), [report(1, own.id, hazard_id=hazard_id)]
    )
    tries = _tries(monkeypatch)
    client_id = new_client_id()

    answer = push(client, client_id, [report(1, own.id, hazard_id=hazard_id), report(2, own.id)])

    assert [o.status for o in other] == ["applied"]
    # The insert found the id taken; planned again under the lock, the rules say why (before,
    # the whole batch answered sync_retry).
    assert statuses(answer) == {1: ("rejected", "hazard.duplicate_id"), 2: ("applied", "")}
    assert tries == [False, True]
    assert count(db, Hazard, Hazard.id == hazard_id) == 1
    assert last_mutation_id(db, client_id) == 2


# --- the queue for SQLite's write slot ----------------------------------------------------------


def test_the_writer_turn_shuts_out_another_process(tmp_path: Path) -> None:
    # Two turns on one file hold two open file descriptions, as two server processes do: flock
    # makes them wait for each other, wherever they are.
    path = tmp_path / "gridsafe.sqlite3.writer"
    here, there = WriterTurn(path), WriterTurn(path)
    got_it = threading.Event()

    def take_there() -> None:
        there.acquire()
        got_it.set()
        there.release()

    here.acquire()
    waiting = threading.Thread(target=take_there)
    waiting.start()
    try:
        assert not got_it.wait(0.3)
    finally:
        here.release()
    assert got_it.wait(5)
    waiting.join(5)


def test_only_a_sqlite_file_has_a_writer_turn(tmp_path: Path) -> None:
    on_file = create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    in_memory = create_engine("sqlite://")
    try:
        assert writer_turn(on_file) is writer_turn(on_file) is not None
        assert writer_turn(in_memory) is None
    finally:
        on_file.dispose()
        in_memory.dispose()


def _pushes_within(client: TestClient[Any], client_id: str, entry: dict[str, Any]) -> bool:
    """Whether a push is answered within 10 s (a turn left taken would make it wait for ever)."""
    answered = threading.Event()

    def send() -> None:
        push(client, client_id, [entry])
        answered.set()

    threading.Thread(target=send, daemon=True).start()
    return answered.wait(10)


@SQLITE_ONLY
def test_a_push_that_fails_after_taking_the_turn_gives_it_back(
    client: TestClient[Any], db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    client_id = new_client_id()

    def broken_store(session: Session, writes: Any) -> None:
        session.execute(text("INSERT INTO no_such_table VALUES (1)"))

    with monkeypatch.context() as patch:
        patch.setattr(changes, "store", broken_store)
        assert push_raw(client, client_id, [report(1, own.id)]).status_code == 503
    assert _pushes_within(client, client_id, report(1, own.id))
    assert last_mutation_id(db, client_id) == 1


def test_a_writer_turn_closes_its_file_when_its_engine_goes(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    turn = writer_turn(engine)
    assert turn is not None
    descriptor = turn._fd
    os.fstat(descriptor)  # open
    del turn
    engine.dispose()
    del engine
    gc.collect()
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(descriptor)


@SQLITE_ONLY
def test_a_push_that_waits_too_long_for_its_turn_is_asked_again_and_stores_nothing(
    app: Litestar, client: TestClient[Any], db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    client_id = new_client_id()
    monkeypatch.setattr(backend.db, "SQLITE_BUSY_SECONDS", 0.3)
    with app.state.session_factory() as session:
        turn = writer_turn(session.get_bind())  # type: ignore[arg-type]
    assert turn is not None
    hazards_before = count(db, Hazard)
    answers: list[Any] = []

    def send() -> None:
        answers.append(push_raw(client, client_id, [report(1, own.id)]))

    turn.acquire()  # another push of this process, stuck behind a long write
    sender = threading.Thread(target=send, daemon=True)
    try:
        sender.start()
        sender.join(10)  # without a bound on the wait it would still be waiting
        assert answers, "the push waited for its turn without end"
    finally:
        turn.release()
    sender.join(10)
    [response] = answers
    assert response.status_code == 503
    assert response.json()["code"] == "sync_retry"
    assert count(db, Hazard) == hazards_before
    assert last_mutation_id(db, client_id) is None
    assert statuses(push(client, client_id, [report(1, own.id)])) == {1: ("applied", "")}


@SQLITE_ONLY
def test_pushes_checkpoint_the_log_after_giving_their_turn_back(
    app: Litestar, client: TestClient[Any], db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every CHECKPOINT_EVERY_PUSHES-th push copies the log into the database, never with the
    turn held (the other pushes would wait for the copy); SQLite's own would run in the commit."""
    own = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    client_id = new_client_id()
    monkeypatch.setattr(backend.db, "CHECKPOINT_EVERY_PUSHES", 2)
    with app.state.session_factory() as session:
        engine = session.get_bind()
    turn = writer_turn(engine)  # type: ignore[arg-type]
    assert turn is not None
    held_while_checkpointing: list[bool] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "wal_checkpoint" in statement:
            held_while_checkpointing.append(turn._threads.locked())

    event.listen(engine, "before_cursor_execute", seen)
    try:
        for mutation_id in range(1, 6):
            body = push(client, client_id, [report(mutation_id, own.id)])
            assert statuses(body) == {mutation_id: ("applied", "")}
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert held_while_checkpointing == [False, False]  # after the 2nd and the 4th push
