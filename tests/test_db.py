"""The database engine and connections."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlmodel import Session

from backend.hazards.services import Lookups
from tests.conftest import ONLY_POSTGRESQL


@pytest.mark.parametrize("database_url", [ONLY_POSTGRESQL], indirect=True)
def test_a_sync_push_looks_ids_up_with_a_plan_for_those_ids(db: Session) -> None:
    """psycopg prepares a statement run five times; PostgreSQL would then switch to one generic
    plan made while the table was small, and keep its sequential scan as the table grows (a sync
    push's hazard-id lookup: 0.45 ms became 16.5 ms at 20,000 hazards)."""
    for _ in range(12):
        lookups = Lookups(db)
        lookups.prefetch([], [str(uuid.uuid4()) for _ in range(3)])
        assert lookups.existing_hazards == set()
    generic = db.execute(
        text("SELECT statement FROM pg_prepared_statements WHERE generic_plans > 0")
    ).scalars()
    assert not [s for s in generic if "FROM hazard" in s]
    # Other statements on the connection are still prepared as before.
    for _ in range(6):
        db.execute(text("SELECT count(*) FROM unit WHERE id > :low"), {"low": 0})
    assert db.execute(
        text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%FROM unit%'")
    ).scalar_one()
