"""Administration pages (administrators only)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get

from backend.auth.guards import administrator
from backend.web import page


class AdminPages(Controller):
    path = "/admin"
    include_in_schema = False
    guards = [administrator]  # noqa: RUF012

    @get("/", sync_to_thread=False)
    def index(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return page(request, "admin/index.html")
