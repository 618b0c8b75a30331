"""Celery adapters over backend/push/delivery.py: deliver notifications, sweep what was left."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from backend.push import delivery
from backend.settings import Settings
from backend.worker import celery_app, session_factory, worker_settings

log = logging.getLogger(__name__)

# Notifications per task message: one dispatch is a handful; a sweep after an outage is many.
CHUNK = 200
# A request must not hang on a broker that is down: one quick retry, then the sweep's turn.
RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


@celery_app.task(name="gridsafe.push.deliver", ignore_result=True)  # type: ignore[untyped-decorator]
def deliver(notification_ids: list[int]) -> dict[str, int]:
    report = delivery.deliver(worker_settings(), session_factory(), notification_ids)
    if report.retry_in is not None:
        # Short back-offs ride on a countdown; if this message is lost the sweep finds the rows.
        try:
            deliver.apply_async((notification_ids,), countdown=report.retry_in)
        except Exception as error:
            log.warning("could not queue a retry: %s", error)
    return dict(report.counts)


@celery_app.task(name="gridsafe.push.sweep", ignore_result=True)  # type: ignore[untyped-decorator]
def sweep() -> int:
    """Beat job: queue deliveries still pending past their time (e.g. the broker was down when
    the dispatch committed) or whose worker died mid-send."""
    settings = worker_settings()
    with session_factory()() as session:
        ids = delivery.overdue(session, settings)
    for start in range(0, len(ids), CHUNK):
        deliver.apply_async((ids[start : start + CHUNK],))
    return len(ids)


def enqueue(settings: Settings, notification_ids: Sequence[int]) -> None:
    """Queue delivery on the broker `settings` names (the web process's), raising if it is down."""
    ids = list(notification_ids)
    options: dict[str, Any] = {"retry": True, "retry_policy": RETRY_POLICY}
    if settings.resolved_broker_url == celery_app.conf.broker_url:
        for start in range(0, len(ids), CHUNK):
            deliver.apply_async((ids[start : start + CHUNK],), **options)
        return
    with celery_app.connection_for_write(settings.resolved_broker_url) as connection:
        for start in range(0, len(ids), CHUNK):
            deliver.apply_async((ids[start : start + CHUNK],), connection=connection, **options)
