"""Property: whatever phones send, in whatever interleaving, the server ends up exactly as if each
phone's mutations had been applied once, in id order; and pulls bring every phone the hazards of
its user's area, each change once per cursor walk.

Three phones (two of the inspector, one of inspector2) write hazard reports into their outboxes
(valid ones, ones for an enterprise outside their area, blank ones, ones reusing a hazard id), then
hypothesis interleaves pushes of random parts of the outboxes (the unacknowledged prefix, random
subsets in random order, earlier batches sent again, entries repeated, an id reused for different
content), pushes that fail mid-write and are retried, and pulls of a few pages at a time. A small
model of the contract predicts every answer and the database's state after every step."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import httpx
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from litestar.testing import TestClient
from sqlalchemy import select, text
from sqlmodel import Session

from backend.models import Enterprise, Hazard, SyncMutation
from backend.offline import changes
from backend.validation import text_problem
from tests.conftest import sign_in_http
from tests.sync.conftest import (
    JIANGAN_GRID,
    QINGSHAN_GRID,
    extra_client,
    grid_id,
    push_raw,
    report,
    reset_sync_state,
)

MAX_EXAMPLES = 40
STEPS = 30
PHONES = ("a", "b", "c")
USER_OF = {"a": "inspector", "b": "inspector", "c": "inspector2"}
descriptions = st.text(st.characters(codec="utf-8"), max_size=8)
SEEN: Counter[str] = Counter()  # what the examples exercised, so the test cannot pass vacuously


@dataclass
class World:
    """What stays the same across examples: the database session, signed-in users, places."""

    db: Session
    http: dict[str, httpx.Client]  # username -> client
    grid: dict[str, int]  # username -> grid id
    enterprises: dict[str, list[int]]  # username -> enterprises of their grid
    postgres: bool


@dataclass
class Phone:
    name: str
    user: str
    client_id: str
    outbox: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 1
    acknowledged: int = 0  # last_mutation_id of the last answer
    sent: list[list[dict[str, Any]]] = field(default_factory=list)
    cursor: str = ""
    copy: dict[str, dict[str, Any]] = field(default_factory=dict)  # hazard id -> data
    streamed: Counter[str] = field(default_factory=Counter)  # since the last snapshot


@dataclass
class Processed:
    key: str
    status: str
    code: str


@dataclass
class ClientModel:
    last: int = 0
    processed: dict[int, Processed] = field(default_factory=dict)


@dataclass
class HazardModel:
    client_id: str
    mutation_id: int
    grid: int
    description: str


def content_key(mutation: dict[str, Any]) -> str:
    return json.dumps([mutation["name"], mutation["args"]], sort_keys=True)


class SyncMachine(RuleBasedStateMachine):
    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        reset_sync_state(world.db)
        self.phones = {name: Phone(name, USER_OF[name], str(uuid.uuid4())) for name in PHONES}
        self.clients: dict[str, ClientModel] = {
            p.client_id: ClientModel() for p in self.phones.values()
        }
        self.hazards: dict[str, HazardModel] = {}

    # --- the model of the contract ---

    def _judge(self, phone: Phone, mutation: dict[str, Any]) -> tuple[str, str]:
        args = mutation["args"]
        # A control character (NUL among them) inside the text is refused, never dropped.
        if not args["description"].strip() or text_problem(args["description"].strip()):
            return "rejected", "validation_failed"
        hazard_id = args["id"].lower()
        if hazard_id in self.hazards:
            return "rejected", "hazard.duplicate_id"
        if args["enterprise_id"] not in self.world.enterprises[phone.user]:
            return "rejected", "hazard.enterprise_out_of_scope"
        self.hazards[hazard_id] = HazardModel(
            phone.client_id,
            mutation["id"],
            self.world.grid[phone.user],
            args["description"].strip(),
        )
        return "applied", ""

    def _expect(self, phone: Phone, batch: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
        state = self.clients[phone.client_id]
        ordered: dict[int, dict[str, Any]] = {}
        for mutation in sorted(batch, key=lambda m: m["id"]):
            ordered.setdefault(mutation["id"], mutation)
        outcomes = []
        for mutation_id, mutation in ordered.items():
            known = state.processed.get(mutation_id)
            if mutation_id <= state.last:
                if known is None:
                    outcomes.append((mutation_id, "rejected", "sync.out_of_order"))
                elif known.key != content_key(mutation):
                    outcomes.append((mutation_id, "conflict", "sync.id_reused"))
                else:
                    outcomes.append((mutation_id, "duplicate", known.code))
                continue
            status, code = self._judge(phone, mutation)
            state.processed[mutation_id] = Processed(content_key(mutation), status, code)
            state.last = mutation_id
            outcomes.append((mutation_id, status, code))
        return outcomes

    # --- what phones do ---

    def _write(self, phone: str, data: st.DataObject) -> None:
        """The user fills in a report offline: it goes into the outbox with the next id (ids may
        leave gaps, as when the phone discarded a draft)."""
        p = self.phones[phone]
        kind = data.draw(st.sampled_from(["own", "own", "own", "foreign", "reuse"]))
        mine = self.world.enterprises[p.user]
        theirs = self.world.enterprises["inspector2" if p.user == "inspector" else "inspector"]
        enterprise = data.draw(st.sampled_from(theirs if kind == "foreign" else mine))
        hazard_id = None
        earlier = [m["args"]["id"] for q in self.phones.values() for m in q.outbox]
        if kind == "reuse" and earlier:
            hazard_id = data.draw(st.sampled_from(earlier)).upper()  # ids compare lower-case
        description = data.draw(st.one_of(st.just("漏电 leak"), descriptions))
        mutation_id = p.next_id + data.draw(st.sampled_from([0, 0, 0, 1, 2]))
        p.outbox.append(
            report(mutation_id, enterprise, hazard_id=hazard_id, description=description)
        )
        p.next_id = mutation_id + 1

    @initialize(data=st.data())
    def fill_outboxes(self, data: st.DataObject) -> None:
        for phone in PHONES:
            for _ in range(data.draw(st.integers(1, 4))):
                self._write(phone, data)

    @rule(phone=st.sampled_from(PHONES), data=st.data())
    def write(self, phone: str, data: st.DataObject) -> None:
        for _ in range(data.draw(st.integers(1, 3))):
            self._write(phone, data)

    def _draw_batch(self, data: st.DataObject, p: Phone) -> list[dict[str, Any]]:
        how = data.draw(st.sampled_from(["pending", "pending_prefix", "subset", "resend"]))
        pending = [m for m in p.outbox if m["id"] > p.acknowledged]
        if how == "resend" and p.sent:
            batch = list(data.draw(st.sampled_from(p.sent)))
        elif how == "subset" and p.outbox:
            picked = data.draw(st.lists(st.sampled_from(p.outbox), min_size=1, max_size=6))
            batch = list(data.draw(st.permutations(picked)))
        elif how == "pending_prefix" and pending:
            batch = pending[: data.draw(st.integers(1, len(pending)))]
        else:
            batch = pending  # what a phone normally sends: everything not acknowledged yet
        if batch and data.draw(st.booleans()):
            batch.insert(data.draw(st.integers(0, len(batch))), data.draw(st.sampled_from(batch)))
        if batch and data.draw(st.sampled_from([False] * 7 + [True])):
            # A phone bug: an id reused for different content.
            original = data.draw(st.sampled_from(batch))
            changed = {**original, "args": {**original["args"], "description": "changed"}}
            batch[batch.index(original)] = changed
        return batch

    @rule(phone=st.sampled_from(PHONES), data=st.data())
    def push(self, phone: str, data: st.DataObject) -> None:
        p = self.phones[phone]
        batch = self._draw_batch(data, p)
        p.sent.append(batch)  # a phone that got no answer sends it again some time
        if data.draw(st.sampled_from(["ok", "ok", "ok", "ok", "ok", "database fails"])) != "ok":
            self._push_failing_mid_write(p, batch)
            return
        response = push_raw(self.world.http[p.user], p.client_id, batch)
        assert response.status_code == 200, response.text
        body = response.json()
        got = [(r["id"], r["status"], r["code"]) for r in body["results"]]
        assert got == self._expect(p, batch)
        SEEN.update(f"{status} {code}".strip() for _, status, code in got)
        assert body["last_mutation_id"] == self.clients[p.client_id].last
        p.acknowledged = body["last_mutation_id"]

    def _push_failing_mid_write(self, p: Phone, batch: list[dict[str, Any]]) -> None:
        """The database fails after the batch's rows were written: nothing of it is kept."""
        original = changes.store

        def failing(session: Session, writes: Any) -> None:
            original(session, writes)
            session.execute(text("SELECT * FROM no_such_table"))

        with mock.patch.object(changes, "store", failing):
            response = push_raw(self.world.http[p.user], p.client_id, batch)
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "sync_retry"
        SEEN["sync_retry"] += 1

    @rule(phone=st.sampled_from(PHONES), limit=st.integers(1, 6), pages=st.integers(1, 4))
    def pull(self, phone: str, limit: int, pages: int) -> None:
        """A few pages from the phone's cursor (it may stop before the end, as a phone cut off)."""
        p = self.phones[phone]
        for _ in range(pages):
            page = self._page(p, limit)
            if not page["more"]:
                break

    def _page(self, p: Phone, limit: int) -> dict[str, Any]:
        response = self.world.http[p.user].get(
            "/api/v1/sync/pull",
            params={"cursor": p.cursor, "limit": limit, "client_id": p.client_id},
        )
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        assert page["last_mutation_id"] == self.clients[p.client_id].last
        SEEN["snapshot" if page["reset"] else "page"] += 1
        if page["reset"]:
            p.copy = {}
            p.streamed = Counter()
        for change in page["changes"]:
            if change["entity"] != "hazard":
                continue
            data = change["data"]
            assert data["grid_id"] == self.world.grid[p.user], "a hazard outside the user's area"
            expected = self.hazards.get(change["id"])
            assert expected is not None, "a hazard that should not exist"
            assert data["description"] == expected.description
            if not page["reset"]:
                p.streamed[change["id"]] += 1
                assert p.streamed[change["id"]] == 1, "a change delivered twice in one walk"
            p.copy[change["id"]] = data
        p.cursor = page["cursor"]
        return page

    # --- what must hold ---

    @invariant()
    def database_matches_model(self) -> None:
        db = self.world.db
        db.rollback()
        stored = {
            row.id: (row.client_id, row.mutation_id)
            for row in db.execute(select(Hazard.id, Hazard.client_id, Hazard.mutation_id))
        }
        assert stored == {h: (m.client_id, m.mutation_id) for h, m in self.hazards.items()}
        processed = {
            (row.client_id, row.mutation_id): (row.status, row.code)
            for row in db.execute(
                select(
                    SyncMutation.client_id,
                    SyncMutation.mutation_id,
                    SyncMutation.status,
                    SyncMutation.code,
                )
            )
        }
        assert processed == {
            (client_id, mutation_id): (item.status, item.code)
            for client_id, state in self.clients.items()
            for mutation_id, item in state.processed.items()
        }

    def teardown(self) -> None:
        """Eventually every phone holds exactly the hazards of its user's area."""
        for p in self.phones.values():
            wanted = {h for h, m in self.hazards.items() if m.grid == self.world.grid[p.user]}
            # SQLite shows every commit at once; PostgreSQL may hold a change back while some older
            # transaction on the server is still running (the cursor's horizon).
            deadline = time.monotonic() + (10 if self.world.postgres else 0.5)
            while True:
                while self._page(p, 50)["more"]:
                    pass
                if set(p.copy) == wanted:
                    break
                assert set(p.copy) < wanted, "a phone holds a hazard it should not"
                assert time.monotonic() < deadline, f"{p.name} never got {wanted - set(p.copy)}"
                time.sleep(0.05)


def _enterprises_of(db: Session, grid: int) -> list[int]:
    rows = db.execute(
        select(Enterprise.id).where(Enterprise.grid_id == grid).order_by(Enterprise.id)
    )
    return list(rows.scalars())[:3]


def test_random_interleavings_apply_each_mutation_once(
    client: TestClient[Any], db: Session
) -> None:
    SEEN.clear()
    grids = {"inspector": grid_id(db, QINGSHAN_GRID), "inspector2": grid_id(db, JIANGAN_GRID)}
    http = {}
    for username in grids:
        http[username] = extra_client(client)
        sign_in_http(http[username], username)
    enterprises = {user: _enterprises_of(db, grid) for user, grid in grids.items()}
    world = World(db, http, grids, enterprises, db.get_bind().dialect.name == "postgresql")
    try:
        run_state_machine_as_test(
            lambda: SyncMachine(world),
            settings=hypothesis_settings(
                max_examples=MAX_EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        for session in http.values():
            session.close()
    # The examples did exercise the interesting paths.
    assert (
        min(SEEN[what] for what in ("applied", "duplicate", "sync_retry", "snapshot", "page")) > 0
    )
