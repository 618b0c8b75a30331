"""Escalation policies page on SQLite and PostgreSQL: the demo's city default, a new version
that replaces the old one for new hazards only, validation, and who may write."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from backend.admin.users import UserInput, create_user_by_codes
from backend.demo.seed import DEMO_PASSWORD
from backend.models import EscalationPolicy, Event, Hazard, Role
from tests.conftest import enterprise_in, post_form, sign_in
from tests.test_hazard_pages import report


def policies(db: Session) -> list[tuple[str, str, int, bool, int, int, int, str]]:
    db.expire_all()
    return [
        (p.severity, p.category, p.version, p.active, p.accept_minutes, p.rectify_hours,
         p.renotify_minutes, p.tiers)
        for p in db.execute(
            select(EscalationPolicy).order_by(
                EscalationPolicy.severity, EscalationPolicy.category, EscalationPolicy.version
            )
        ).scalars()
    ]  # fmt: skip


def new_policy(**changes: str) -> dict[str, str]:
    return {
        "severity": "general",
        "category": "*",
        "accept_minutes": "60",
        "rectify_hours": "72",
        "renotify_minutes": "120",
        "tiers": "street,district,city",
        **changes,
    }


def reported(client: TestClient[Any], db: Session, **fields: str) -> Hazard:
    sign_in(client, "inspector", DEMO_PASSWORD)
    enterprise = enterprise_in(db, "420107001001")
    response = report(client, enterprise.id, **fields)  # type: ignore[arg-type]
    assert response.status_code == 303
    client.cookies.clear()
    db.expire_all()
    found = db.get(Hazard, response.headers["location"].rsplit("/", 1)[1])
    assert found is not None
    return found


def test_the_demo_has_the_city_default(client: TestClient[Any], db: Session) -> None:
    assert policies(db) == [
        ("general", "*", 1, True, 120, 168, 240, "street,district,city"),
        ("major", "*", 1, True, 30, 720, 60, "street,district,city"),
    ]
    sign_in(client, "admin", DEMO_PASSWORD)
    page = client.get("/admin/policies").text
    assert page.count('data-version="1"') == 2
    assert 'id="policy-form"' in page


def test_a_new_version_applies_to_new_hazards_only(client: TestClient[Any], db: Session) -> None:
    before = reported(client, db, severity="general")
    old_id = before.policy_id
    assert old_id is not None
    sign_in(client, "admin", DEMO_PASSWORD)
    response = post_form(client, "/admin/policies", new_policy())
    assert response.status_code == 303
    assert policies(db) == [
        ("general", "*", 1, False, 120, 168, 240, "street,district,city"),
        ("general", "*", 2, True, 60, 72, 120, "street,district,city"),
        ("major", "*", 1, True, 30, 720, 60, "street,district,city"),
    ]
    new_id = db.execute(
        select(EscalationPolicy.id).where(
            EscalationPolicy.active.is_(True), EscalationPolicy.severity == "general"
        )
    ).scalar_one()
    [event] = (
        db.execute(select(Event).where(Event.action == "escalation_policy.versioned"))
        .scalars()
        .all()
    )
    assert event.entity_id == str(new_id)
    assert event.data["replaces"] == [old_id]
    assert event.data["accept_minutes"] == 60
    client.cookies.clear()
    # The earlier hazard keeps its version; a new one starts on the new one's clock.
    db.expire_all()
    assert db.get(Hazard, before.id).policy_id == old_id  # type: ignore[union-attr]
    after = reported(client, db, severity="general")
    assert after.policy_id == new_id
    assert after.due_at is not None
    assert after.due_at - after.received_at == timedelta(minutes=60)


def test_the_most_specific_policy_wins(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "admin", DEMO_PASSWORD)
    data = new_policy(severity="major", category="fire", accept_minutes="15", tiers="street,city")
    assert post_form(client, "/admin/policies", data).status_code == 303
    client.cookies.clear()
    fire = reported(client, db, severity="major", category="fire")
    gas = reported(client, db, severity="major", category="gas")
    specific = db.get(EscalationPolicy, fire.policy_id)
    assert specific is not None
    assert (specific.category, specific.accept_minutes, specific.tiers) == (
        "fire",
        15,
        "street,city",
    )
    general = db.get(EscalationPolicy, gas.policy_id)
    assert general is not None
    assert (general.severity, general.category) == ("major", "*")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"accept_minutes": "0"}, "accept_minutes", "应在 1 至 10080 分钟"),
        ({"accept_minutes": "-5"}, "accept_minutes", "请填写整数"),
        ({"accept_minutes": "10081"}, "accept_minutes", "应在 1 至 10080 分钟"),
        ({"rectify_hours": "1.5"}, "rectify_hours", "请填写整数"),
        ({"rectify_hours": "99999"}, "rectify_hours", "应在 1 至 8784 小时"),
        ({"renotify_minutes": "1"}, "renotify_minutes", "应在 5 至 10080 分钟"),
        ({"renotify_minutes": ""}, "renotify_minutes", "必填"),
        ({"tiers": "city,street"}, "tiers", "升级层级须按街道"),
        ({"tiers": "street,street"}, "tiers", "升级层级须按街道"),
        ({"tiers": "moon"}, "tiers", "升级层级须按街道"),
        ({"tiers": ""}, "tiers", "升级层级须按街道"),
        ({"severity": "fatal"}, "severity", "请选择隐患等级"),
        ({"category": "weather"}, "category", "请选择隐患类别"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    client: TestClient[Any], db: Session, changes: dict[str, str], field: str, message: str
) -> None:
    before = policies(db)
    sign_in(client, "admin", DEMO_PASSWORD)
    response = post_form(client, "/admin/policies", new_policy(**changes))
    assert response.status_code == 422
    assert f'data-field-error="{field}"' in response.text
    assert message in response.text
    assert policies(db) == before
    assert (
        db.execute(
            select(func.count(Event.id)).where(Event.action == "escalation_policy.versioned")
        ).scalar_one()
        == 0
    )


def test_english_errors_too(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "admin", DEMO_PASSWORD)
    client.cookies.set("gs_lang", "en")
    response = post_form(client, "/admin/policies", new_policy(accept_minutes="0"))
    assert response.status_code == 422
    assert "Between 1 and 10080 minutes" in response.text


def test_only_the_citys_administrators_write_policies(client: TestClient[Any], db: Session) -> None:
    create_user_by_codes(
        db,
        UserInput("qingshan.admin", "青山区管理员", Role.ADMIN.value, DEMO_PASSWORD),
        "420107",
        None,
    )
    before = policies(db)
    sign_in(client, "qingshan.admin", DEMO_PASSWORD)
    page = client.get("/admin/policies")
    assert page.status_code == 200
    assert "data-read-only" in page.text
    assert 'id="policy-form"' not in page.text
    assert post_form(client, "/admin/policies", new_policy()).status_code == 403
    client.cookies.clear()
    sign_in(client, "city", DEMO_PASSWORD)
    assert client.get("/admin/policies").status_code == 403
    assert post_form(client, "/admin/policies", new_policy()).status_code == 403
    assert policies(db) == before


def test_without_javascript_the_saved_version_is_confirmed(
    client: TestClient[Any], db: Session
) -> None:
    sign_in(client, "admin", DEMO_PASSWORD)
    response = post_form(client, "/admin/policies", new_policy(category="gas"))
    assert response.status_code == 303
    new_id = db.execute(
        select(EscalationPolicy.id).where(
            EscalationPolicy.active.is_(True), EscalationPolicy.category == "gas"
        )
    ).scalar_one()
    assert response.headers["location"] == f"/admin/policies?saved={new_id}#policy-{new_id}"
    page = client.get(f"/admin/policies?saved={new_id}").text
    assert "data-policy-saved" in page
    assert f'id="policy-{new_id}" data-policy-id="{new_id}" class="just-saved"' in page
    assert "data-policy-saved" not in client.get("/admin/policies").text
