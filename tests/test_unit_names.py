"""Units named in the reader's language: the `unit_name` filter's table, and the places the
closed loop's notices name."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import select, update
from sqlmodel import Session

from backend.db import make_engine, make_session_factory
from backend.models import Notification, Unit, User
from backend.settings import Settings
from backend.units.names import UnitNames, unit_label
from tests.conftest import post_form, sign_in
from tests.test_hazard_pages import report
from tests.test_loop import assign, user_id


def test_unit_label_prefers_the_english_name_in_english_only() -> None:
    assert unit_label("红卫路街道", "Hongwei Road Street", "en") == "Hongwei Road Street"
    assert unit_label("红卫路街道", "Hongwei Road Street", "zh") == "红卫路街道"
    assert unit_label("红卫路街道", "", "en") == "红卫路街道"
    assert unit_label("红卫路街道", None, "en") == "红卫路街道"


def test_the_table_names_units_by_their_chinese_name(settings: Settings, db: Session) -> None:
    grid = db.execute(select(Unit).where(Unit.code == "420107001001")).scalar_one()
    assert grid.name_en
    engine = make_engine(settings.resolved_database_url)
    try:
        names = UnitNames(make_session_factory(engine))
        assert names.label(grid.name, "en") == grid.name_en
        assert names.label(grid.name, "zh") == grid.name
        assert names.label(grid, "en") == grid.name_en
        assert names.label(SimpleNamespace(name=grid.name), "en") == grid.name_en
        assert names.label("不是单位", "en") == "不是单位"
        assert names.label(None, "en") == ""

        # A Chinese name two units share with different English names stays Chinese, after the
        # table is read again.
        other = db.execute(select(Unit).where(Unit.code == "420102001001")).scalar_one()
        db.execute(update(Unit).where(Unit.id == other.id).values(name=grid.name))
        db.commit()
        assert names.label(grid.name, "en") == grid.name_en  # not read again yet
        names.forget()
        assert names.label(grid.name, "en") == grid.name
    finally:
        engine.dispose()


def test_a_task_at_a_grid_names_the_grid_in_each_readers_language(
    client: TestClient[Any], db: Session
) -> None:
    grid = db.execute(select(Unit).where(Unit.code == "420107001001")).scalar_one()
    db.execute(update(User).where(User.username == "responder").values(locale="en"))
    db.commit()
    sign_in(client, "dispatcher")
    response = report(client, "", grid_id=str(grid.id), severity="general")
    assert response.status_code == 303, response.text
    hazard_id = response.headers["location"].rsplit("/", 1)[1]
    people = [user_id(db, "responder"), user_id(db, "inspector")]
    assert assign(client, hazard_id, people).status_code == 303
    bodies = dict(
        db.execute(
            select(User.username, Notification.body)
            .join(User, User.id == Notification.user_id)
            .where(Notification.hazard_id == hazard_id, Notification.kind == "task.offered")
        ).all()
    )
    assert bodies["responder"].startswith(grid.name_en)
    assert bodies["inspector"].startswith(grid.name)


def test_english_pages_name_units_in_english(client: TestClient[Any], db: Session) -> None:
    grid = db.execute(select(Unit).where(Unit.code == "420107001001")).scalar_one()
    sign_in(client, "dispatcher")
    post_form(client, "/language", {"lang": "en", "next": "/"})
    page = client.get("/dispatch").text
    assert f">{grid.name_en}</option>" in page
    assert grid.name not in page


def test_the_map_names_grids_in_the_readers_language(client: TestClient[Any], db: Session) -> None:
    grid = db.execute(select(Unit).where(Unit.code == "420107001001")).scalar_one()
    sign_in(client, "dispatcher")

    def names() -> set[str]:
        body = client.get("/map/data.geojson").json()
        return {
            f["properties"]["name"] for f in body["features"] if f["properties"]["kind"] == "unit"
        } | {f["properties"]["grid"] for f in body["features"] if "grid" in f["properties"]}

    assert grid.name in names()
    post_form(client, "/language", {"lang": "en", "next": "/map"})
    english = names()
    assert grid.name_en in english
    assert grid.name not in english
