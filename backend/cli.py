"""The `gridsafe` command: migrate, seed-demo, create-user, import-enterprises, risk, vapid-keys, run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from alembic import command
from alembic.config import Config

from backend.db import make_engine, make_session_factory, session_scope
from backend.errors import AppError
from backend.i18n import Translator
from backend.models import Role
from backend.settings import ConfigurationError, Settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def _settings() -> Settings:
    try:
        return Settings()
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from error


@contextmanager
def refusals() -> Iterator[None]:
    """An AppError (a refusal the user can act on) ends the command with its English message
    instead of a traceback."""
    try:
        yield
    except AppError as error:
        message = Translator("en")(f"errors.{error.code}", **error.params)
        raise click.ClickException(message) from error


@click.group()
def main() -> None:
    """GridSafe: urban safety grid management."""


def worker_command() -> list[str]:
    """The Celery worker (with beat) that `run` starts beside the web server. `--quiet` belongs
    to celery itself, before the sub-command."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "backend.worker:celery_app",
        "--quiet",
        "worker",
        "--beat",
        "--pool=solo",
        "--loglevel=WARNING",
    ]


@main.command()
def migrate() -> None:
    """Bring the database schema up to date (alembic upgrade head)."""
    settings = _settings()
    command.upgrade(alembic_config(settings.resolved_database_url), "head")
    click.echo("database is up to date")


@main.command("seed-demo")
def seed_demo() -> None:
    """Load the Wuhan demo data, once (running it again changes nothing)."""
    from backend.demo.seed import seed

    settings = _settings()
    engine = make_engine(settings.resolved_database_url)
    with session_scope(make_session_factory(engine)) as session:
        created = seed(session)
    engine.dispose()
    click.echo(f"demo data loaded: {created}" if created else "demo data already present")


@main.command("create-user")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Name shown in the app.")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True)
@click.option(
    "--unit",
    "unit_code",
    required=True,
    help="Code of the user's home unit (city, district, street or grid).",
)
@click.option(
    "--enterprise",
    "credit_code",
    default=None,
    help="Credit code of the enterprise (enterprise officers).",
)
@click.password_option()
def create_user(
    username: str,
    display_name: str,
    role: str,
    unit_code: str,
    credit_code: str | None,
    password: str,
) -> None:
    """Create a user who can sign in."""
    from backend.admin.users import UserInput, create_user_by_codes

    settings = _settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        with refusals(), session_scope(make_session_factory(engine)) as session:
            user = create_user_by_codes(
                session, UserInput(username, display_name, role, password), unit_code, credit_code
            )
        click.echo(f"created user {user.username} ({user.role})")
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    finally:
        engine.dispose()


@main.command("import-enterprises")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and report without saving anything.")
def import_enterprises(path: Path, dry_run: bool) -> None:
    """Onboard enterprises from a CSV or XLSX export of the business-registration system."""
    from backend.enterprises.importing import import_file

    settings = _settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        with refusals(), session_scope(make_session_factory(engine)) as session:
            report = import_file(
                session, path.name, path.read_bytes(), actor_id=None, dry_run=dry_run
            )
            if dry_run:
                session.rollback()
    finally:
        engine.dispose()
    click.echo(report.summary())
    for row in report.rejected:
        click.echo(f"  row {row.line}: {', '.join(f'{k}={v}' for k, v in row.errors.items())}")
    if report.rejected:
        sys.exit(1)


@main.group()
def risk() -> None:
    """Enterprise risk grading (风险分级)."""


@risk.command("recompute")
@click.option("--batch", default=5000, show_default=True, help="Enterprises per transaction.")
def risk_recompute(batch: int) -> None:
    """Rescore every enterprise, e.g. after GRIDSAFE_RISK_WEIGHTS changed."""
    import time

    from backend.risk.services import config_of, recompute_all

    settings = _settings()
    engine = make_engine(settings.resolved_database_url)
    started = time.perf_counter()
    with session_scope(make_session_factory(engine, settings)) as session:
        version = config_of(session).weights.version
        done = recompute_all(session, batch=max(1, batch))
    engine.dispose()
    seconds = time.perf_counter() - started
    click.echo(f"rescored {done} enterprises with weights version {version} in {seconds:.1f} s")


@main.command("vapid-keys")
def vapid_keys() -> None:
    """Print a new VAPID key pair for GRIDSAFE_VAPID_PRIVATE_KEY / GRIDSAFE_VAPID_PUBLIC_KEY."""
    from backend.push.vapid import generate

    keys = generate()
    click.echo(f"GRIDSAFE_VAPID_PUBLIC_KEY={keys.public_key}")
    click.echo("GRIDSAFE_VAPID_PRIVATE_KEY (PEM):")
    click.echo(keys.private_pem)


@main.command()
@click.option(
    "--reload", is_flag=True, help="Restart the web server when code changes (development)."
)
def run(reload: bool) -> None:
    """Migrate, load the demo data on first run, then serve the app with a Celery worker and beat."""
    import uvicorn

    from backend.demo.seed import DEMO_PASSWORD, DEMO_USERS
    from backend.push.vapid import resolve

    settings = _settings()
    command.upgrade(alembic_config(settings.resolved_database_url), "head")
    if not settings.is_production:
        seed_demo.callback()  # type: ignore[misc]
        settings.resolved_secret_key  # noqa: B018 (generated into the data folder on first run)
        resolve(settings)
        names = ", ".join(user.username for user in DEMO_USERS) + ", enterprise"
        click.echo(f"demo sign-ins (password {DEMO_PASSWORD}): {names}")
    worker = None
    if settings.run_worker:
        worker = subprocess.Popen(worker_command(), env=os.environ.copy())  # noqa: S603 (our own argv)
    if reload:
        # The reloader watches Python files only; templates are re-read by Jinja instead.
        os.environ["GRIDSAFE_TEMPLATE_RELOAD"] = "1"
    click.echo(f"GridSafe on http://{settings.host}:{settings.port}  (Ctrl-C stops)")
    try:
        uvicorn.run(
            "backend.app:create_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            reload=reload,
            log_level="info",
            proxy_headers=settings.is_production,
        )
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()


if __name__ == "__main__":
    main()
