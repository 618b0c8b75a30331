"""Probes for a load balancer: /healthz (the process answers) and /readyz (it can do real work:
its database and its broker answer)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, Request, Response, get
from sqlalchemy import text

from backend.settings import Settings
from backend.worker import celery_app

log = logging.getLogger(__name__)

# A probe must answer well within a load balancer's own timeout (typically 5 s).
BROKER_TIMEOUT_SECONDS = 2.0


def database_ready(request: Request[Any, Any, Any]) -> bool:
    try:
        with request.app.state.session_factory() as session:
            session.execute(text("SELECT 1"))
    except Exception:
        log.warning("readiness: the database does not answer", exc_info=True)
        return False
    return True


def broker_ready(settings: Settings) -> bool:
    try:
        with celery_app.connection_for_write(settings.resolved_broker_url) as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception:
        log.warning("readiness: the broker does not answer", exc_info=True)
        return False
    return True


class HealthRoutes(Controller):
    @get("/healthz", sync_to_thread=False)
    def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", sync_to_thread=True)
    def ready(self, request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        checks = {
            "database": database_ready(request),
            "broker": broker_ready(request.app.state.settings),
        }
        body = {name: "ok" if ok else "unavailable" for name, ok in checks.items()}
        ready = all(checks.values())
        body["status"] = "ok" if ready else "unavailable"
        return Response(
            body, status_code=200 if ready else 503, headers={"Cache-Control": "no-store"}
        )
