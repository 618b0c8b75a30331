"""The escalation sweep as a Celery beat job: every minute, never a long countdown in the broker."""

from __future__ import annotations

from backend.db import session_scope
from backend.escalation.services import SweepResult, sweep
from backend.models import utcnow
from backend.worker import celery_app, session_factory

BATCH = 1000


@celery_app.task(name="gridsafe.escalation.sweep")  # type: ignore[untyped-decorator]
def sweep_due() -> dict[str, int]:
    """Batches of at most BATCH overdue hazards, each its own transaction, until none is due.
    Notifications leave after each commit (see backend/tasks/notices.py)."""
    total = SweepResult()
    now = utcnow()
    for _ in range(100):  # bounded: 100,000 hazards per run; the next run does the rest
        with session_scope(session_factory()) as session:
            result = sweep(session, now, BATCH)
        total.escalated += result.escalated
        total.renotified += result.renotified
        total.supervised += result.supervised
        total.skipped_tiers += result.skipped_tiers
        if result.seen < BATCH:
            break
    return {
        "escalated": total.escalated,
        "renotified": total.renotified,
        "supervised": total.supervised,
        "skipped_tiers": total.skipped_tiers,
    }
