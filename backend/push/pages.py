"""The inbox: a person's notifications (kept fresh by htmx), and the switch for this device's
pushes. Works where push does not (mainland China): the page is the first-class channel."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect
from sqlmodel import Session

from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.push.outbox import mark
from backend.push.services import devices, inbox, own_notification
from backend.warnings.services import withdrawn_alarms
from backend.web import page

REFRESH_SECONDS = 30


class NotificationPages(Controller):
    path = "/notifications"
    include_in_schema = False
    guards = [signed_in]  # noqa: RUF012

    @get("/", sync_to_thread=True)
    def index(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
    ) -> Response[Any]:
        notifications = inbox(db, principal)
        context = {
            "notifications": notifications,
            "withdrawn": withdrawn_alarms(db, notifications),
            "devices": devices(db, principal),
            "refresh_seconds": REFRESH_SECONDS,
        }
        db.rollback()
        response = page(request, "push/inbox.html", context, block="inbox")
        # The list is personal and changes all the time: never kept by the service worker.
        response.headers["Cache-Control"] = "no-store"
        return response

    @get("/{notification_id:int}/open", sync_to_thread=True)
    def open(
        self,
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        notification_id: FromPath[int],
    ) -> Redirect:
        """Opening a notification from the inbox marks it seen, then goes where it points."""
        notification = own_notification(db, principal, notification_id)
        mark(db, user_id=principal.id, event="seen", notification_id=notification_id)
        db.commit()
        return Redirect(notification.url, status_code=303)
