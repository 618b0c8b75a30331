"""Administration of units and users: who may, what the rules refuse, and what the database holds after."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlmodel import Session, col

from backend.admin.users import UserInput, create_user_by_codes
from backend.app import create_app
from backend.cli import main
from backend.demo.seed import DEMO_PASSWORD
from backend.models import Enterprise, Event, Role, Unit, User, UserSession
from backend.settings import Settings
from tests.conftest import TEST_SECRET, post_form, sign_in

STREET = "420107001"  # 红卫路街道, 青山区
GRID = "420107001001"
OTHER_GRID = "420107001002"
JIANGAN_GRID = "420102001001"  # 江岸区: outside the 青山区 district


@pytest.fixture
def other_client(settings: Settings) -> Iterator[TestClient[Litestar]]:
    """A second phone, for the person the administrator acts on. It talks to a second app
    process on the same database (an app's lifespan cannot be entered twice)."""
    with TestClient(create_app(settings), base_url="http://testserver.local") as test_client:
        yield test_client


def fresh(db: Session) -> Session:
    # Ends the read transaction: SQLite would otherwise keep showing its old snapshot.
    db.rollback()
    return db


def unit_id(db: Session, code: str) -> int:
    stmt = select(col(Unit.id)).where(col(Unit.code) == code)
    return int(fresh(db).execute(stmt).scalar_one())


def actions_on_user(db: Session, user_id: int | None) -> list[str]:
    stmt = select(col(Event.action)).where(
        col(Event.entity_type) == "user", col(Event.entity_id) == str(user_id)
    )
    return list(fresh(db).execute(stmt.order_by(col(Event.id))).scalars())


def user_named(db: Session, username: str) -> User | None:
    return (
        fresh(db).execute(select(User).where(col(User.username) == username)).scalar_one_or_none()
    )


def existing_user(db: Session, username: str) -> User:
    user = user_named(db, username)
    assert user is not None
    return user


def count(db: Session, model: type[Any]) -> int:
    return int(fresh(db).execute(select(func.count()).select_from(model)).scalar_one())


def sessions_of(db: Session, user_id: int | None) -> int:
    stmt = select(func.count()).where(col(UserSession.user_id) == user_id)
    return int(fresh(db).execute(stmt).scalar_one())


def new_user_form(db: Session, **overrides: str) -> dict[str, str]:
    return {
        "username": "zhang.wei",
        "display_name": "张伟",
        "role": Role.GRID_INSPECTOR.value,
        "unit_id": str(unit_id(db, OTHER_GRID)),
        "credit_code": "",
        "phone": "13800000000",
        "password": "long-enough-1",
        **overrides,
    }


def edit_form_of(user: User, **overrides: str) -> dict[str, str]:
    return {
        "display_name": user.display_name,
        "phone": user.phone,
        "role": user.role,
        "unit_id": str(user.unit_id),
        "credit_code": "",
        "active": "1" if user.active else "",
        **overrides,
    }


def enterprise_in(db: Session, grid_code: str) -> Enterprise:
    stmt = (
        select(Enterprise)
        .join(Unit, col(Unit.id) == col(Enterprise.grid_id))
        .where(col(Unit.code) == grid_code)
        .order_by(col(Enterprise.id))
    )
    return fresh(db).execute(stmt).scalars().first()  # type: ignore[return-value]


def district_admin(db: Session) -> str:
    """An administrator whose area is only 青山区, to see where the area ends."""
    create_user_by_codes(
        db,
        UserInput("qingshan.admin", "青山区管理员", Role.ADMIN.value, DEMO_PASSWORD),
        "420107",
        None,
    )
    return "qingshan.admin"


@pytest.mark.parametrize("username", ["district", "inspector"])
def test_non_administrators_get_403_on_every_admin_page_and_post(
    client: TestClient[Any], db: Session, username: str
) -> None:
    responder = existing_user(db, "responder")
    street = unit_id(db, STREET)
    sign_in(client, username)
    for path in [
        "/admin",
        "/admin/units",
        f"/admin/units/{street}/edit",
        "/admin/users",
        "/admin/users/new",
        f"/admin/users/{responder.id}/edit",
    ]:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 403, path
        assert 'data-error-code="forbidden"' in response.text, path
    posts = {
        "/admin/units": {"parent_id": str(street), "code": "X9", "name": "新网格"},
        f"/admin/units/{street}/edit": {"name": "改名街道", "name_en": ""},
        "/admin/users/new": new_user_form(db),
        f"/admin/users/{responder.id}/edit": edit_form_of(responder, display_name="改名"),
        f"/admin/users/{responder.id}/password": {"password": "another-pass-1"},
    }
    for path, data in posts.items():
        assert post_form(client, path, data).status_code == 403, path
    assert fresh(db).execute(select(Unit).where(col(Unit.code) == "X9")).first() is None
    assert fresh(db).get(Unit, street).name == "红卫路街道"  # type: ignore[union-attr]
    assert user_named(db, "zhang.wei") is None
    after = existing_user(db, "responder")
    assert (after.display_name, after.password_hash) == (
        responder.display_name,
        responder.password_hash,
    )


def test_admin_creates_a_user_who_can_then_sign_in(
    client: TestClient[Any], other_client: TestClient[Any], db: Session
) -> None:
    sign_in(client, "admin")
    assert client.get("/admin/users/new").status_code == 200
    response = post_form(client, "/admin/users/new", new_user_form(db, username="Zhang.Wei"))
    assert response.status_code == 303, response.text
    user = existing_user(db, "zhang.wei")
    assert response.headers["location"] == f"/admin/users/{user.id}/edit"
    assert (user.role, user.unit_id, user.enterprise_id, user.active, user.scope_version) == (
        Role.GRID_INSPECTOR.value,
        unit_id(db, OTHER_GRID),
        None,
        True,
        1,
    )
    assert "long-enough-1" not in user.password_hash
    assert actions_on_user(db, user.id) == ["user.created"]
    sign_in(other_client, "zhang.wei", "long-enough-1")
    assert other_client.get("/", follow_redirects=False).status_code == 200
    assert client.get(f"/admin/users/{user.id}/edit").status_code == 200


def test_htmx_gets_a_client_redirect_after_success(client: TestClient[Any], db: Session) -> None:
    """htmx would follow a 303 inside its request and swap the next page into the form."""
    sign_in(client, "admin")
    response = post_form(
        client, "/admin/users/new", new_user_form(db), headers={"HX-Request": "true"}
    )
    user = existing_user(db, "zhang.wei")
    assert response.status_code == 200
    assert response.headers["hx-redirect"] == f"/admin/users/{user.id}/edit"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": "inspector"}, "username"),
        ({"username": "ab"}, "username"),
        ({"username": "张伟"}, "username"),
        ({"password": "short"}, "password"),
        ({"display_name": " "}, "display_name"),
        ({"role": "superuser"}, "role"),
        ({"role": Role.ENTERPRISE_OFFICER.value}, "enterprise"),
        ({"credit_code": "91420107MA4KXXXXXX"}, "enterprise"),
        ({"unit_id": "999999"}, "unit_id"),
        ({"unit_id": ""}, "unit_id"),
        ({"unit_id": "99999999999999999999999"}, "unit_id"),
        ({"unit_id": "²"}, "unit_id"),
    ],
)
def test_bad_user_input_gives_422_and_changes_nothing(
    client: TestClient[Any], db: Session, overrides: dict[str, str], field: str
) -> None:
    sign_in(client, "admin")
    users, events = count(db, User), count(db, Event)
    response = post_form(client, "/admin/users/new", new_user_form(db, **overrides))
    assert response.status_code == 422
    assert f'data-field-error="{field}"' in response.text
    assert 'data-error-code="validation_failed"' in response.text
    assert (count(db, User), count(db, Event)) == (users, events)


