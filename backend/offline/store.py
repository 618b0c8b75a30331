"""SQL implementations of the sync engine's storage and change source (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, Text, bindparam, cast, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from backend.auth.policy import Principal
from backend.db import WriterTurn, planned_for_values
from backend.models import (
    Change,
    Enterprise,
    Hazard,
    HazardPhoto,
    HazardState,
    KeyPoint,
    RiskProfile,
    SyncClient,
    SyncMutation,
    Unit,
    utcnow,
)
from backend.models.base import UTCDateTime
from backend.offline import bulk, changes
from backend.offline.entities import enterprise_data, hazard_data, key_point_data
from sync import Change as SyncChange
from sync import ClientState, Write
from sync.protocol import Processed, Status
from sync.pull import LoggedChange

SYNC_CLIENT: Table = SyncClient.__table__  # type: ignore[attr-defined]
SYNC_MUTATION: Table = SyncMutation.__table__  # type: ignore[attr-defined]
CHANGE: Table = Change.__table__  # type: ignore[attr-defined]

# The push's own statements, built once: building and hashing a statement costs more than
# running it for a small batch.
_lock_statements: dict[str, Any] = {}


def _lock_statement(dialect: str) -> Any:
    statement = _lock_statements.get(dialect)
    if statement is None:
        insert_for = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            insert_for(SYNC_CLIENT)
            .values(
                client_id=bindparam("new_client"),
                user_id=bindparam("new_user"),
                last_mutation_id=0,
                created_at=bindparam("new_at", type_=UTCDateTime()),
            )
            .on_conflict_do_update(
                index_elements=["client_id"], set_={"last_push_at": SYNC_CLIENT.c.last_push_at}
            )
            .returning(
                SYNC_CLIENT.c.user_id,
                SYNC_CLIENT.c.last_mutation_id,
                # The upsert gave the transaction its id: the change log rows need it.
                changes.TXID.label("txid") if dialect == "postgresql" else literal(0),
            )
        )
        _lock_statements[dialect] = statement
    return statement


_PROCESSED = select(
    SYNC_MUTATION.c.mutation_id,
    SYNC_MUTATION.c.status,
    SYNC_MUTATION.c.digest,
    SYNC_MUTATION.c.code,
    SYNC_MUTATION.c.result,
).where(
    SYNC_MUTATION.c.client_id == bindparam("of_client"),
    SYNC_MUTATION.c.mutation_id.in_(bindparam("ids", expanding=True)),
)
_ADVANCE = (
    update(SYNC_CLIENT)
    .where(SYNC_CLIENT.c.client_id == bindparam("of_client"))
    .values(
        last_mutation_id=bindparam("new_last"),
        last_push_at=bindparam("now", type_=UTCDateTime()),
    )
)


class ClientBelongsToAnother(Exception):
    """A client id registered by another user: never mix two people's outboxes."""


_PEEK = select(SYNC_CLIENT.c.user_id, SYNC_CLIENT.c.last_mutation_id).where(
    SYNC_CLIENT.c.client_id == bindparam("of_client")
)


class SqlSyncStore:
    def __init__(
        self,
        session: Session,
        principal: Principal,
        names: dict[int, str],
        turn: WriterTurn | None = None,
    ) -> None:
        self.session = session
        self.principal = principal
        self.names = names  # mutation id -> name, for the processed log
        # Taken before the first write and held until `end_turn` (backend/db.writer_turn).
        self.turn = turn
        self._holding = False
        # Where writers queue for the database's one write slot (SQLite), planning before it pays:
        # the next push plans while this one writes. PostgreSQL locks only the client's row.
        self.plans_before_lock = turn is not None

    def end_turn(self) -> None:
        """After the commit or rollback: the next push may write."""
        if self._holding:
            self._holding = False
            assert self.turn is not None
            self.turn.release()

    def _owned(self, client_id: str, user_id: int, last_mutation_id: int) -> ClientState:
        """The client's state, when the client is the signed-in person's."""
        if user_id != self.principal.id:
            raise ClientBelongsToAnother(client_id)
        return ClientState(client_id, user_id, last_mutation_id)

    def peek_client(self, client_id: str) -> ClientState:
        row = self.session.connection().execute(_PEEK, {"of_client": client_id}).first()
        if row is None:
            return ClientState(client_id, self.principal.id, 0)
        return self._owned(client_id, row.user_id, row.last_mutation_id)

    def lock_client(self, client_id: str) -> ClientState:
        # One statement creates the row if new, locks it and reads the counter under that lock,
        # so two pushes of one client are applied one after the other. An upsert is a write: it
        # takes SQLite's write lock before reading anything (WAL would refuse a second writer
        # late otherwise); on PostgreSQL, ON CONFLICT DO UPDATE locks the row like SELECT … FOR
        # UPDATE and returns its latest committed version. The update itself changes nothing.
        if self.turn is not None and not self._holding:
            self.turn.acquire()
            self._holding = True
        connection = self.session.connection()
        found = connection.execute(
            _lock_statement(connection.dialect.name),
            {"new_client": client_id, "new_user": self.principal.id, "new_at": utcnow()},
        ).one()
        client = self._owned(client_id, found.user_id, found.last_mutation_id)
        if connection.dialect.name == "postgresql":
            changes.remember_txid(connection, found.txid)
        return client

    def processed(self, client_id: str, ids: Sequence[int]) -> dict[int, Processed]:
        if not ids:
            return {}
        connection = self.session.connection()
        with planned_for_values(connection):  # sync_mutation only grows (backend/db.py)
            rows = connection.execute(_PROCESSED, {"of_client": client_id, "ids": list(ids)})
        return {
            row.mutation_id: Processed(
                row.mutation_id, Status(row.status), row.digest, row.code, row.result or {}
            )
            for row in rows
        }

    def save(
        self,
        client: ClientState,
        writes: Sequence[Write],
        processed: Sequence[Processed],
        last_mutation_id: int,
    ) -> None:
        changes.store(self.session, writes)
        if processed:
            now = utcnow()
            bulk.insert_rows(
                self.session.connection(),
                SYNC_MUTATION,
                [
                    {
                        "client_id": client.client_id,
                        "mutation_id": item.mutation_id,
                        # Any text the phone sent; PostgreSQL text cannot hold NUL.
                        "name": self.names.get(item.mutation_id, "").replace("\x00", "")[:64],
                        "status": item.status.value,
                        "code": item.code[:64],
                        "digest": item.digest,
                        "result": item.result or None,
                        "processed_at": now,
                    }
                    for item in processed
                ],
            )
        self.session.connection().execute(
            _ADVANCE, {"of_client": client.client_id, "new_last": last_mutation_id, "now": utcnow()}
        )


