"""The scope policy as a table: who sees which unit and enterprise."""

from __future__ import annotations

import pytest

from backend.auth.policy import (
    Principal,
    can_administer,
    can_edit_enterprise,
    sees_enterprise,
    sees_unit,
    sign_in_allowed,
)
from backend.models import Role

QINGSHAN = "/420100/420107/"
HONGWEILU_GRID = "/420100/420107/420107001/420107001001/"
JIANGAN_GRID = "/420100/420102/420102001/420102001001/"


def person(role: Role, unit_path: str, enterprise_id: int | None = None) -> Principal:
    return Principal(1, "u", "U", role, 1, unit_path, "unit", enterprise_id)


CITY = person(Role.CITY_OFFICER, "/420100/")
DISTRICT = person(Role.DISTRICT_OFFICER, QINGSHAN)
INSPECTOR = person(Role.GRID_INSPECTOR, HONGWEILU_GRID)
ENTERPRISE = person(Role.ENTERPRISE_OFFICER, HONGWEILU_GRID, enterprise_id=7)
ADMIN = person(Role.ADMIN, "/420100/")


@pytest.mark.parametrize(
    ("who", "path", "expected"),
    [
        (CITY, JIANGAN_GRID, True),
        (DISTRICT, HONGWEILU_GRID, True),
        (DISTRICT, JIANGAN_GRID, False),
        (DISTRICT, "/420100/", False),  # not the tier above
        (INSPECTOR, HONGWEILU_GRID, True),
        (INSPECTOR, "/420100/420107/420107001/420107001002/", False),
        (ENTERPRISE, HONGWEILU_GRID, False),  # an enterprise sees no unit, only itself
        (
            person(Role.DISTRICT_OFFICER, "/420100/4201/"),
            "/420100/420107/",
            False,
        ),  # prefix of a code is not a parent
    ],
)
def test_sees_unit(who: Principal, path: str, expected: bool) -> None:
    assert sees_unit(who, path) is expected


@pytest.mark.parametrize(
    ("who", "enterprise_id", "grid_path", "sees", "edits"),
    [
        (ENTERPRISE, 7, HONGWEILU_GRID, True, False),
        (ENTERPRISE, 8, HONGWEILU_GRID, False, False),
        (INSPECTOR, 8, HONGWEILU_GRID, True, False),
        (INSPECTOR, 9, JIANGAN_GRID, False, False),
        (DISTRICT, 8, HONGWEILU_GRID, True, True),
        (DISTRICT, 9, JIANGAN_GRID, False, False),
        (ADMIN, 9, JIANGAN_GRID, True, True),
    ],
)
def test_enterprise_visibility(
    who: Principal, enterprise_id: int, grid_path: str, sees: bool, edits: bool
) -> None:
    assert sees_enterprise(who, enterprise_id, grid_path) is sees
    assert can_edit_enterprise(who, enterprise_id, grid_path) is edits


def test_only_administrators_administer() -> None:
    assert [can_administer(p) for p in (CITY, DISTRICT, INSPECTOR, ENTERPRISE, ADMIN)] == [
        False
    ] * 4 + [True]


@pytest.mark.parametrize(
    ("account", "address", "allowed"),
    [(0, 0, True), (4, 0, True), (5, 0, False), (0, 19, True), (0, 20, False)],
)
def test_sign_in_limit(account: int, address: int, allowed: bool) -> None:
    assert sign_in_allowed(account, address, limit=5) is allowed
