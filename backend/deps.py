"""Dependencies every controller shares: the database session and the signed-in principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from litestar import Request
from sqlmodel import Session

from backend.audit import Origin
from backend.auth.guards import principal_of
from backend.auth.policy import Principal
from backend.web import client_ip, device_of


def provide_db(request: Request[Any, Any, Any]) -> Iterator[Session]:
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
