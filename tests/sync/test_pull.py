"""Pull: paging, scope, and a cursor that never skips a change committed late."""

from __future__ import annotations

import base64
import uuid
from collections import Counter
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from backend.auth.services import principal_of
from backend.db import make_engine, make_session_factory
from backend.hazards.services import Lookups
from backend.models import Enterprise, KeyPoint, Unit, utcnow
from backend.offline import changes
from backend.offline.mutations import BackendContext, registry
from backend.offline.store import SqlSyncStore
from backend.settings import Settings
from sync import Cursor, Mutation, apply_batch
from tests.conftest import enterprise_in, sign_in, sign_in_http
from tests.sync.conftest import (
    JIANGAN_GRID,
    QINGSHAN_GRID,
    extra_client,
    grid_id,
    keys,
    new_client_id,
    pull_page,
    push,
    report,
    statuses,
    user_named,
    walk,
    walk_until,
)


def test_paging_delivers_every_change_exactly_once(client: TestClient[Any], db: Session) -> None:
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    start = walk(client)
    assert start.reset
    client_id = new_client_id()
    batches = [[report(i, enterprise.id) for i in range(n, n + 8)] for n in (1, 9, 17)]
    for batch in batches:
        assert {s for s, _ in statuses(push(client, client_id, batch)).values()} == {"applied"}
    wanted = {("hazard", m["args"]["id"]) for batch in batches for m in batch}

    pages = walk_until(client, start.cursor, wanted, limit=5)
    delivered = Counter((c["entity"], c["id"]) for c in pages.changes)
    assert set(delivered) == wanted
    assert max(delivered.values()) == 1
    assert pages.pages >= 5  # 24 changes, 5 a page
    assert pages.last_mutation_id == 0  # no client_id given
    first = pull_page(client, start.cursor, limit=5, client_id=client_id)
    assert first["last_mutation_id"] == 24
    assert len(first["changes"]) <= 5
    # Nothing more after the end, and an earlier cursor replays (idempotent upserts), never resets.
    assert walk(client, pages.cursor).changes == []
    replay = walk(client, start.cursor, limit=7)
    assert not replay.reset
    assert keys(replay.changes) <= wanted


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def test_a_broken_or_stale_cursor_starts_over(client: TestClient[Any]) -> None:
    sign_in(client, "inspector")
    issued = Cursor.decode(walk(client).cursor)
    assert issued is not None
    assert issued.scope == 1  # the user's scope version
    broken = [
        "garbage",
        "!!",
        *(
            _cursor(raw)
            for raw in (
                "[1,1,1]",  # too short
                "[]",
                "{}",
                "[2,1,0,0]",  # another version
                "[1,-1,0,0]",
                "[1,true,0,0]",
                '[1,"1",0,0]',
                "[1,99,0,0]",  # another scope version than the user's
            )
        ),
    ]
    for cursor in broken:
        page = pull_page(client, cursor)
        assert page["reset"] is True, cursor
        assert page["changes"], cursor


def test_enterprise_officer_pulls_only_its_enterprise(client: TestClient[Any], db: Session) -> None:
    grid = grid_id(db, QINGSHAN_GRID)
    own, neighbour = (
        db.execute(select(Enterprise).where(Enterprise.grid_id == grid).order_by(Enterprise.id))
        .scalars()
        .all()[:2]
    )
    officer = extra_client(client)
    sign_in_http(officer, "enterprise")
    start = walk(officer)
    assert start.reset
    assert {(c["entity"], c["id"]) for c in start.changes if c["entity"] == "enterprise"} == {
        ("enterprise", str(own.id))
    }
    points = {c["data"]["enterprise_id"] for c in start.changes if c["entity"] == "key_point"}
    assert points == {own.id}
    own_points = db.execute(select(KeyPoint.id).where(KeyPoint.enterprise_id == own.id)).scalars()
    assert {c["id"] for c in start.changes if c["entity"] == "key_point"} == {
        str(i) for i in own_points
    }

    sign_in(client, "inspector")
    theirs = report(1, own.id)
    elsewhere = [report(2, neighbour.id), report(3, None, grid_id=grid)]
    assert {
        s for s, _ in statuses(push(client, new_client_id(), [theirs, *elsewhere])).values()
    } == {"applied"}
    sign_in(client, "inspector2")
    far = report(1, enterprise_in(db, JIANGAN_GRID).id)
    assert statuses(push(client, new_client_id(), [far])) == {1: ("applied", "")}

    later = walk_until(officer, start.cursor, {("hazard", theirs["args"]["id"])})
    assert keys(later.changes) == {("hazard", theirs["args"]["id"])}
    assert walk(officer, later.cursor).changes == []
    snapshot = walk(officer)
    hazards = {c["id"] for c in snapshot.changes if c["entity"] == "hazard"}
    assert hazards == {theirs["args"]["id"]}
    officer.close()