class SqlChangeSource:
    """The change log and current state, bounded by the principal's scope in SQL."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    def _scoped(self, column_path: Any, column_enterprise: Any) -> Any:
        if self.principal.is_enterprise:
            return column_enterprise == self.principal.enterprise_id
        return column_path.startswith(self.principal.unit_path)

    def horizon(self) -> int | None:
        if self.session.get_bind().dialect.name != "postgresql":
            return None
        return int(
            self.session.execute(
                text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            ).scalar_one()
        )

    def newest(self) -> tuple[int, int]:
        row = self.session.execute(
            select(Change.txid, Change.id).order_by(Change.txid.desc(), Change.id.desc()).limit(1)
        ).first()
        return (row.txid, row.id) if row else (0, 0)

    def changes_after(
        self, txid: int, change_id: int, horizon: int | None, limit: int
    ) -> Sequence[LoggedChange]:
        # Plain columns of the table on the connection: a page is up to 5,000 rows, and loading
        # them through the ORM's row machinery was most of a pull's time on PostgreSQL.
        stmt = (
            select(
                CHANGE.c.txid,
                CHANGE.c.id,
                CHANGE.c.entity,
                CHANGE.c.entity_id,
                CHANGE.c.op,
                # The stored JSON text, handed on to the response as it is.
                cast(CHANGE.c.data, Text).label("data"),
            )
            .where(
                tuple_(CHANGE.c.txid, CHANGE.c.id)
                > tuple_(bindparam("t", txid), bindparam("i", change_id))
            )
            .where(self._scoped(CHANGE.c.unit_path, CHANGE.c.enterprise_id))
            .order_by(CHANGE.c.txid, CHANGE.c.id)
            .limit(limit)
        )
        if horizon is not None:
            stmt = stmt.where(CHANGE.c.txid < horizon)
        rows = self.session.connection().execute(stmt).all()  # one fetch, not one per row
        return [
            LoggedChange(txid, id_, SyncChange(entity, entity_id, op, data))
            for txid, id_, entity, entity_id, op, data in rows
        ]

    def snapshot(self) -> Sequence[SyncChange]:
        out: list[SyncChange] = []
        enterprises = self.session.execute(
            select(Enterprise, Unit, RiskProfile)
            .join(Unit, Unit.id == Enterprise.grid_id)
            .outerjoin(RiskProfile, RiskProfile.enterprise_id == Enterprise.id)
            .where(self._scoped(Unit.path, Enterprise.id), Enterprise.active.is_(True))
            .order_by(Enterprise.id)
        ).all()
        ids = [enterprise.id for enterprise, _, _ in enterprises]
        out += [
            SyncChange("enterprise", str(e.id), "upsert", enterprise_data(e, grid, risk))
            for e, grid, risk in enterprises
        ]
        if ids:
            points = self.session.execute(
                select(KeyPoint)
                .where(KeyPoint.enterprise_id.in_(ids), KeyPoint.active.is_(True))
                .order_by(KeyPoint.id)
            ).scalars()
            out += [SyncChange("key_point", str(p.id), "upsert", key_point_data(p)) for p in points]
        hazards = (
            self.session.execute(
                select(Hazard).where(
                    self._scoped(Hazard.unit_path, Hazard.enterprise_id),
                    Hazard.state == HazardState.REPORTED,
                )
            )
            .scalars()
            .all()
        )
        photos: dict[str, list[str]] = {}
        if hazards:
            for link in self.session.execute(
                select(HazardPhoto)
                .where(HazardPhoto.hazard_id.in_([h.id for h in hazards]))
                .order_by(HazardPhoto.position)
            ).scalars():
                photos.setdefault(link.hazard_id, []).append(link.sha256)
        out += [
            SyncChange("hazard", h.id, "upsert", hazard_data(h, photos.get(h.id, [])))
            for h in hazards
        ]
        return out
