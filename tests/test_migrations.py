"""Migrations are the schema: up, no drift from the models, down and up again, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select
from sqlmodel import Session, SQLModel

from backend.cli import alembic_config
from backend.db import make_engine
from backend.models import Photo, PhotoUpload, User
from tests.conftest import PostgresDatabases, build_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return databases.create()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_check_downgrade_upgrade(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "head")
    assert set(SQLModel.metadata.tables) <= table_names(empty_database)
    command.check(config)  # raises when the models and the migrations disagree
    command.downgrade(config, "base")
    assert table_names(empty_database) <= {"alembic_version"}
    command.upgrade(config, "head")
    command.check(config)
    assert set(SQLModel.metadata.tables) <= table_names(empty_database)


def test_one_head_and_every_revision_can_go_down() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        assert revision.module.downgrade.__code__.co_code != (lambda: None).__code__.co_code, (
            revision.revision
        )


def test_photos_stored_before_0017_count_as_sent_by_their_first_uploader(
    empty_database: str,
) -> None:
    build_database(empty_database)
    engine = make_engine(empty_database)
    try:
        with Session(engine) as session:
            user_id = session.execute(
                select(User.id).where(User.username == "inspector")
            ).scalar_one()
            session.add(
                Photo(
                    sha256="ab" * 32,
                    content_type="image/jpeg",
                    size=1,
                    width=1,
                    height=1,
                    data=b"\xff",
                    uploaded_by=user_id,
                )
            )
            session.commit()
        config = alembic_config(empty_database)
        command.downgrade(config, "0016")
        command.upgrade(config, "0017")
        with Session(engine) as session:
            uploads = session.execute(select(PhotoUpload.sha256, PhotoUpload.user_id)).all()
        assert [tuple(row) for row in uploads] == [("ab" * 32, user_id)]
    finally:
        engine.dispose()
