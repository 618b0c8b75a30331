"""The "before" of `make bench`: the same application, storing a push's planned rows with one
ORM object per row (`session.add(...)`) instead of one set-based insert per table.

Benchmark-only: `uvicorn --factory bench.orm_store:create_app_from_env` swaps
`backend.offline.changes.store` in that server process and nowhere else. Behaviour is the same
(same rows, same transaction, same change-log txid); only the way rows reach the database differs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar import Litestar
from sqlalchemy import select
from sqlmodel import Session, SQLModel

from backend import app as app_module
from backend.models import Change, CheckIn, Event, Hazard, HazardPhoto
from backend.offline import changes
from sync import Write

MODELS: dict[str, type[SQLModel]] = {
    "hazard": Hazard,
    "hazard_photo": HazardPhoto,
    "check_in": CheckIn,
    "event": Event,
    "change": Change,
}


def store_one_object_per_row(session: Session, writes: Iterable[Write]) -> None:
    """Add every planned row as an ORM object and flush (the unit of work orders the tables)."""
    txid: Any = None
    for write in writes:
        model = MODELS.get(write.table)
        if model is None:
            raise ValueError(f"writes to unknown tables: [{write.table!r}]")
        row = dict(write.row)
        if write.table == "change":
            if txid is None:
                txid = session.execute(select(changes.txid_expression(session))).scalar_one()
            row["txid"] = txid
        session.add(model(**row))
    session.flush()


def create_app_from_env() -> Litestar:
    changes.store = store_one_object_per_row
    return app_module.create_app_from_env()
