"""Writing the change log (what pulls read) and storing planned rows set-based."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, Table, Text, cast, func, insert, literal
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel

import backend.models  # noqa: F401  (registers the tables)
from backend.models import utcnow
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
) -> Write:
    """A change-log row: `op` is "upsert" (here is the current state) or "remove"."""
    return Write(
        "change",
        {
            "entity": entity,
            "entity_id": str(entity_id),
            "op": op,
            "unit_path": unit_path,
            "enterprise_id": enterprise_id,
            "data": data,
            "at": utcnow(),
        },
    )


def event(
    actor_id: int | None, action: str, entity: str, entity_id: object, unit_path: str, **data: Any
) -> Write:
    return Write(
        "event",
        {
            "at": utcnow(),
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


def txid_expression(session: Session) -> ColumnElement[Any]:
    """The writing transaction's id on PostgreSQL (xid8, cast through text); 0 where writes are serial."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(cast(func.pg_current_xact_id(), Text), BigInteger)
    return literal(0)


def store(session: Session, writes: Iterable[Write]) -> None:
    """Insert planned rows one set-based statement per table, in dependency order."""
    by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for write in writes:
        by_table[write.table].append(write.row)
    unknown = set(by_table) - set(TABLES)
    if unknown:
        raise ValueError(f"writes to unknown tables: {sorted(unknown)}")
    for name, table in TABLES.items():
        rows = by_table.get(name)
        if not rows:
            continue
        statement = insert(table)
        if name == "change":
            statement = statement.values(txid=txid_expression(session))
        session.execute(statement, rows)