def test_a_422_for_htmx_is_only_the_form(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "admin")
    response = post_form(
        client,
        "/admin/users/new",
        new_user_form(db, password="short"),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert response.text.lstrip().startswith('<form id="user-form"')
    assert 'data-field-error="password"' in response.text


def test_an_area_admin_cannot_reach_outside_the_area(client: TestClient[Any], db: Session) -> None:
    sign_in(client, district_admin(db))
    users = count(db, User)
    response = post_form(
        client, "/admin/users/new", new_user_form(db, unit_id=str(unit_id(db, JIANGAN_GRID)))
    )
    assert response.status_code == 422
    assert 'data-field-error="unit_id"' in response.text
    outsider = enterprise_in(db, JIANGAN_GRID)
    response = post_form(
        client,
        "/admin/users/new",
        new_user_form(db, role=Role.ENTERPRISE_OFFICER.value, credit_code=outsider.credit_code),
    )
    assert response.status_code == 422
    assert 'data-field-error="enterprise"' in response.text
    assert count(db, User) == users
    inspector2 = existing_user(db, "inspector2")
    assert client.get(f"/admin/users/{inspector2.id}/edit").status_code == 404
    edit = edit_form_of(inspector2, display_name="改名")
    assert post_form(client, f"/admin/users/{inspector2.id}/edit", edit).status_code == 404
    assert existing_user(db, "inspector2").display_name == inspector2.display_name
    listing = client.get("/admin/users")
    assert f'data-user-id="{existing_user(db, "inspector").id}"' in listing.text
    assert f'data-user-id="{inspector2.id}"' not in listing.text
    assert f'data-user-id="{existing_user(db, "city").id}"' not in listing.text
    assert client.get(f"/admin/units/{unit_id(db, JIANGAN_GRID)}/edit").status_code == 404


def test_user_list_filters_by_role_and_unit(client: TestClient[Any], db: Session) -> None:
    ids = {name: existing_user(db, name).id for name in ("inspector", "inspector2", "dispatcher")}
    sign_in(client, "admin")
    by_role = client.get("/admin/users", params={"role": Role.GRID_INSPECTOR.value}).text
    assert f'data-user-id="{ids["inspector"]}"' in by_role
    assert f'data-user-id="{ids["inspector2"]}"' in by_role
    assert f'data-user-id="{ids["dispatcher"]}"' not in by_role
    by_unit = client.get("/admin/users", params={"unit": str(unit_id(db, "420107"))}).text
    assert f'data-user-id="{ids["inspector"]}"' in by_unit
    assert f'data-user-id="{ids["dispatcher"]}"' in by_unit
    assert f'data-user-id="{ids["inspector2"]}"' not in by_unit
    fragment = client.get(
        "/admin/users", params={"q": "inspector2"}, headers={"HX-Request": "true"}
    )
    assert "<html" not in fragment.text
    assert 'data-total="1"' in fragment.text


def test_enterprise_officer_sits_in_the_enterprise_grid(
    client: TestClient[Any], db: Session
) -> None:
    enterprise = enterprise_in(db, GRID)
    sign_in(client, "admin")
    form = new_user_form(
        db,
        role=Role.ENTERPRISE_OFFICER.value,
        credit_code=enterprise.credit_code.lower(),
        unit_id=str(unit_id(db, JIANGAN_GRID)),
    )
    assert post_form(client, "/admin/users/new", form).status_code == 303
    officer = existing_user(db, "zhang.wei")
    assert (officer.unit_id, officer.enterprise_id) == (enterprise.grid_id, enterprise.id)
    # Back to an inspector: the enterprise must go, and the scope changes.
    edit = edit_form_of(officer, role=Role.GRID_INSPECTOR.value, credit_code=enterprise.credit_code)
    response = post_form(client, f"/admin/users/{officer.id}/edit", edit)
    assert response.status_code == 422
    assert 'data-field-error="enterprise"' in response.text
    edit["credit_code"] = ""
    assert post_form(client, f"/admin/users/{officer.id}/edit", edit).status_code == 303
    officer = existing_user(db, "zhang.wei")
    assert (officer.role, officer.enterprise_id, officer.scope_version) == (
        Role.GRID_INSPECTOR.value,
        None,
        2,
    )


def test_deactivating_a_user_signs_them_out_at_once(
    client: TestClient[Any], other_client: TestClient[Any], db: Session
) -> None:
    sign_in(other_client, "inspector")
    assert other_client.get("/", follow_redirects=False).status_code == 200
    inspector = existing_user(db, "inspector")
    assert sessions_of(db, inspector.id) == 1
    sign_in(client, "admin")
    edit = edit_form_of(inspector, active="")
    response = post_form(client, f"/admin/users/{inspector.id}/edit", edit)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/users"
    assert existing_user(db, "inspector").active is False
    assert sessions_of(db, inspector.id) == 0
    after = other_client.get("/", follow_redirects=False)
    assert after.status_code == 303
    assert after.headers["location"].startswith("/signin")
    refused = post_form(
        other_client, "/signin", {"username": "inspector", "password": DEMO_PASSWORD}
    )
    assert refused.status_code == 422
    # Reactivating does not revive the old sign-in, but allows a new one.
    edit["active"] = "1"
    assert post_form(client, f"/admin/users/{inspector.id}/edit", edit).status_code == 303
    sign_in(other_client, "inspector")


def test_role_change_bumps_scope_version_and_other_edits_do_not(
    client: TestClient[Any], db: Session
) -> None:
    inspector = existing_user(db, "inspector")
    assert inspector.scope_version == 1
    sign_in(client, "admin")
    url = f"/admin/users/{inspector.id}/edit"
    edit = edit_form_of(inspector, display_name="新名字", phone="027-8888 0000")
    assert post_form(client, url, edit).status_code == 303
    renamed = existing_user(db, "inspector")
    assert (renamed.display_name, renamed.phone, renamed.scope_version) == (
        "新名字",
        "027-8888 0000",
        1,
    )
    edit.update(role=Role.STREET_RESPONDER.value, unit_id=str(unit_id(db, STREET)))
    assert post_form(client, url, edit).status_code == 303
    moved = existing_user(db, "inspector")
    assert (moved.role, moved.unit_id, moved.scope_version) == (
        Role.STREET_RESPONDER.value,
        unit_id(db, STREET),
        2,
    )
    assert actions_on_user(db, inspector.id) == ["user.updated", "user.updated"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("role", Role.CITY_OFFICER.value), ("active", ""), ("unit_id", STREET)],
)
def test_admin_cannot_deactivate_demote_or_move_themselves(
    client: TestClient[Any], db: Session, field: str, value: str
) -> None:
    admin = existing_user(db, "admin")
    if field == "unit_id":
        value = str(unit_id(db, value))
    sign_in(client, "admin")
    response = post_form(
        client, f"/admin/users/{admin.id}/edit", edit_form_of(admin, **{field: value})
    )
    assert response.status_code == 422
    assert f'data-field-error="{field}"' in response.text
    after = existing_user(db, "admin")
    assert (after.role, after.active, after.unit_id, after.scope_version) == (
        admin.role,
        True,
        admin.unit_id,
        1,
    )


