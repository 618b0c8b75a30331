"""Reads the session cookie and puts the signed-in principal (or None) on the connection."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from backend.auth.services import principal_for_token

SESSION_COOKIE = "gs_session"


class SessionAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        token = connection.cookies.get(SESSION_COOKIE)
        if not token:
            return AuthenticationResult(user=None, auth=None)
        loop_engine = connection.app.state.loop_engine
        if loop_engine is not None:
            # SQLite: an indexed read on the event loop's own connection (backend.db).
            with loop_engine.connect() as database:
                principal = principal_for_token(database, token)
        else:
            factory = connection.app.state.session_factory

            def lookup() -> Any:
                with factory() as session:
                    return principal_for_token(session, token)

            principal = await to_thread.run_sync(lookup)
        return AuthenticationResult(user=principal, auth=token if principal else None)
