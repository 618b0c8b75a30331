"""No single mutation may block an outbox: whatever one entry holds, the batch gets an answer, the
entries around it are applied, and a retry is a duplicate. A mutation that made the database
refuse the whole batch would be answered `sync_retry` for ever, and everything queued behind it on
that phone would never arrive."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from backend.models import CheckIn, Hazard, KeyPoint
from tests.conftest import enterprise_in, sign_in
from tests.sync.conftest import (
    JIANGAN_GRID,
    QINGSHAN_GRID,
    check_in,
    count,
    grid_id,
    new_client_id,
    push_raw,
    report,
)

TAKEN_CHECK_IN = "0b7c61a4-8f55-4a3c-9a35-4d8d0d0a6c11"


def _bad_mutations(db: Session) -> dict[str, Any]:
    own = enterprise_in(db, QINGSHAN_GRID)
    grid = grid_id(db, QINGSHAN_GRID)
    foreign_point = db.execute(
        select(KeyPoint.id).where(KeyPoint.enterprise_id == enterprise_in(db, JIANGAN_GRID).id)
    ).scalar()
    return {
        "nul-in-description": report(2, own.id, description="灭火器\x00过期"),
        "nul-in-name": {"id": 2, "name": "hazard\x00report", "args": {}, "at": report(2, 1)["at"]},
        "key-point-without-enterprise": report(2, None, grid_id=grid, key_point_id=999_999_999),
        "foreign-key-point-without-enterprise": report(
            2, None, grid_id=grid, key_point_id=foreign_point
        ),
        "huge-enterprise-id": report(2, 2**70),
        "huge-grid-id": report(2, None, grid_id=2**64),
        "huge-check-in-enterprise": check_in(2, 2**63),
        "check-in-id-taken": check_in(2, own.id, check_in_id=TAKEN_CHECK_IN),
        "check-in-id-twice-in-batch": [
            check_in(2, own.id, check_in_id=TAKEN_CHECK_IN.replace("0b", "1b")),
            check_in(3, own.id, check_in_id=TAKEN_CHECK_IN.replace("0b", "1b")),
        ],
        "nested-args": report(2, own.id, description={"a": ["b"]}, latitude=[1]),
    }


CASES = [
    "nul-in-description",
    "nul-in-name",
    "key-point-without-enterprise",
    "foreign-key-point-without-enterprise",
    "huge-enterprise-id",
    "huge-grid-id",
    "huge-check-in-enterprise",
    "check-in-id-taken",
    "check-in-id-twice-in-batch",
    "nested-args",
]


@pytest.mark.parametrize("case", CASES)
def test_one_bad_mutation_does_not_block_the_outbox(
    client: TestClient[Any], db: Session, case: str
) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    if case == "check-in-id-taken":  # checked in earlier, from another phone
        first = push_raw(client, new_client_id(), [check_in(1, own.id, check_in_id=TAKEN_CHECK_IN)])
        assert first.json()["results"][0]["status"] == "applied"
    bad = _bad_mutations(db)[case]
    bad = bad if isinstance(bad, list) else [bad]
    last = bad[-1]["id"] + 1
    batch = [report(1, own.id), *bad, report(last, own.id)]
    client_id = new_client_id()

    response = push_raw(client, client_id, batch, **{"accept-language": "en"})
    assert response.status_code == 200, response.text
    results = {item["id"]: item for item in response.json()["results"]}
    assert results[1]["status"] == "applied"
    assert results[last]["status"] == "applied"
    for mutation in bad:
        answer = results[mutation["id"]]
        assert answer["status"] in {"applied", "rejected"}, answer
        if answer["status"] == "rejected":
            assert answer["message"] not in ("", f"errors.{answer['code']}")
            assert answer["code"] != "internal_error", answer
    assert count(db, Hazard, Hazard.client_id == client_id) == sum(
        results[m["id"]]["status"] == "applied" for m in batch if m["name"] == "hazard.report"
    )

    again = push_raw(client, client_id, batch)
    assert again.status_code == 200, again.text
    assert {item["status"] for item in again.json()["results"]} == {"duplicate"}


def test_a_check_in_id_is_kept_once(client: TestClient[Any], db: Session) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    same = str(uuid.uuid4())
    response = push_raw(
        client,
        new_client_id(),
        [check_in(1, own.id, check_in_id=same), check_in(2, own.id, check_in_id=same)],
    )
    assert response.status_code == 200, response.text
    assert [item["status"] for item in response.json()["results"]] == ["applied", "rejected"]
    assert count(db, CheckIn, CheckIn.id == same) == 1
