"""Bounded work per web process: a request waits its turn in a line of bounded time, and one that
has waited too long is answered 503 with Retry-After instead of hanging.

A city's morning (thousands of phones signing in and syncing) or anyone looping on a public code
card must slow the server down, never stop it: a phone's outbox reads 503 as "try later" and
backs off, a browser shows the translated error page at once."""

from __future__ import annotations

import asyncio

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from backend.errors import AppError


class AdmissionLimit(ASGIMiddleware):
    """At most `concurrent` requests of this process are worked on at once; the others wait in
    line (first come, first served) for at most `wait_seconds`, then get AppError("overloaded").

    Without the line, every request goes straight to the thread pool and the database pool, and
    under a flood all of them slow down together until clients time out; with it, the ones being
    worked on finish at normal speed and the line moves."""

    scopes = (ScopeType.HTTP,)
    # A load balancer's probes must answer while the line is long: that is when they matter.
    exclude_path_pattern = ("^/healthz$", "^/readyz$")

    def __init__(self, concurrent: int, wait_seconds: float) -> None:
        self._slots = asyncio.Semaphore(concurrent)
        self._wait_seconds = wait_seconds

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        try:
            await asyncio.wait_for(self._slots.acquire(), self._wait_seconds)
        except TimeoutError:
            raise AppError("overloaded") from None
        try:
            await next_app(scope, receive, send)
        finally:
            self._slots.release()
