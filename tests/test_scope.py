"""Scope holds on the server: pages and API alike only show and change what lies in the user's area."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from backend.enterprises.pages import PAGE_SIZE
from backend.models import Enterprise, Event, Unit, User
from tests.conftest import csrf_token, enterprise_in, form_of, post_form, sign_in

QINGSHAN_GRID = "420107001001"  # the demo inspector's grid
JIANGAN_GRID = "420102001001"  # inspector2's grid
OTHER_QINGSHAN_GRID = "420107001002"  # same street, another grid


def test_inspector_lists_only_enterprises_of_own_grid(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "inspector")
    body = client.get("/api/v1/enterprises", params={"limit": 500}).json()
    expected = (
        db.execute(
            select(Enterprise.id)
            .join(Unit, Unit.id == Enterprise.grid_id)
            .where(Unit.code == QINGSHAN_GRID)
        )
        .scalars()
        .all()
    )
    assert body["total"] == len(expected) > 0
    assert sorted(item["id"] for item in body["items"]) == sorted(expected)
    assert {item["grid_code"] for item in body["items"]} == {QINGSHAN_GRID}


def test_district_sees_its_district_and_nothing_else(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "district")
    body = client.get("/api/v1/enterprises", params={"limit": 500}).json()
    qingshan = (
        db.execute(
            select(Enterprise.id)
            .join(Unit, Unit.id == Enterprise.grid_id)
            .where(Unit.path.startswith("/420100/420107/"))  # type: ignore[attr-defined]
        )
        .scalars()
        .all()
    )
    assert body["total"] == len(qingshan)
    assert all(item["grid_code"].startswith("420107") for item in body["items"])
    other = enterprise_in(db, JIANGAN_GRID)
    assert client.get(f"/api/v1/enterprises/{other.id}").status_code == 404
    assert client.get(f"/enterprises/{other.id}").status_code == 404


def test_the_list_page_counts_and_pages_the_city(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "city")
    in_city = db.execute(
        select(Enterprise.id, Enterprise.name)
        .join(Unit, Unit.id == Enterprise.grid_id)
        .where(Unit.path.startswith("/420100/"), Enterprise.active.is_(True))  # type: ignore[attr-defined]
        .order_by(Enterprise.name, Enterprise.id)
    ).all()
    assert len(in_city) > 2 * PAGE_SIZE  # more than two pages
    pages = [client.get("/enterprises", params={"page": n}).text for n in (1, 2, 99)]
    for html in pages:
        assert f'data-total="{len(in_city)}"' in html
    shown = [re.findall(r'data-enterprise-id="(\d+)"', html) for html in pages]
    assert [int(i) for i in shown[0] + shown[1]] == [row.id for row in in_city][: 2 * PAGE_SIZE]
    assert shown[2] == []


def test_search_and_industry_filter_stay_inside_the_scope(
    client: TestClient[Any], db: Session
) -> None:
    mine = enterprise_in(db, QINGSHAN_GRID)
    other = enterprise_in(db, JIANGAN_GRID)
    sign_in(client, "inspector")

    def listed(**params: str) -> set[int]:
        html = client.get("/enterprises", params=params).text
        api = client.get("/api/v1/enterprises", params={**params, "limit": 500}).json()
        ids = {int(i) for i in re.findall(r'data-enterprise-id="(\d+)"', html)}
        assert ids == {item["id"] for item in api["items"]}
        assert f'data-total="{api["total"]}"' in html
        return ids

    assert mine.id in listed(q=mine.name[2:6])
    assert listed(q=mine.credit_code.lower()) == {mine.id}
    assert listed(q=other.name) == set()  # another district's, even by its exact name
    same_industry = listed(industry=mine.industry)
    assert mine.id in same_industry
    assert all(
        db.get(Enterprise, i).industry == mine.industry  # type: ignore[union-attr]
        for i in same_industry
    )
    assert listed(q="没有这样的企业名称") == set()


def test_another_streets_enterprise_cannot_be_read_or_changed(
    client: TestClient[Any], db: Session
) -> None:
    target = enterprise_in(db, QINGSHAN_GRID)
    original_name = target.name
    sign_in(client, "inspector2")

    page = client.get(f"/enterprises/{target.id}")
    assert page.status_code == 404
    assert target.name not in page.text
    api = client.get(f"/api/v1/enterprises/{target.id}")
    assert api.status_code == 404
    assert api.json()["code"] == "not_found"
    listed = client.get("/api/v1/enterprises", params={"q": target.name}).json()
    assert listed["total"] == 0

    changed = form_of(target, name="被篡改的企业")
    assert post_form(client, f"/enterprises/{target.id}/edit", changed).status_code == 404
    put = client.put(
        f"/api/v1/enterprises/{target.id}",
        json={**changed, "latitude": None, "longitude": None, "grid_id": target.grid_id},
        headers={"x-csrftoken": csrf_token(client)},
    )
    assert put.status_code == 404
    db.expire_all()
    assert db.get(Enterprise, target.id).name == original_name  # type: ignore[union-attr]


def test_inspector_can_read_but_not_edit_in_own_grid(client: TestClient[Any], db: Session) -> None:
    target = enterprise_in(db, QINGSHAN_GRID)
    original_name = target.name
    sign_in(client, "inspector")
    assert client.get(f"/enterprises/{target.id}").status_code == 200
    assert client.get(f"/enterprises/{target.id}/edit").status_code == 403
    response = post_form(client, f"/enterprises/{target.id}/edit", form_of(target, name="改名"))
    assert response.status_code == 403
    db.expire_all()
    assert db.get(Enterprise, target.id).name == original_name  # type: ignore[union-attr]


def test_enterprise_officer_sees_only_own_enterprise(client: TestClient[Any], db: Session) -> None:
    officer = db.execute(select(User).where(User.username == "enterprise")).scalar_one()
    neighbour = (
        db.execute(
            select(Enterprise).where(
                Enterprise.grid_id == officer.unit_id, Enterprise.id != officer.enterprise_id
            )
        )
        .scalars()
        .first()
    )
    assert neighbour is not None
    sign_in(client, "enterprise")
    body = client.get("/api/v1/enterprises").json()
    assert [item["id"] for item in body["items"]] == [officer.enterprise_id]
    assert client.get(f"/api/v1/enterprises/{neighbour.id}").status_code == 404
    assert client.get(f"/enterprises/{neighbour.id}").status_code == 404
    assert (
        client.get("/enterprises", follow_redirects=False).headers["location"]
        == f"/enterprises/{officer.enterprise_id}"
    )


def test_district_officer_edits_with_history(client: TestClient[Any], db: Session) -> None:
    target = enterprise_in(db, QINGSHAN_GRID)
    old_phone = target.contact_phone
    sign_in(client, "district")
    response = post_form(
        client, f"/enterprises/{target.id}/edit", form_of(target, contact_phone="02786001234")
    )
    assert response.status_code == 303
    db.expire_all()
    assert db.get(Enterprise, target.id).contact_phone == "02786001234"  # type: ignore[union-attr]
    event = db.execute(
        select(Event).where(Event.entity_type == "enterprise", Event.entity_id == str(target.id))
    ).scalar_one()
    assert event.action == "enterprise.updated"
    assert event.data["changes"]["contact_phone"] == [old_phone, "02786001234"]


@pytest.mark.parametrize(
    ("changes", "field", "message_key"),
    [
        ({"credit_code": "914201071234567890"}, "credit_code", "credit_code.check"),
        ({"name": ""}, "name", "required"),
        ({"grid_id": "99999"}, "grid_id", "grid"),
    ],
)
def test_bad_edit_is_refused_with_field_errors_and_changes_nothing(
    client: TestClient[Any], db: Session, changes: dict[str, str], field: str, message_key: str
) -> None:
    target = enterprise_in(db, QINGSHAN_GRID)
    before = (target.name, target.credit_code, target.grid_id)
    sign_in(client, "district")
    response = post_form(client, f"/enterprises/{target.id}/edit", form_of(target, **changes))
    assert response.status_code == 422
    assert f'data-field-error="{field}"' in response.text
    db.expire_all()
    after = db.get(Enterprise, target.id)
    assert after is not None
    assert (after.name, after.credit_code, after.grid_id) == before
    assert db.execute(select(Event).where(Event.entity_id == str(target.id))).first() is None


def test_district_cannot_move_an_enterprise_into_another_district(
    client: TestClient[Any], db: Session
) -> None:
    target = enterprise_in(db, QINGSHAN_GRID)
    foreign_grid = db.execute(select(Unit.id).where(Unit.code == JIANGAN_GRID)).scalar_one()
    sign_in(client, "district")
    response = client.put(
        f"/api/v1/enterprises/{target.id}",
        json={**form_of(target), "grid_id": foreign_grid, "latitude": None, "longitude": None},
        headers={"x-csrftoken": csrf_token(client)},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "grid_id"


def test_api_create_validates_and_records(client: TestClient[Any], db: Session) -> None:
    grid = db.execute(select(Unit.id).where(Unit.code == QINGSHAN_GRID)).scalar_one()
    sign_in(client, "dispatcher")
    headers = {"x-csrftoken": csrf_token(client)}
    bad = client.post(
        "/api/v1/enterprises",
        json={
            "name": "武汉新建化工有限公司",
            "credit_code": "91420107MA4KLJ5E3U",
            "industry": "hazardous_chemicals",
            "grid_id": grid,
        },
        headers=headers,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {
            "field": "credit_code",
            "code": "credit_code.check",
            "message": bad.json()["errors"][0]["message"],
        }
    ]
    good = client.post(
        "/api/v1/enterprises",
        json={
            "name": "武汉新建化工有限公司",
            "credit_code": "91420107MA4KLJ5E3Y",
            "industry": "危化",
            "grid_id": grid,
        },
        headers=headers,
    )
    assert good.status_code == 201, good.text
    created = db.get(Enterprise, good.json()["id"])
    assert created is not None
    assert created.industry == "hazardous_chemicals"
    again = client.post(
        "/api/v1/enterprises",
        json={
            "name": "重复",
            "credit_code": "91420107MA4KLJ5E3Y",
            "industry": "other",
            "grid_id": grid,
        },
        headers=headers,
    )
    assert again.status_code == 422
    assert again.json()["errors"][0]["code"] == "credit_code.taken"


def test_moving_an_enterprise_moves_its_officers_and_bumps_their_scope(
    client: TestClient[Any], db: Session
) -> None:
    officer = db.execute(select(User).where(User.username == "enterprise")).scalar_one()
    target = db.get(Enterprise, officer.enterprise_id)
    assert target is not None
    new_grid = db.execute(select(Unit.id).where(Unit.code == OTHER_QINGSHAN_GRID)).scalar_one()
    assert officer.unit_id == target.grid_id != new_grid
    before = {
        user.id: (user.unit_id, user.scope_version) for user in db.execute(select(User)).scalars()
    }
    url = f"/enterprises/{target.id}/edit"
    sign_in(client, "district")

    assert post_form(client, url, form_of(target, contact_phone="02786001234")).status_code == 303
    db.rollback()
    unmoved = db.get(User, officer.id)
    assert unmoved is not None
    assert (unmoved.unit_id, unmoved.scope_version) == before[officer.id]

    assert post_form(client, url, form_of(target, grid_id=str(new_grid))).status_code == 303
    db.rollback()
    after = {
        user.id: (user.unit_id, user.scope_version) for user in db.execute(select(User)).scalars()
    }
    assert after.pop(officer.id) == (new_grid, before.pop(officer.id)[1] + 1)
    assert after == before
    assert db.get(Enterprise, target.id).grid_id == new_grid  # type: ignore[union-attr]

    sign_in(client, "enterprise")
    me = client.get("/api/v1/me").json()
    assert (me["unit_id"], me["enterprise_id"]) == (new_grid, target.id)
    assert client.get(f"/enterprises/{target.id}").status_code == 200
