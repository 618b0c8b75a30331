"""Background jobs for sign-in housekeeping."""

from __future__ import annotations

from backend.auth.services import purge_expired
from backend.db import session_scope
from backend.worker import celery_app, session_factory


@celery_app.task(name="gridsafe.purge_expired_sessions")  # type: ignore[untyped-decorator]
def purge_expired_sessions() -> int:
    with session_scope(session_factory()) as session:
        return purge_expired(session)
