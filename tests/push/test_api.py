"""Push API and inbox: subscribe, refresh, unsubscribe, receipts, each only for one's own."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from backend.models import Notification, PushSubscription
from backend.push.outbox import mark, notify
from tests.conftest import csrf_token, sign_in
from tests.push.conftest import user_id
from tests.push.receiver import Receiver

Client = TestClient[Litestar]


def headers(client: Client) -> dict[str, str]:
    return {"x-csrftoken": csrf_token(client)}


def subscribe(client: Client, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/push/subscriptions", json=body, headers=headers(client))


def subscriptions(db: Session) -> list[PushSubscription]:
    db.expire_all()
    return list(db.execute(select(PushSubscription)).scalars())


def tell(db: Session, username: str, url: str = "/hazards") -> int:
    [notification_id] = notify(
        db, user_ids=[user_id(db, username)], kind="hazard.info", title="标题", body="内容", url=url
    )
    db.commit()
    return notification_id


def test_the_key_is_the_vapid_public_key(client: Client, receiver: Receiver) -> None:
    assert client.get("/api/v1/push/key").status_code == 401
    sign_in(client, "responder")
    key = client.get("/api/v1/push/key").json()["public_key"]
    assert len(key) == 87
    assert key.startswith("B")


def test_subscribe_refresh_and_unsubscribe(client: Client, db: Session, receiver: Receiver) -> None:
    device = receiver.device()
    sign_in(client, "responder")
    first = subscribe(client, device.subscription_json())
    assert first.status_code == 201
    assert first.json()["created"] is True
    again = subscribe(client, device.subscription_json())
    assert again.status_code == 200
    assert again.json() == {"id": first.json()["id"], "created": False}
    [row] = subscriptions(db)
    assert (row.endpoint, row.p256dh, row.auth) == (device.endpoint, device.p256dh, device.auth)
    assert row.user_id == user_id(db, "responder")
    gone = client.delete(
        "/api/v1/push/subscriptions", params={"endpoint": device.endpoint}, headers=headers(client)
    )
    assert gone.status_code == 204
    assert subscriptions(db) == []


def test_a_browser_someone_else_signs_into_moves_to_them(
    app: Litestar, db: Session, receiver: Receiver
) -> None:
    device = receiver.device()
    with TestClient(app) as first:
        sign_in(first, "responder")
        assert subscribe(first, device.subscription_json()).status_code == 201
    with TestClient(app) as second:
        sign_in(second, "inspector")
        # The inspector cannot unsubscribe the responder's device …
        second.delete(
            "/api/v1/push/subscriptions",
            params={"endpoint": device.endpoint},
            headers=headers(second),
        )
        assert [s.user_id for s in subscriptions(db)] == [user_id(db, "responder")]
        # … but the same browser profile, signed in as the inspector, now gets their pushes.
        assert subscribe(second, device.subscription_json()).status_code == 200
        assert [s.user_id for s in subscriptions(db)] == [user_id(db, "inspector")]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endpoint": "ftp://push.example/abc"}, "endpoint"),
        ({"endpoint": "not a url"}, "endpoint"),
        ({"keys": {"p256dh": "AAAA", "auth": "x"}}, "keys.p256dh"),
    ],
)
def test_a_bad_subscription_is_refused_with_a_reason_and_stores_nothing(
    client: Client, db: Session, receiver: Receiver, change: dict[str, Any], field: str
) -> None:
    sign_in(client, "responder")
    body = {**receiver.device().subscription_json(), **change}
    response = subscribe(client, body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert field in {item["field"] for item in problem["errors"]}
    assert all(item["message"] for item in problem["errors"])
    assert subscriptions(db) == []


def test_receipts_only_for_ones_own_notification(client: Client, db: Session) -> None:
    mine, theirs = tell(db, "responder"), tell(db, "inspector")
    sign_in(client, "responder")
    url = "/api/v1/notifications/{}/receipts"
    assert (
        client.post(
            url.format(mine), json={"event": "delivered"}, headers=headers(client)
        ).status_code
        == 204
    )
    assert (
        client.post(url.format(theirs), json={"event": "seen"}, headers=headers(client)).status_code
        == 404
    )
    assert (
        client.post(url.format(mine), json={"event": "bogus"}, headers=headers(client)).status_code
        == 400
    )
    db.expire_all()
    own, other = db.get(Notification, mine), db.get(Notification, theirs)
    assert own is not None
    assert other is not None
    assert own.delivered_at is not None
    assert own.seen_at is None
    assert other.delivered_at is None
    assert other.seen_at is None


def test_the_inbox_lists_only_ones_own_and_opening_marks_seen(client: Client, db: Session) -> None:
    mine, theirs = tell(db, "responder", "/hazards?x=1"), tell(db, "inspector")
    sign_in(client, "responder")
    page = client.get("/notifications")
    assert page.status_code == 200
    assert f'data-notification-id="{mine}"' in page.text
    assert f'data-notification-id="{theirs}"' not in page.text
    fragment = client.get("/notifications", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text
    assert f'data-notification-id="{mine}"' in fragment.text
    opened = client.get(f"/notifications/{mine}/open", follow_redirects=False)
    assert (opened.status_code, opened.headers["location"]) == (303, "/hazards?x=1")
    assert client.get(f"/notifications/{theirs}/open", follow_redirects=False).status_code == 404
    db.expire_all()
    seen = db.get(Notification, mine)
    assert seen is not None
    assert seen.seen_at is not None


def test_mark_by_task_and_accepted_implies_seen(db: Session) -> None:
    responder = user_id(db, "responder")
    [first] = notify(
        db,
        user_ids=[responder],
        kind="task.assigned",
        title="t",
        body="b",
        url="/tasks/x",
        task_id="task-1",
    )
    db.commit()
    mark(db, user_id=user_id(db, "inspector"), event="accepted", task_id="task-1")
    db.commit()
    db.expire_all()
    row = db.get(Notification, first)
    assert row is not None
    assert row.accepted_at is None
    mark(db, user_id=responder, event="accepted", task_id="task-1")
    db.commit()
    db.expire_all()
    row = db.get(Notification, first)
    assert row is not None
    assert row.accepted_at is not None
    assert row.seen_at is not None
    assert row.delivered_at is None


def test_notify_refuses_a_link_to_another_site(db: Session) -> None:
    for url in ("https://evil.example/x", "//evil.example/x"):
        with pytest.raises(ValueError, match="path on this server"):
            notify(db, user_ids=[1], kind="k", title="t", body="b", url=url)
