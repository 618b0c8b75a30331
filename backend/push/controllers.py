"""Push API: the VAPID key, subscribe / unsubscribe this device, receipts from the service worker."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlmodel import Session

from backend.auth.guards import signed_in
from backend.auth.policy import Principal
from backend.push.outbox import mark
from backend.push.schemas import PushKeyOut, ReceiptIn, SubscriptionIn, SubscriptionOut
from backend.push.services import remove_subscription, save_subscription
from backend.push.vapid import resolve
from backend.settings import Settings
from backend.web import device_of


class PushApi(Controller):
    path = "/api/v1"
    tags = ["push"]  # noqa: RUF012
    guards = [signed_in]  # noqa: RUF012

    @get("/push/key", sync_to_thread=False)
    def key(self, request: Request[Any, Any, Any]) -> PushKeyOut:
        """The application server key a page passes to `pushManager.subscribe()`."""
        settings: Settings = request.app.state.settings
        return PushKeyOut(public_key=resolve(settings).public_key)

    @post("/push/subscriptions", sync_to_thread=True)
    def subscribe(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        data: JSONBody[SubscriptionIn],
    ) -> Response[SubscriptionOut]:
        """Subscribe this device to pushes, or refresh its keys: 201 new, 200 refreshed."""
        settings: Settings = request.app.state.settings
        subscription_id, created = save_subscription(
            db,
            principal,
            endpoint=data.endpoint,
            p256dh=data.keys.p256dh,
            auth=data.keys.auth,
            device=data.device or device_of(request),
            allow_http=not settings.is_production,
        )
        return Response(
            SubscriptionOut(id=subscription_id, created=created),
            status_code=201 if created else 200,
        )

    @delete("/push/subscriptions", sync_to_thread=True, status_code=204)
    def unsubscribe(
        self,
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        endpoint: Annotated[str, QueryParameter(max_length=1000)],
    ) -> None:
        """Stop pushes to this device (only one's own); unknown endpoints change nothing."""
        remove_subscription(db, principal, endpoint)

    @post("/notifications/{notification_id:int}/receipts", sync_to_thread=True, status_code=204)
    def receipt(
        self,
        db: NamedDependency[Session],
        principal: NamedDependency[Principal],
        notification_id: FromPath[int],
        data: JSONBody[ReceiptIn],
    ) -> None:
        """The service worker (delivered) or the page (seen) reports; only the recipient may."""
        mark(db, user_id=principal.id, event=data.event, notification_id=notification_id)
        db.commit()
