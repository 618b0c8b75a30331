"""Writing the change log (what pulls read) and storing planned rows set-based."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, Table, Text, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel

import backend.models  # noqa: F401  (registers the tables)
from backend.models import utcnow
from backend.offline import bulk
from sync import Write

# Tables a mutation handler may write to, by the name it uses in a Write, in insert order.
TABLES: dict[str, Table] = {
    name: SQLModel.metadata.tables[name]
    for name in ("hazard", "hazard_photo", "check_in", "event", "change")
}


def change(
    entity: str,
    entity_id: object,
    op: str,
    unit_path: str,
    enterprise_id: int | None,
    data: dict[str, Any],
    written_at: datetime | None = None,
) -> Write:
    """A change-log row: `op` is "upsert" (here is the current state) or "remove".
    `written_at`: the transaction's "now" where the caller has one (a sync batch gives all its
    rows one timestamp, stored once instead of converted row by row)."""
    return Write(
        "change",
        {
            "entity": entity,
            "entity_id": str(entity_id),
            "op": op,
            "unit_path": unit_path,
            "enterprise_id": enterprise_id,
            "data": data,
            "at": written_at or utcnow(),
        },
    )


def event(
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: object,
    unit_path: str,
    *,
    written_at: datetime | None = None,
    **data: Any,
) -> Write:
    """An event row; `written_at` as for `change`, the rest of the keywords are its data."""
    return Write(
        "event",
        {
            "at": written_at or utcnow(),
            "actor_id": actor_id,
            "action": action,
            "entity_type": entity,
            "entity_id": str(entity_id),
            "unit_path": unit_path,
            "device": str(data.pop("device", ""))[:200],
            "ip": str(data.pop("ip", ""))[:64],
            "data": data,
        },
    )


# The writing transaction's id on PostgreSQL (xid8, cast through text).
TXID: ColumnElement[int] = cast(cast(func.pg_current_xact_id(), Text), BigInteger)


def txid_expression(session: Session) -> ColumnElement[Any]:
    """The writing transaction's id on PostgreSQL (xid8, cast through text); 0 where writes are serial."""
    if session.get_bind().dialect.name == "postgresql":
        return TXID
    return literal(0)


def store(session: Session, writes: Iterable[Write]) -> None:
    """Insert planned rows one set-based statement per table, in dependency order."""
    by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for write in writes:
        by_table[write.table].append(write.row)
    unknown = set(by_table) - set(TABLES)
    if unknown:
        raise ValueError(f"writes to unknown tables: {sorted(unknown)}")
    connection = session.connection()
    for name, table in TABLES.items():
        rows = by_table.get(name)
        if not rows:
            continue
        if name == "change":
            txid = current_txid(connection)
            rows = [{**row, "txid": txid} for row in rows]
        bulk.insert_rows(connection, table, rows)


def current_txid(connection: Connection) -> int:
    """The value `txid_expression` gives, read once per transaction (0 where writes are serial)."""
    if connection.dialect.name != "postgresql":
        return 0
    known = connection.info.get(_TXID_KEY)
    if known is not None and known[0] is connection.get_transaction():
        return int(known[1])
    return remember_txid(connection, connection.exec_driver_sql(_PG_TXID).scalar_one())


def remember_txid(connection: Connection, txid: int) -> int:
    """Note the transaction's id, read by a statement that ran anyway, to save a round trip."""
    # Keyed by the transaction object itself: a later transaction on this connection is another.
    connection.info[_TXID_KEY] = (connection.get_transaction(), txid)
    return int(txid)


_PG_TXID = "SELECT pg_current_xact_id()::text::bigint"
_TXID_KEY = "gridsafe.txid"
