"""Configuration: documented, fails fast in production, generates dev secrets once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend.settings import ConfigurationError, Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented_in_the_readme(name: str) -> None:
    variable = f"GRIDSAFE_{name.upper()}"
    assert re.search(rf"^\| `{variable}` \|", README, re.MULTILINE), (
        f"{variable} is not in README's settings table"
    )


def test_readme_documents_no_setting_that_does_not_exist() -> None:
    documented = set(re.findall(r"^\| `GRIDSAFE_([A-Z_]+)` \|", README, re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}


def test_production_without_secrets_stops_with_their_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"GRIDSAFE_{name.upper()}", raising=False)
    monkeypatch.setenv("GRIDSAFE_ENV", "production")
    with pytest.raises(ConfigurationError) as error:
        Settings()
    for variable in (
        "GRIDSAFE_SECRET_KEY",
        "GRIDSAFE_VAPID_PRIVATE_KEY",
        "GRIDSAFE_DATABASE_URL",
        "GRIDSAFE_BROKER_URL",
    ):
        assert variable in str(error.value)


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ConfigurationError, match="at least 32"):
        Settings(
            env="production",
            secret_key="short",
            vapid_private_key="k",
            vapid_public_key="k",
            database_url="postgresql+psycopg://db/x",
            broker_url="redis://r",
        )


def test_dev_generates_the_secret_once_and_keeps_it(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path, secret_key="").resolved_secret_key
    second = Settings(data_dir=tmp_path, secret_key="").resolved_secret_key
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_defaults_are_the_embedded_ones(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="", broker_url="")
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'gridsafe.sqlite3'}"
    assert settings.resolved_broker_url.startswith("sqla+sqlite:///")
    assert settings.secure_cookies is False


def test_the_embedded_broker_gets_its_folder_with_the_database_elsewhere(tmp_path: Path) -> None:
    from backend.app import create_app
    from backend.worker import celery_app

    data_dir = tmp_path / "not-made-yet"
    settings = Settings(
        env="dev",
        data_dir=data_dir,
        database_url=f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}",
        broker_url="",
        secret_key="x" * 48,
    )
    create_app(settings)
    assert data_dir.is_dir()
    # The broker opens its database file there: a connection now works.
    with celery_app.connection_for_write(settings.resolved_broker_url) as connection:
        connection.ensure_connection(max_retries=1)


@pytest.mark.parametrize("reload", [False, True])
def test_templates_are_read_again_only_when_asked(tmp_path: Path, reload: bool) -> None:
    from backend.app import create_app

    settings = Settings(
        env="dev",
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'gridsafe.sqlite3'}",
        broker_url="memory://",
        secret_key="x" * 48,
        template_reload=reload,
    )
    assert create_app(settings).state.jinja_env.auto_reload is reload
