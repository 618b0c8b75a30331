"""The database engine: what every connection is set up with."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlmodel import Session

from backend.hazards.services import Lookups
from tests.conftest import ONLY_POSTGRESQL


@pytest.mark.parametrize("database_url", [ONLY_POSTGRESQL], indirect=True)
def test_postgresql_plans_a_prepared_lookup_for_its_values_every_time(db: Session) -> None:
    """psycopg prepares a statement run five times; PostgreSQL would then switch to one generic
    plan made while the table was small, and keep its sequential scan as the table grows (a sync
    push's hazard-id lookup: 0.45 ms became 16.5 ms at 20,000 hazards)."""
    for _ in range(12):
        lookups = Lookups(db)
        lookups.prefetch([], [str(uuid.uuid4()) for _ in range(3)])
        assert lookups.existing_hazards == set()
    prepared = db.execute(
        text("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
    ).all()
    (lookup,) = [
        row
        for row in prepared
        if " ".join(row.statement.split()).startswith(
            "SELECT hazard.id FROM hazard WHERE hazard.id IN ("
        )
    ]
    assert lookup.custom_plans >= 12 - 5  # prepared from the fifth run on
    assert lookup.generic_plans == 0
