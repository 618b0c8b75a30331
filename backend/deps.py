"""Dependencies every controller shares: the database session and the signed-in principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from sqlmodel import Session

from backend.audit import Origin
from backend.auth.guards import principal_of
from backend.auth.policy import Principal
from backend.web import client_ip, device_of


async def provide_db(request: Request[Any, Any, Any]) -> AsyncIterator[Session]:
    """The request's session. It is closed on the event loop, not in a worker thread: Litestar
    runs a sync generator's clean-up in the same thread pool as the handlers, queued behind them,
    so under load every thread waited for a database connection that only a queued clean-up could
    give back, until the pool's timeout (a stall of 30 s that any 32 clients could cause).
    Closing gives the connection back to the pool (a rollback if a transaction is still open):
    it never waits for a connection, so the line always moves."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.close()


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    return principal_of(request)


def provide_origin(request: Request[Any, Any, Any]) -> Origin:
    user = request.scope.get("user")
    return Origin(
        actor_id=getattr(user, "id", None), device=device_of(request), ip=client_ip(request)
    )
