"""The supervision plan (监管计划) on the server: which enterprises are due, in what order, for whom."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from litestar.testing import TestClient
from sqlmodel import Session

from backend.riskviews.due import DueItem, Position, order_due, overdue_days
from tests.conftest import sign_in
from tests.riskviews_data import NOW, add_enterprise, clear_plan, set_profile

GRID = "420107001001"  # the demo inspector's grid
NEIGHBOUR = "420107001002"  # same street, another grid
ELSEWHERE = "420102001001"  # another district


def item(eid: int, due_days_ago: float, lat: float | None, lng: float | None) -> DueItem:
    due = NOW - timedelta(days=due_days_ago)
    return DueItem(eid, f"e{eid}", "other", "g", "red", due, overdue_days(due, NOW), lat, lng)


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (None, [4, 3, 1, 2]),  # most overdue first, placed or not
        (Position(30.60, 114.40), [2, 1, 3, 4]),  # nearest first, unplaced last
        (Position(30.70, 114.40), [3, 1, 2, 4]),
    ],
)
def test_order_due(position: Position | None, expected: list[int]) -> None:
    items = [
        item(1, 10, 30.61, 114.40),  # ~1.1 km north of the first position
        item(2, 2, 30.6001, 114.40),  # ~11 m
        item(3, 30, 30.69, 114.40),  # ~10 km, but closest to the second position
        item(4, 40, None, None),  # most overdue, nowhere on the map
    ]
    assert [i.enterprise_id for i in order_due(items, position)] == expected


@pytest.mark.parametrize(
    ("hours_ago", "days"), [(0.5, 0), (23.9, 0), (24.1, 1), (-1, -1), (-25, -2)]
)
def test_overdue_days(hours_ago: float, days: int) -> None:
    assert overdue_days(NOW - timedelta(hours=hours_ago), NOW) == days


def listed(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li data-enterprise-id="(\d+)"', html)]


@pytest.fixture
def plan(db: Session) -> dict[str, int]:
    clear_plan(db)
    made = {
        "far_overdue": (GRID, 30.62, 114.40, -20),
        "near_due_soon": (GRID, 30.6001, 114.40, 3),
        "overdue": (GRID, 30.61, 114.40, -5),
        "later": (GRID, 30.60, 114.40, 30),  # not due within the week
        "neighbour": (NEIGHBOUR, 30.60, 114.40, -9),
        "elsewhere": (ELSEWHERE, 30.60, 114.30, -9),
    }
    ids = {}
    for name, (grid, lat, lng, due_in_days) in made.items():
        enterprise = add_enterprise(db, grid, f"测试企业{name}", lat=lat, lng=lng)
        set_profile(db, enterprise, "orange", NOW + timedelta(days=due_in_days))
        assert enterprise.id is not None
        ids[name] = enterprise.id
    return ids


def test_inspector_sees_own_grid_most_overdue_first(
    client: TestClient[object], plan: dict[str, int]
) -> None:
    sign_in(client, "inspector")
    response = client.get("/inspections/due")
    assert response.status_code == 200
    assert listed(response.text) == [plan["far_overdue"], plan["overdue"], plan["near_due_soon"]]
    assert 'data-due-order="overdue"' in response.text
    assert "逾期 20 天" in response.text or "Overdue by 20 days" in response.text


def test_inspector_with_position_sees_nearest_first(
    client: TestClient[object], plan: dict[str, int]
) -> None:
    sign_in(client, "inspector")
    response = client.get("/inspections/due", params={"lat": "30.60", "lng": "114.40"})
    assert listed(response.text) == [plan["near_due_soon"], plan["overdue"], plan["far_overdue"]]
    assert 'data-due-order="distance"' in response.text


def test_street_sees_its_grids_and_district_more(
    client: TestClient[object], plan: dict[str, int]
) -> None:
    sign_in(client, "dispatcher")
    ids = listed(client.get("/inspections/due").text)
    assert plan["neighbour"] in ids
    assert plan["far_overdue"] in ids
    assert plan["elsewhere"] not in ids
    assert plan["later"] not in ids


def test_home_shows_the_due_count(client: TestClient[object], plan: dict[str, int]) -> None:
    sign_in(client, "inspector")
    html = client.get("/").text
    assert re.search(r"data-due-count>3<", html)
    assert 'href="/inspections/due"' in html


def test_home_counts_all_that_is_due_and_lists_the_most_overdue_five(
    client: TestClient[object], db: Session, plan: dict[str, int]
) -> None:
    extra = []
    for n in range(4):
        enterprise = add_enterprise(db, GRID, f"测试企业extra{n}", lat=30.6, lng=114.4)
        set_profile(db, enterprise, "red", NOW - timedelta(days=40 + n))
        extra.append(enterprise.id)
    sign_in(client, "inspector")
    html = client.get("/").text
    assert re.search(r"data-due-count>7<", html)
    assert listed(html) == [*reversed(extra), plan["far_overdue"]]


@pytest.mark.parametrize("username", ["enterprise", "city"])
def test_who_does_not_check_in_has_no_due_list(client: TestClient[object], username: str) -> None:
    sign_in(client, username)
    assert client.get("/inspections/due").status_code == 403


def test_bad_position_is_refused(client: TestClient[object]) -> None:
    sign_in(client, "inspector")
    assert client.get("/inspections/due", params={"lat": "91", "lng": "114"}).status_code == 400


def test_due_page_is_kept_for_offline_use(client: TestClient[object]) -> None:
    sign_in(client, "inspector")
    worker = client.get("/sw.js").text
    assert '"/inspections/due"' in worker
    assert f'"{client.app.state.assets.url("js/due.js")}"' in worker