def test_password_reset_signs_out_and_the_new_password_works(
    client: TestClient[Any], other_client: TestClient[Any], db: Session
) -> None:
    sign_in(other_client, "responder")
    responder = existing_user(db, "responder")
    sign_in(client, "admin")
    url = f"/admin/users/{responder.id}/password"
    short = post_form(client, url, {"password": "short"})
    assert short.status_code == 422
    assert 'data-field-error="password"' in short.text
    assert existing_user(db, "responder").password_hash == responder.password_hash
    response = post_form(client, url, {"password": "fresh-password-9"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/users/{responder.id}/edit?reset=1"
    assert sessions_of(db, responder.id) == 0
    assert other_client.get("/", follow_redirects=False).status_code == 303
    sign_in(other_client, "responder", "fresh-password-9")


def test_units_page_adds_a_child_and_renames(client: TestClient[Any], db: Session) -> None:
    street = unit_id(db, STREET)
    sign_in(client, "admin")
    page = client.get("/admin/units")
    assert page.status_code == 200
    assert f'id="unit-{unit_id(db, JIANGAN_GRID)}"' in page.text
    data = {"parent_id": str(street), "code": "420107001009", "name": "红卫路第9网格"}
    response = post_form(client, "/admin/units", data)
    assert response.status_code == 303
    grid = fresh(db).execute(select(Unit).where(col(Unit.code) == "420107001009")).scalar_one()
    assert (grid.level, grid.parent_id, grid.path) == (
        "grid",
        street,
        f"/420100/420107/{STREET}/420107001009/",
    )
    again = post_form(client, "/admin/units", data)
    assert again.status_code == 422
    assert 'data-field-error="code"' in again.text
    rename = post_form(client, f"/admin/units/{grid.id}/edit", {"name": "新网格", "name_en": "New"})
    assert rename.status_code == 303
    assert fresh(db).get(Unit, grid.id).name == "新网格"  # type: ignore[union-attr]
    empty = post_form(client, f"/admin/units/{grid.id}/edit", {"name": " ", "name_en": ""})
    assert empty.status_code == 422
    assert fresh(db).get(Unit, grid.id).name == "新网格"  # type: ignore[union-attr]


def test_a_unit_cannot_be_added_under_a_grid(client: TestClient[Any], db: Session) -> None:
    units = count(db, Unit)
    sign_in(client, "admin")
    data = {"parent_id": str(unit_id(db, GRID)), "code": "420107001001001", "name": "子网格"}
    response = post_form(client, "/admin/units", data)
    assert response.status_code == 422
    assert 'data-field-error="parent_id"' in response.text
    assert count(db, Unit) == units


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        "GRIDSAFE_DATABASE_URL": settings.database_url,
        "GRIDSAFE_SECRET_KEY": TEST_SECRET,
        "GRIDSAFE_DATA_DIR": str(settings.data_dir),
    }


def test_cli_create_user_makes_a_user_who_can_sign_in(
    client: TestClient[Any], db: Session, settings: Settings
) -> None:
    args = ["create-user", "li.na", "--name", "李娜", "--role", "grid_inspector"]
    args += ["--unit", OTHER_GRID, "--password", "cli-password-1"]
    result = CliRunner().invoke(main, args, env=cli_env(settings))
    assert result.exit_code == 0, result.output
    user = existing_user(db, "li.na")
    assert (user.role, user.unit_id) == (Role.GRID_INSPECTOR.value, unit_id(db, OTHER_GRID))
    sign_in(client, "li.na", "cli-password-1")
    assert client.get("/", follow_redirects=False).status_code == 200


@pytest.mark.parametrize(
    ("options", "mentioned"),
    [
        (["--role", "grid_inspector", "--unit", "999999999"], "999999999"),
        (["--role", "enterprise_officer", "--unit", GRID], "--enterprise"),
        (["--role", "grid_inspector", "--unit", GRID, "--enterprise", "X"], "--enterprise"),
    ],
)
def test_cli_create_user_refuses_bad_input(
    db: Session, settings: Settings, options: list[str], mentioned: str
) -> None:
    users = count(db, User)
    args = ["create-user", "li.na", "--name", "李娜", *options, "--password", "cli-password-1"]
    result = CliRunner().invoke(main, args, env=cli_env(settings))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a clean refusal, not a traceback
    assert mentioned in result.output
    assert count(db, User) == users