def test_cursor_does_not_skip_a_change_committed_late(
    client: TestClient[Any], db: Session, settings: Settings
) -> None:
    """Transaction A writes a change and stays open; transaction B writes one after it and commits
    first; the phone pulls in between. A cursor that is just `id > last id seen` would return B's
    row (its id is higher than A's, since A drew its id first), move past both ids, and never
    return A's row once A commits: that change would be lost for ever. The cursor must stay below
    every transaction still running (PostgreSQL: the snapshot's xmin horizon on txids), so the
    next pull after A commits returns A's row.

    On SQLite writers are serial, so B cannot commit while A is open; there the test checks that
    A's row is not returned while it is uncommitted and is returned after it commits."""
    postgres = settings.resolved_database_url.startswith("postgresql")
    path = db.execute(select(Unit.path).where(Unit.code == QINGSHAN_GRID)).scalar_one()

    def logged(label: str) -> tuple[str, Any]:
        entity_id = f"late-{label}-{uuid.uuid4()}"
        return entity_id, changes.change("hazard", entity_id, "upsert", path, None, {"id": label})

    sign_in(client, "inspector")
    cursor = walk(client).cursor
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    try:
        with factory() as session_a:
            a_id, a_write = logged("a")
            changes.store(session_a, [a_write])  # A: written, not committed
            b_id = None
            if postgres:
                with factory() as session_b:
                    b_id, b_write = logged("b")
                    changes.store(session_b, [b_write])
                    session_b.commit()  # B: committed after A wrote, before A commits
            during = walk(client, cursor)
            assert ("hazard", a_id) not in keys(during.changes)
            # B may or may not be delivered now; with the horizon cursor it waits for A.
            session_a.commit()
        after = walk_until(client, during.cursor, {("hazard", a_id)})
        seen = keys(during.changes) | keys(after.changes)
        assert ("hazard", a_id) in seen
        if b_id is not None:
            both = during.changes + after.changes
            assert ("hazard", b_id) in seen
            assert sum(c["id"] == b_id for c in both) == 1
    finally:
        engine.dispose()


def test_cursor_survives_a_push_held_open(
    client: TestClient[Any], db: Session, settings: Settings
) -> None:
    """The same through the push path: one phone's batch is applied by the engine in a
    transaction still open while another phone's push commits; the inspector pulls in between,
    then again after, and gets both hazards exactly once."""
    postgres = settings.resolved_database_url.startswith("postgresql")
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    dispatcher = user_named(db, "dispatcher")
    unit = db.get(Unit, dispatcher.unit_id)
    assert unit is not None
    principal = principal_of(dispatcher, unit.path, unit.name)
    sign_in(client, "inspector")
    cursor = walk(client).cursor
    held_report, quick = report(1, enterprise.id), report(1, enterprise.id)

    engine = make_engine(settings.resolved_database_url)
    try:
        with make_session_factory(engine)() as held:
            mutation = Mutation(1, "hazard.report", held_report["args"], utcnow())
            context = BackendContext(new_client_id(), utcnow(), principal, Lookups(held))
            store = SqlSyncStore(held, principal, {1: "hazard.report"})
            result = apply_batch(store, registry, context, [mutation], lambda *_: None)
            assert result.outcomes[0].status == "applied"
            if postgres:  # SQLite would make the second push wait for the first one's commit
                assert statuses(push(client, new_client_id(), [quick])) == {1: ("applied", "")}
            during = walk(client, cursor)
            assert ("hazard", held_report["args"]["id"]) not in keys(during.changes)
            held.commit()
        if not postgres:
            assert statuses(push(client, new_client_id(), [quick])) == {1: ("applied", "")}
        wanted = {("hazard", held_report["args"]["id"]), ("hazard", quick["args"]["id"])}
        after = walk_until(client, during.cursor, wanted - keys(during.changes))
        delivered = Counter(
            (c["entity"], c["id"])
            for c in during.changes + after.changes
            if c["entity"] == "hazard"
        )
        assert set(delivered) == wanted
        assert max(delivered.values()) == 1
    finally:
        engine.dispose()
