"""Helpers for the offline-sync tests: mutation builders, push/pull calls, row counts, a live server.

Everything here runs on SQLite and on PostgreSQL through the shared `client`, `db` and `settings`
fixtures. On PostgreSQL a pull only returns changes below the cluster-wide snapshot horizon, so a
transaction left open anywhere on the server (another database included) can delay a change:
helpers that wait for a change therefore pull again until it arrives or a deadline passes."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from litestar.testing import TestClient
from litestar.testing.transport import TestClientTransport
from sqlalchemy import func, select, text
from sqlmodel import Session

from backend.models import (
    Change,
    CheckIn,
    Event,
    Hazard,
    HazardPhoto,
    Photo,
    SyncClient,
    SyncMutation,
    Unit,
    User,
)
from tests.conftest import csrf_token

QINGSHAN_GRID = "420107001001"  # the demo inspector's grid
JIANGAN_GRID = "420102001001"  # inspector2's grid
PUSH = "/api/v1/sync/push"
PULL = "/api/v1/sync/pull"

SYNC_TABLES = ("hazard_photo", "hazard", "check_in", "change", "sync_mutation", "sync_client")


def new_client_id() -> str:
    return str(uuid.uuid4())


def iso(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).isoformat()


def report(
    mutation_id: int,
    enterprise_id: int | None,
    *,
    hazard_id: str | None = None,
    description: str = "灭火器过期 expired extinguisher",
    photos: list[str] | tuple[str, ...] = (),
    at: datetime | str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A `hazard.report` outbox entry with a fresh hazard UUID (unless one is given)."""
    args: dict[str, Any] = {
        "id": hazard_id or str(uuid.uuid4()),
        "severity": "general",
        "category": "fire",
        "description": description,
        "enterprise_id": enterprise_id,
        "photos": list(photos),
        **extra,
    }
    when = at if isinstance(at, str) else iso(at)
    return {"id": mutation_id, "name": "hazard.report", "args": args, "at": when}


def check_in(
    mutation_id: int, enterprise_id: int, *, check_in_id: str | None = None
) -> dict[str, Any]:
    return {
        "id": mutation_id,
        "name": "inspection.check_in",
        "args": {"id": check_in_id or str(uuid.uuid4()), "enterprise_id": enterprise_id},
        "at": iso(),
    }


def push_raw(
    client: httpx.Client, client_id: str, mutations: list[dict[str, Any]], **headers: str
) -> httpx.Response:
    return client.post(
        PUSH,
        json={"client_id": client_id, "mutations": mutations},
        headers={"x-csrftoken": csrf_token(client), **headers},  # type: ignore[arg-type]
    )


def push(
    client: httpx.Client, client_id: str, mutations: list[dict[str, Any]], **headers: str
) -> dict[str, Any]:
    """Push a batch and return the JSON answer (which must be a 200)."""
    response = push_raw(client, client_id, mutations, **headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def statuses(body: dict[str, Any]) -> dict[int, tuple[str, str]]:
    """mutation id -> (status, code) of a push answer."""
    return {item["id"]: (item["status"], item["code"]) for item in body["results"]}


def pull_page(client: httpx.Client, cursor: str = "", **params: Any) -> dict[str, Any]:
    response = client.get(PULL, params={"cursor": cursor, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Walk:
    """The pages of one cursor walk, until the server said there is no more."""

    changes: list[dict[str, Any]]
    cursor: str
    pages: int
    reset: bool
    last_mutation_id: int


def walk(client: httpx.Client, cursor: str = "", limit: int = 1000, **params: Any) -> Walk:
    changes: list[dict[str, Any]] = []
    pages = 0
    reset = False
    while True:
        page = pull_page(client, cursor, limit=limit, **params)
        pages += 1
        reset = reset or page["reset"]
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["more"]:
            return Walk(changes, cursor, pages, reset, page["last_mutation_id"])
        assert pages < 10_000


def walk_until(
    client: httpx.Client,
    cursor: str,
    wanted: set[tuple[str, str]],
    limit: int = 1000,
    timeout: float = 20.0,
) -> Walk:
    """Walk again and again from `cursor` until every wanted (entity, id) has been delivered."""
    deadline = time.monotonic() + timeout
    changes: list[dict[str, Any]] = []
    pages = 0
    while True:
        step = walk(client, cursor, limit)
        assert not step.reset, "an incremental cursor must not start over"
        changes += step.changes
        pages += step.pages
        cursor = step.cursor
        if wanted <= {(c["entity"], c["id"]) for c in changes}:
            return Walk(changes, cursor, pages, False, step.last_mutation_id)
        assert time.monotonic() < deadline, f"never delivered: {wanted - keys(changes)}"
        time.sleep(0.05)


def keys(changes: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(c["entity"], c["id"]) for c in changes}


def count(db: Session, model: Any, *where: Any) -> int:
    return int(db.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def table_counts(db: Session) -> dict[str, int]:
    """Row counts of everything a push may write."""
    db.rollback()  # a fresh snapshot on both databases
    return {
        "hazard": count(db, Hazard),
        "hazard_photo": count(db, HazardPhoto),
        "check_in": count(db, CheckIn),
        "event": count(db, Event),
        "change": count(db, Change),
        "sync_mutation": count(db, SyncMutation),
        "photo": count(db, Photo),
    }


def last_mutation_id(db: Session, client_id: str) -> int | None:
    db.rollback()
    return db.execute(
        select(SyncClient.last_mutation_id).where(SyncClient.client_id == client_id)
    ).scalar()


def grid_id(db: Session, code: str) -> int:
    return int(db.execute(select(Unit.id).where(Unit.code == code)).scalar_one())


def user_named(db: Session, username: str) -> User:
    user = db.execute(select(User).where(User.username == username)).scalar_one()
    return user


def reset_sync_state(db: Session) -> None:
    """Forget every hazard, check-in, processed mutation and change (cheap, for hypothesis)."""
    db.rollback()
    for table in SYNC_TABLES:
        db.execute(text(f"DELETE FROM {table}"))
    db.execute(text("DELETE FROM event WHERE entity_type = 'hazard' OR action LIKE 'inspection.%'"))
    db.commit()


class _SharedTransport(TestClientTransport[Any]):
    """The test client owns the app and its portal; an extra client has nothing to open or close."""

    def __enter__(self) -> _SharedTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def close(self) -> None:
        pass


def extra_client(client: TestClient[Any]) -> httpx.Client:
    """Another browser on the same app: its own cookies (so its own user), without entering the
    app's lifespan a second time."""
    return httpx.Client(
        base_url=client.base_url,
        transport=_SharedTransport(client),  # type: ignore[arg-type]
        headers={"user-agent": "testclient"},
        follow_redirects=True,
    )
