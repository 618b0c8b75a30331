"""Changes made on the server reach the phones' copies through the pull."""

from __future__ import annotations

import time
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from backend.models import Unit
from tests.conftest import enterprise_in, form_of, post_form, sign_in


def pull(client: TestClient[Any], cursor: str = "") -> dict[str, Any]:
    response = client.get("/api/v1/sync/pull", params={"cursor": cursor} if cursor else {})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def pull_until_changes(client: TestClient[Any], cursor: str) -> dict[str, Any]:
    """On PostgreSQL a pull delivers a change only once every older transaction in the cluster has
    finished (the price of never skipping one), so under load it can take a moment to show up."""
    deadline = time.monotonic() + 10
    while True:
        body = pull(client, cursor)
        if body["changes"] or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def switch_to(client: TestClient[Any], username: str) -> None:
    assert post_form(client, "/signout", {}).status_code == 303
    sign_in(client, username)


def test_an_edit_reaches_the_inspectors_copy(client: TestClient[Any], db: Session) -> None:
    target = enterprise_in(db, "420107001001")
    sign_in(client, "inspector")
    snapshot = pull(client)
    assert snapshot["reset"] is True
    assert str(target.id) in {c["id"] for c in snapshot["changes"] if c["entity"] == "enterprise"}
    assert pull(client, snapshot["cursor"])["changes"] == []

    switch_to(client, "district")
    form = form_of(target, contact_phone="02786009999")
    assert post_form(client, f"/enterprises/{target.id}/edit", form).status_code == 303

    switch_to(client, "inspector")
    update = pull_until_changes(client, snapshot["cursor"])
    assert update["reset"] is False
    [change] = update["changes"]
    assert (change["entity"], change["id"], change["op"]) == (
        "enterprise",
        str(target.id),
        "upsert",
    )
    assert change["data"]["contact_phone"] == "02786009999"


def test_a_moved_enterprise_leaves_the_old_grids_phones(
    client: TestClient[Any], db: Session
) -> None:
    target = enterprise_in(db, "420107001001")
    other_grid = db.execute(select(Unit.id).where(Unit.code == "420107001002")).scalar_one()
    sign_in(client, "inspector")
    cursor = pull(client)["cursor"]

    switch_to(client, "district")
    form = form_of(target, grid_id=str(other_grid))
    assert post_form(client, f"/enterprises/{target.id}/edit", form).status_code == 303

    switch_to(client, "inspector")
    changes = pull_until_changes(client, cursor)["changes"]
    assert [(c["entity"], c["id"], c["op"]) for c in changes] == [
        ("enterprise", str(target.id), "remove")
    ]
