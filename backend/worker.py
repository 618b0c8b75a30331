"""The Celery application. Configured lazily from settings, so importing it connects to nothing."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from celery import Celery
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from backend.db import SETTINGS_KEY, make_engine, make_session_factory
from backend.settings import Settings

celery_app = Celery(
    "gridsafe",
    include=[
        "backend.auth.jobs",
        "backend.push.tasks",
        "backend.escalation.jobs",
        "backend.risk.jobs",
    ],
)


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.resolved_broker_url,
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        # A task whose worker dies is handed to another worker instead of being lost.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "beat_schedule_filename": str(settings.data_dir / "celerybeat-schedule"),
        "beat_schedule": {
            "purge-expired-sessions": {
                "task": "gridsafe.purge_expired_sessions",
                "schedule": timedelta(hours=1),
            },
            "sweep-escalations": {
                "task": "gridsafe.escalation.sweep",
                "schedule": timedelta(minutes=1),
            },
            # Rescoring is nudged after each commit; this catches what a broker outage left.
            "refresh-pending-risk": {
                "task": "gridsafe.risk.refresh_pending",
                "schedule": timedelta(minutes=1),
            },
            "sweep-push-deliveries": {
                "task": "gridsafe.push.sweep",
                "schedule": timedelta(seconds=settings.push_sweep_seconds),
            },
        },
    }


def configure(settings: Settings) -> Celery:
    """Point the app at a settings object (used by `gridsafe run` and by the tests)."""
    celery_app.conf.update(celery_config(settings))
    celery_app.conf.gridsafe_settings = settings
    return celery_app


celery_app.add_defaults(lambda: celery_config(Settings()))


def worker_settings() -> Settings:
    settings = celery_app.conf.get("gridsafe_settings")
    return settings if isinstance(settings, Settings) else Settings()


@cache
def _factory(url: str) -> sessionmaker[Session]:
    return make_session_factory(make_engine(url))


def session_factory() -> sessionmaker[Session]:
    """One engine per worker process and database URL; its sessions carry the worker's settings
    like the web's do (see backend.db.SETTINGS_KEY)."""
    settings = worker_settings()
    factory = _factory(settings.resolved_database_url)
    factory.configure(info={SETTINGS_KEY: settings})
    return factory
