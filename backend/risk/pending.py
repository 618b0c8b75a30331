"""Rescoring outside the writer's transaction (a transactional outbox, like the notifications'):
a change to an enterprise's facts writes a `risk_pending` row in its own transaction, and once
that commits, a worker is asked to rescore (backend/risk/jobs.py) after a short delay that lets
a burst of pushes share one run. The queue message is only a nudge: the rows are the truth, and
the beat sweep rescores whatever a lost message or a broker outage left."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session

from backend.models import RiskPending, utcnow
from backend.offline import bulk
from backend.settings import Settings

log = logging.getLogger(__name__)

P = RiskPending.__table__  # type: ignore[attr-defined]


def mark(session: Session, enterprise_ids: Iterable[int], at: datetime | None) -> None:
    """One plain insert of the touched enterprises, in the caller's transaction. Plain: a
    conflict clause would need a unique key, and `ON CONFLICT` against a row the job holds
    either waits for it (DO UPDATE) or is silently dropped while the job deletes it (DO NOTHING),
    losing the change. Duplicates across transactions are merged by the job instead."""
    now = utcnow()
    rows = [{"enterprise_id": i, "since": now, "at": at} for i in sorted(set(enterprise_ids))]
    if rows:
        # Straight to the driver (backend/offline/bulk.py): every sync push with a report ends
        # here, and Core's per-row parameter work cost more than the insert.
        bulk.insert_rows(session.connection(), P, rows)


class Nudger:
    """At most one queued run per delay window and broker in this process: 500 pushes a second
    send one message a second, not 500. A commit after the queued run's time queues the next."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    def reset(self) -> None:
        with self._lock:
            self._until.clear()

    def _claim(self, broker: str, delay: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._until.get(broker, 0.0) > now:
                return False  # a run already queued will start after this commit
            self._until[broker] = now + delay
            return True

    def nudge(self, settings: Settings) -> bool:
        """Queue a rescoring run unless one is queued already. Never raises: with the broker
        down the rows wait for the beat sweep. True when a message was sent."""
        from backend.risk.jobs import enqueue  # the Celery side imports this module

        broker = settings.resolved_broker_url
        delay = settings.risk_delay_seconds
        if not self._claim(broker, delay):
            return False
        try:
            enqueue(settings, delay)
        except Exception as error:
            # The window stays claimed: during an outage one commit a window pays for a failed
            # attempt, not every push.
            log.warning(
                "could not queue risk rescoring (%s: %s); the beat sweep will do it",
                error.__class__.__name__,
                error,
            )
            return False
        return True


nudger = Nudger()
