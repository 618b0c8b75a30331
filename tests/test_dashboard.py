"""Each tier's dashboard on SQLite and PostgreSQL: every number checked against hazards, tasks,
evidence and events made with known timestamps, the lists behind the numbers, the area bound,
and who is on duty (the demo roster)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from backend.admin.users import UserInput, create_user_by_codes
from backend.demo.seed import DEMO_PASSWORD
from backend.models import Event, Hazard, Rectification, Role, Task, Unit, User, utcnow
from tests.conftest import sign_in

NOW = utcnow()


def unit(db: Session, code: str) -> Unit:
    return db.execute(select(Unit).where(Unit.code == code)).scalar_one()


def uid(db: Session, username: str) -> int:
    return int(db.execute(select(User.id).where(User.username == username)).scalar_one())


def hazard(db: Session, grid_code: str, state: str, **values: Any) -> str:
    grid = unit(db, grid_code)
    hazard_id = str(uuid.uuid4())
    db.add(
        Hazard(
            id=hazard_id,
            grid_id=grid.id,
            unit_path=grid.path,
            severity=values.pop("severity", "general"),
            category="fire",
            description="消防通道堵塞",
            state=state,
            reported_by=uid(db, "inspector"),
            reported_at=NOW - timedelta(days=10),
            **values,
        )
    )
    db.flush()
    return hazard_id


def task(
    db: Session,
    hazard_id: str,
    state: str,
    created: datetime,
    accepted: datetime | None = None,
    accept_by: datetime | None = None,
    rectify_by: datetime | None = None,
) -> str:
    found = db.get(Hazard, hazard_id)
    assert found is not None
    task_id = str(uuid.uuid4())
    db.add(
        Task(
            id=task_id,
            hazard_id=hazard_id,
            unit_path=found.unit_path,
            state=state,
            accept_by=accept_by or created + timedelta(hours=2),
            rectify_by=rectify_by or NOW + timedelta(days=10),
            assigned_by=uid(db, "dispatcher"),
            created_at=created,
            accepted_by=uid(db, "responder") if accepted else None,
            accepted_at=accepted,
        )
    )
    db.flush()
    return task_id


def evidence(db: Session, hazard_id: str, task_id: str, at: datetime) -> None:
    db.add(
        Rectification(
            id=str(uuid.uuid4()),
            hazard_id=hazard_id,
            task_id=task_id,
            user_id=uid(db, "responder"),
            note="已整改",
            at=at,
        )
    )


def moved(db: Session, hazard_id: str, action: str, at: datetime, **data: Any) -> None:
    found = db.get(Hazard, hazard_id)
    assert found is not None
    db.add(
        Event(
            at=at,
            action=action,
            entity_type="hazard",
            entity_id=hazard_id,
            unit_path=found.unit_path,
            data=data,
        )
    )


@pytest.fixture
def area(db: Session) -> dict[str, str]:
    """Hazards in 青山区 (420107) and one in 江岸区 (420102), with known times:

    h1 street, offered, accept deadline passed         → open, overdue
    h2 district, major, supervised, clock passed       → open, overdue, escalated; accepted in 1 h
    h3 city, rectified (deadline passed after evidence) → open, escalated; 3 h to accept, 4 h to rectify
    h4 closed on time 2 days ago (street 001)          → 24 h to accept, 24 h to the first evidence
    h5 closed late a day ago (street 002)
    h6 closed on time 40 days ago (outside 30 days)
    h7 江岸区, district, supervised, overdue            → only the city sees it
    h8 returned                                        → not open
    """
    h = {
        "h1": hazard(db, "420107001001", "assigned", due_at=NOW + timedelta(hours=1)),
        "h2": hazard(
            db,
            "420107001002",
            "rectifying",
            severity="major",
            tier="district",
            escalated_at=NOW - timedelta(hours=1),
            due_at=NOW - timedelta(minutes=5),
            supervised=True,
        ),
        "h3": hazard(
            db, "420107002001", "rectified", tier="city", escalated_at=NOW - timedelta(hours=2)
        ),
        "h4": hazard(
            db,
            "420107001001",
            "closed",
            closed_at=NOW - timedelta(days=2),
            rectify_by=NOW - timedelta(days=1),
        ),
        "h5": hazard(
            db,
            "420107002002",
            "closed",
            closed_at=NOW - timedelta(days=1),
            rectify_by=NOW - timedelta(days=3),
        ),
        "h6": hazard(
            db,
            "420107001002",
            "closed",
            closed_at=NOW - timedelta(days=40),
            rectify_by=NOW - timedelta(days=39),
        ),
        "h7": hazard(
            db,
            "420102001001",
            "assigned",
            tier="district",
            escalated_at=NOW - timedelta(hours=3),
            due_at=NOW - timedelta(minutes=1),
            supervised=True,
        ),
        "h8": hazard(db, "420107001001", "returned"),
    }
    task(db, h["h1"], "offered", NOW - timedelta(hours=3), accept_by=NOW - timedelta(minutes=10))
    task(db, h["h2"], "accepted", NOW - timedelta(hours=5), NOW - timedelta(hours=4))
    # Evidence is in: its passed rectification deadline no longer makes it overdue.
    t3 = task(
        db,
        h["h3"],
        "accepted",
        NOW - timedelta(hours=10),
        NOW - timedelta(hours=7),
        rectify_by=NOW - timedelta(hours=1),
    )
    evidence(db, h["h3"], t3, NOW - timedelta(hours=3))
    t4 = task(db, h["h4"], "done", NOW - timedelta(days=5), NOW - timedelta(days=4))
    evidence(db, h["h4"], t4, NOW - timedelta(days=3))
    evidence(db, h["h4"], t4, NOW - timedelta(days=2, hours=12))  # not the first: ignored
    moved(
        db,
        h["h2"],
        "hazard.escalated",
        NOW - timedelta(hours=1),
        from_tier="street",
        to_tier="district",
        reason="accept_overdue",
    )
    moved(
        db,
        h["h3"],
        "hazard.whistled",
        NOW - timedelta(hours=6),
        to_tier="district",
        reason="需要区级协调",
    )
    moved(
        db,
        h["h3"],
        "hazard.escalated",
        NOW - timedelta(hours=2),
        from_tier="district",
        to_tier="city",
        reason="rectify_overdue",
    )
    moved(
        db,
        h["h7"],
        "hazard.escalated",
        NOW - timedelta(hours=3),
        from_tier="street",
        to_tier="district",
        reason="accept_overdue",
    )
    db.commit()
    return h


def numbers(html: str) -> dict[str, str]:
    """data-number → the figure shown beside the link."""
    found = dict(
        re.findall(r'data-number="(\w+)"[^>]*>[^<]*</a>\s*<strong>\s*([^<]+?)\s*</strong>', html)
    )
    return found


def ids_in(html: str) -> set[str]:
    return set(re.findall(r'data-hazard-id="([0-9a-f-]{36})"', html))


def on_time_rows(html: str) -> dict[str, tuple[str, str, str]]:
    rows = re.findall(
        r'<tr data-unit-id="(\d+)">\s*<td>([^<]+)</td>\s*<td><a[^>]*>(\d+)</a></td>\s*'
        r'<td><a[^>]*>(\d+)</a></td>\s*<td data-number="rate">([^<]+)</td>',
        html,
    )
    return {name: (closed, on_time, rate) for _, name, closed, on_time, rate in rows}


def test_district_numbers_match_the_hand_count(
    client: TestClient[Any], db: Session, area: dict[str, str]
) -> None:
    sign_in(client, "district", DEMO_PASSWORD)
    response = client.get("/dashboard")
    assert response.status_code == 200
    figures = numbers(response.text)
    assert figures["open"] == "3"
    assert figures["overdue"] == "2"
    assert figures["at_my_tier"] == "1"
    assert figures["escalated"] == "2"
    assert figures["supervised"] == "1"
    # (1 h + 3 h + 24 h) / 3 and (4 h + 24 h) / 2
    assert "9.3" in figures["accept_hours"]
    assert "14.0" in figures["rectify_hours"]
    rows = on_time_rows(response.text)
    assert rows["红卫路街道"] == ("1", "1", "100%")
    street2 = unit(db, "420107002").name
    assert rows[street2] == ("1", "0", "0%")
    assert all(
        row == ("0", "0", "—") for name, row in rows.items() if name not in {"红卫路街道", street2}
    )
    # What escalated to the district, with the reasons: the automatic one and the whistle.
    listed = response.text.split('id="escalated-to-me"')[1].split("</section>")[0]
    assert ids_in(listed) == {area["h2"], area["h3"]}
    assert "超时未接收" in listed
    assert "需要区级协调" in listed
    assert area["h7"] not in response.text


def test_the_period_changes_the_times(
    client: TestClient[Any], db: Session, area: dict[str, str]
) -> None:
    sign_in(client, "district", DEMO_PASSWORD)
    figures = numbers(client.get("/dashboard?days=1").text)
    assert "2.0" in figures["accept_hours"]  # (1 h + 3 h) / 2: the 4-day-old one drops out
    assert "4.0" in figures["rectify_hours"]
    fragment = client.get("/dashboard?days=1", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text
    assert 'data-number="open"' in fragment.text
    assert "HX-Request" in {v.strip() for v in fragment.headers["vary"].split(",")}


def test_city_and_street_see_their_own_tier(
    client: TestClient[Any], db: Session, area: dict[str, str]
) -> None:
    sign_in(client, "city", DEMO_PASSWORD)
    page = client.get("/dashboard").text
    figures = numbers(page)
    assert (figures["open"], figures["overdue"], figures["at_my_tier"]) == ("4", "3", "1")
    assert (figures["escalated"], figures["supervised"]) == ("3", "2")
    listed = page.split('id="escalated-to-me"')[1].split("</section>")[0]
    assert ids_in(listed) == {area["h3"]}
    assert "超时未整改" in listed
    client.cookies.clear()
    sign_in(client, "dispatcher", DEMO_PASSWORD)
    page = client.get("/dashboard").text
    figures = numbers(page)
    assert (figures["open"], figures["overdue"], figures["at_my_tier"]) == ("2", "2", "1")
    rows = on_time_rows(page)
    assert rows == {"红卫路街道第1网格": ("1", "1", "100%"), "红卫路街道第2网格": ("0", "0", "—")}


def test_every_number_links_to_the_list_behind_it(
    client: TestClient[Any], db: Session, area: dict[str, str]
) -> None:
    sign_in(client, "district", DEMO_PASSWORD)
    page = client.get("/dashboard").text
    links = dict(re.findall(r'<a href="([^"]+)" data-number="(\w+)"', page))
    by_name = {name: href.replace("&amp;", "&") for href, name in links.items()}
    expected = {
        "open": {area["h1"], area["h2"], area["h3"]},
        "overdue": {area["h1"], area["h2"]},
        "at_my_tier": {area["h2"]},
        "escalated": {area["h2"], area["h3"]},
        "supervised": {area["h2"]},
        "accept_hours": {area["h2"], area["h3"], area["h4"]},
        "rectify_hours": {area["h3"], area["h4"]},
    }
    for name, hazards in expected.items():
        listed = client.get(by_name[name])
        assert listed.status_code == 200, name
        assert ids_in(listed.text) == hazards, name
        # A filtered list says so, with the way back to everything.
        assert ("data-dashboard-filtered" in listed.text) == (name != "open"), name
    street = unit(db, "420107001").id
    closed = client.get(f"/dispatch?basis=closed&days=30&unit={street}")
    assert ids_in(closed.text) == {area["h4"]}
    assert f"/dispatch?basis=closed&days=30&unit={street}&on_time=1" in page
    street2 = unit(db, "420107002").id
    late = client.get(f"/dispatch?basis=closed&days=30&unit={street2}&on_time=1")
    assert ids_in(late.text) == set()
    assert ids_in(client.get(f"/dispatch?basis=closed&days=30&unit={street2}").text) == {area["h5"]}


def test_an_officer_of_another_district_sees_none_of_it(
    client: TestClient[Any], db: Session, area: dict[str, str]
) -> None:
    create_user_by_codes(
        db,
        UserInput("jiangan", "江岸区应急管理局", Role.DISTRICT_OFFICER.value, DEMO_PASSWORD),
        "420102",
        None,
    )
    sign_in(client, "jiangan", DEMO_PASSWORD)
    page = client.get("/dashboard").text
    figures = numbers(page)
    assert (figures["open"], figures["overdue"], figures["at_my_tier"]) == ("1", "1", "1")
    assert ids_in(page) == {area["h7"]}
    qingshan = {area[k] for k in ("h1", "h2", "h3", "h4", "h5")}
    for link in ("/dispatch", "/dispatch?overdue=1", "/dispatch?basis=closed&days=30"):
        assert not ids_in(client.get(link).text) & qingshan
    # A unit of Qingshan named in the link does not widen the area.
    street = unit(db, "420107001").id
    assert ids_in(client.get(f"/dispatch?unit={street}").text) == set()


def test_who_is_on_duty_comes_from_the_demo_roster(
    client: TestClient[Any], db: Session, area: dict[str, str]
) -> None:
    sign_in(client, "district", DEMO_PASSWORD)
    duty = client.get("/dashboard").text.split('id="on-duty"')[1]
    assert re.search(r'data-duty-unit="青山区">青山区应急管理局<', duty)
    assert re.search(r'data-duty-unit="武汉市">市应急指挥中心值班员<', duty)
    assert re.search(r'data-duty-unit="红卫路街道">红卫路街道调度员<', duty)
    street2 = unit(db, "420107002").name
    assert re.search(rf'data-duty-unit="{street2}"><span class="muted">无人值班', duty)


@pytest.mark.parametrize("username", ["inspector", "responder", "admin", "enterprise"])
def test_only_the_three_tiers_have_a_dashboard(client: TestClient[Any], username: str) -> None:
    sign_in(client, username, DEMO_PASSWORD)
    response = client.get("/dashboard", follow_redirects=False)
    assert response.status_code == 403
    assert 'data-error-code="forbidden"' in response.text
    assert 'href="/dashboard"' not in client.get("/").text


def test_a_bad_period_is_refused_in_the_users_language(client: TestClient[Any]) -> None:
    sign_in(client, "district", DEMO_PASSWORD)
    for value in ("0", "9999", "abc"):
        response = client.get(f"/dashboard?days={value}")
        assert response.status_code == 400, value
        assert 'data-error-code="validation_failed"' in response.text
        assert "Traceback" not in response.text
    assert 'href="/dashboard"' in client.get("/").text
