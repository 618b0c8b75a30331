"""The closed loop end to end, on SQLite and PostgreSQL: report → dispatch → accept → rectify →
verify → close, through the pages and through the phone's sync mutations, with the history,
the notifications written in the same transaction, and the refusals."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from backend.models import (
    Event,
    Hazard,
    Rectification,
    RectificationPhoto,
    Task,
    TaskOffer,
    User,
)
from backend.models.push import Notification
from backend.timezone import to_local_input, zone
from tests.conftest import csrf_token, enterprise_in, post_form, sign_in
from tests.sync.conftest import push, statuses
from tests.sync.test_photos import upload
from tests.test_hazard_pages import jpeg, report


def user_id(db: Session, username: str) -> int:
    return int(db.execute(select(User.id).where(User.username == username)).scalar_one())


def reported(client: TestClient[Any], db: Session, severity: str = "general") -> str:
    """A hazard reported by the demo inspector at an enterprise of their grid."""
    enterprise = enterprise_in(db, "420107001001")
    sign_in(client, "inspector")
    response = report(client, enterprise.id, severity=severity)  # type: ignore[arg-type]
    assert response.status_code == 303
    return str(response.headers["location"].rsplit("/", 1)[1])


def deadline(hours: float) -> str:
    """What a person types into the datetime-local field: Beijing wall-clock time."""
    return to_local_input(datetime.now(UTC) + timedelta(hours=hours), zone())


def assign(client: TestClient[Any], hazard_id: str, people: list[int], **extra: Any) -> Any:
    data = {
        "people": [str(p) for p in people],
        "accept_by": deadline(2),
        "rectify_by": deadline(48),
        "instructions": "清理消防通道",
        **extra,
    }
    return client.post(
        f"/hazards/{hazard_id}/assign",
        data={**data, "_csrf_token": csrf_token(client)},
        follow_redirects=False,
    )


def open_task(db: Session, hazard_id: str) -> Task:
    db.expire_all()
    return (
        db.execute(select(Task).where(Task.hazard_id == hazard_id).order_by(Task.created_at.desc()))
        .scalars()
        .first()
    )  # type: ignore[return-value]


def state(db: Session, hazard_id: str) -> str:
    db.expire_all()
    return str(db.execute(select(Hazard.state).where(Hazard.id == hazard_id)).scalar_one())


def history(db: Session, hazard_id: str) -> list[str]:
    return list(
        db.execute(
            select(Event.action)
            .where(Event.entity_type == "hazard", Event.entity_id == hazard_id)
            .order_by(Event.id)
        ).scalars()
    )


def notified(db: Session, kind: str) -> list[tuple[int, str]]:
    db.expire_all()
    return [
        (row.user_id, row.title)
        for row in db.execute(
            select(Notification).where(Notification.kind == kind).order_by(Notification.id)
        ).scalars()
    ]


def test_the_whole_loop_through_the_pages(client: TestClient[Any], db: Session) -> None:
    hazard_id = reported(client, db)
    sign_in(client, "dispatcher")
    queue = client.get("/dispatch")
    assert queue.status_code == 200
    assert f'data-hazard-id="{hazard_id}" data-state="reported"' in queue.text
    card = client.get(f"/hazards/{hazard_id}")
    assert "data-assign-form" in card.text
    responder = user_id(db, "responder")
    assert f'value="{responder}"' in card.text

    assert assign(client, hazard_id, [responder]).status_code == 303
    task = open_task(db, hazard_id)
    assert (task.state, state(db, hazard_id)) == ("offered", "assigned")
    # The notification is in the responder's language (the demo default is Chinese) and names
    # the task; nothing was sent from the request itself.
    [(to, title)] = notified(db, "task.offered")
    assert to == responder
    assert title.startswith("新任务")

    sign_in(client, "responder")
    inbox = client.get("/tasks")
    assert f'data-task-id="{task.id}" data-task-state="offered"' in inbox.text
    accepted = post_form(client, f"/tasks/{task.id}/accept", {})
    assert accepted.status_code == 303
    assert (open_task(db, hazard_id).state, state(db, hazard_id)) == ("accepted", "rectifying")

    evidence = str(uuid.uuid4())
    after = jpeg((10, 200, 10))
    rectified = client.post(
        f"/hazards/{hazard_id}/rectify",
        data={"_csrf_token": csrf_token(client), "id": evidence, "note": "已清理，通道畅通"},
        files=[("photos", ("after.jpg", after, "image/jpeg"))],
        follow_redirects=False,
    )
    assert rectified.status_code == 303, rectified.text
    assert state(db, hazard_id) == "rectified"
    assert db.get(Rectification, evidence) is not None
    assert db.execute(select(func.count()).select_from(RectificationPhoto)).scalar_one() == 1
    inspector = user_id(db, "inspector")
    assert [to for to, _ in notified(db, "hazard.rectified")] == [inspector]

    # The evidence photo is seen by whoever may see the hazard, and by nobody else.
    photo = f"/api/v1/photos/{hashlib.sha256(after).hexdigest()}"
    sign_in(client, "inspector2")
    assert client.get(photo).status_code == 404
    sign_in(client, "inspector")
    assert client.get(photo).status_code == 200
    card = client.get(f"/hazards/{hazard_id}")
    assert "data-verify" in card.text
    assert "data-rectification" in card.text
    assert (
        post_form(
            client,
            f"/hazards/{hazard_id}/verify",
            {
                "note": "现场核实",
                "latitude": "30.6101",
                "longitude": "114.4302",
                "accuracy_m": "12",
            },
        ).status_code
        == 303
    )
    assert state(db, hazard_id) == "closed"
    assert open_task(db, hazard_id).state == "done"
    assert history(db, hazard_id) == [
        "hazard.reported",
        "hazard.assigned",
        "task.accepted",
        "hazard.rectified",
        "hazard.closed",
    ]
    closed = db.execute(
        select(Event).where(Event.entity_id == hazard_id, Event.action == "hazard.closed")
    ).scalar_one()
    assert (closed.data["latitude"], closed.data["accuracy_m"]) == (30.6101, 12.0)
    # The timeline shows where, and the notifications with how far they got.
    sign_in(client, "dispatcher")
    card = client.get(f"/hazards/{hazard_id}").text
    assert "data-notification" in card
    assert "30.61010, 114.43020" in card


def test_first_to_accept_wins_and_the_second_is_told_who(
    client: TestClient[Any], db: Session
) -> None:
    hazard_id = reported(client, db)
    sign_in(client, "dispatcher")
    people = [user_id(db, "responder"), user_id(db, "inspector")]
    assert assign(client, hazard_id, people).status_code == 303
    task = open_task(db, hazard_id)
    assert len(notified(db, "task.offered")) == 2

    sign_in(client, "responder")
    assert post_form(client, f"/tasks/{task.id}/accept", {}).status_code == 303
    sign_in(client, "inspector")
    second = post_form(client, f"/tasks/{task.id}/accept", {})
    assert second.status_code == 409
    responder_name = db.get(User, people[0]).display_name  # type: ignore[union-attr]
    assert f"已由{responder_name}接收" in second.text
    assert open_task(db, hazard_id).accepted_by == people[0]
    # The one who lost is told too.
    assert [to for to, _ in notified(db, "task.taken")] == [people[1]]


def test_a_major_hazard_needs_a_second_officer(client: TestClient[Any], db: Session) -> None:
    hazard_id = reported(client, db, severity="major")
    sign_in(client, "dispatcher")
    assert assign(client, hazard_id, [user_id(db, "responder")]).status_code == 303
    task = open_task(db, hazard_id)
    sign_in(client, "responder")
    post_form(client, f"/tasks/{task.id}/accept", {})
    post_form(client, f"/hazards/{hazard_id}/rectify", {"id": str(uuid.uuid4()), "note": "已整改"})
    sign_in(client, "dispatcher")
    assert post_form(client, f"/hazards/{hazard_id}/verify", {}).status_code == 303
    assert state(db, hazard_id) == "confirming"
    again = post_form(client, f"/hazards/{hazard_id}/verify", {})
    assert again.status_code == 409
    assert 'data-error-code="loop.second_person"' in again.text
    sign_in(client, "district")
    assert post_form(client, f"/hazards/{hazard_id}/verify", {}).status_code == 303
    assert state(db, hazard_id) == "closed"


def test_everyone_declining_puts_it_back_in_the_queue(client: TestClient[Any], db: Session) -> None:
    hazard_id = reported(client, db)
    sign_in(client, "dispatcher")
    assert assign(client, hazard_id, [user_id(db, "responder")]).status_code == 303
    task = open_task(db, hazard_id)
    sign_in(client, "responder")
    empty = post_form(client, f"/tasks/{task.id}/decline", {"reason": "  "})
    assert empty.status_code == 422
    assert open_task(db, hazard_id).state == "offered"
    assert post_form(client, f"/tasks/{task.id}/decline", {"reason": "不在辖区"}).status_code == 303
    assert (open_task(db, hazard_id).state, state(db, hazard_id)) == ("declined", "reported")
    [(to, _)] = notified(db, "task.declined")
    assert to == user_id(db, "dispatcher")
    offer = db.execute(select(TaskOffer).where(TaskOffer.task_id == task.id)).scalar_one()
    assert offer.decline_reason == "不在辖区"


def test_bad_assignments_change_nothing_and_notify_nobody(
    client: TestClient[Any], db: Session
) -> None:
    hazard_id = reported(client, db)
    sign_in(client, "dispatcher")
    responder = user_id(db, "responder")
    past = assign(client, hazard_id, [responder], accept_by=deadline(-1))
    assert past.status_code == 422
    assert "loop.deadlines" in past.text
    outsider = assign(client, hazard_id, [user_id(db, "inspector2")])
    assert outsider.status_code == 422
    assert "loop.not_assignable" in outsider.text
    nobody = assign(client, hazard_id, [])
    assert nobody.status_code == 422
    assert state(db, hazard_id) == "reported"
    assert db.execute(select(func.count()).select_from(Task)).scalar_one() == 0
    assert notified(db, "task.offered") == []
    # A responder may not dispatch at all; an inspector elsewhere does not even find it.
    sign_in(client, "responder")
    assert assign(client, hazard_id, [responder]).status_code == 403
    assert client.get("/dispatch").status_code == 403
    sign_in(client, "inspector2")
    assert assign(client, hazard_id, [responder]).status_code == 404


def test_the_phone_accepts_and_rectifies_offline_and_syncs_later(
    client: TestClient[Any], db: Session
) -> None:
    hazard_id = reported(client, db)
    sign_in(client, "dispatcher")
    people = [user_id(db, "responder"), user_id(db, "inspector")]
    assert assign(client, hazard_id, people).status_code == 303
    task = open_task(db, hazard_id)

    # The responder tapped Accept and rectified in a basement an hour ago; it arrives now.
    sign_in(client, "responder")
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    phone = str(uuid.uuid4())
    sha = "a" * 64
    body = push(
        client,
        phone,
        [
            {"id": 1, "name": "task.accept", "args": {"task_id": task.id}, "at": earlier},
            {
                "id": 2,
                "name": "hazard.rectify",
                "args": {
                    "id": str(uuid.uuid4()),
                    "hazard_id": hazard_id,
                    "note": "已整改",
                    "photos": [sha],
                },
                "at": earlier,
            },
            {"id": 3, "name": "hazard.verify", "args": {"hazard_id": hazard_id}, "at": earlier},
        ],
    )
    assert statuses(body) == {
        1: ("applied", ""),
        2: ("applied", ""),
        3: ("rejected", "loop.role"),  # a responder does not verify their own work
    }
    assert state(db, hazard_id) == "rectified"
    accepted = db.execute(
        select(Event).where(Event.entity_id == hazard_id, Event.action == "task.accepted")
    ).scalar_one()
    assert accepted.data["synced_later"] is True
    assert open_task(db, hazard_id).accepted_at < datetime.now(UTC) - timedelta(minutes=50)  # type: ignore[operator]

    # The inspector's phone, also late, tried to accept the same task: told who has it.
    sign_in(client, "inspector")
    late = push(
        client,
        str(uuid.uuid4()),
        [{"id": 1, "name": "task.accept", "args": {"task_id": task.id}, "at": earlier}],
    )
    [result] = late["results"]
    assert result["code"] == "task.taken"
    assert db.get(User, people[0]).display_name in result["message"]  # type: ignore[union-attr]
    sent_back = push(
        client,
        str(uuid.uuid4()),
        [
            {
                "id": 1,
                "name": "hazard.return",
                "args": {"hazard_id": hazard_id, "reason": "照片看不清"},
                "at": earlier,
            }
        ],
    )
    assert statuses(sent_back) == {1: ("applied", "")}
    assert state(db, hazard_id) == "rectifying"


def test_reassigning_withdraws_the_old_task(client: TestClient[Any], db: Session) -> None:
    hazard_id = reported(client, db)
    sign_in(client, "dispatcher")
    responder, inspector = user_id(db, "responder"), user_id(db, "inspector")
    assert assign(client, hazard_id, [responder]).status_code == 303
    first = open_task(db, hazard_id)
    assert assign(client, hazard_id, [inspector]).status_code == 303
    second = open_task(db, hazard_id)
    assert second.id != first.id
    db.expire_all()
    assert db.get(Task, first.id).state == "cancelled"  # type: ignore[union-attr]
    assert [to for to, _ in notified(db, "task.withdrawn")] == [responder]
    sign_in(client, "responder")
    late = post_form(client, f"/tasks/{first.id}/accept", {})
    assert late.status_code == 409
    assert 'data-error-code="task.withdrawn"' in late.text
    assert state(db, hazard_id) == "assigned"


def test_handed_to_the_enterprise_its_officer_rectifies(
    client: TestClient[Any], db: Session
) -> None:
    hazard_id = reported(client, db)
    sign_in(client, "dispatcher")
    response = assign(client, hazard_id, [], to_enterprise="1")
    assert response.status_code == 303, response.text
    task = open_task(db, hazard_id)
    officer = user_id(db, "enterprise")
    assert task.enterprise_id is not None
    assert [to for to, _ in notified(db, "task.offered")] == [officer]
    sign_in(client, "enterprise")
    assert f'data-task-id="{task.id}"' in client.get("/tasks").text
    assert post_form(client, f"/tasks/{task.id}/accept", {}).status_code == 303
    note = {"id": str(uuid.uuid4()), "note": "已清理消防通道并张贴警示"}
    assert post_form(client, f"/hazards/{hazard_id}/rectify", note).status_code == 303
    assert state(db, hazard_id) == "rectified"
    # Someone who neither holds the task nor belongs to the enterprise cannot rectify.
    sign_in(client, "responder")
    again = post_form(client, f"/hazards/{hazard_id}/rectify", {**note, "id": str(uuid.uuid4())})
    assert again.status_code == 409


def test_evidence_naming_a_photo_its_author_never_sent_shows_nothing(
    client: TestClient[Any], db: Session
) -> None:
    """Rectification evidence follows the photo rule (backend/offline/photos.py): a hash of bytes
    someone else uploaded opens nothing, and the card says "not uploaded yet" rather than showing
    a broken image, until the responder sends those bytes."""
    hazard_id = reported(client, db)
    sign_in(client, "dispatcher")
    assert assign(client, hazard_id, [user_id(db, "responder")]).status_code == 303
    elsewhere = jpeg((30, 30, 160))
    sha = hashlib.sha256(elsewhere).hexdigest()
    sign_in(client, "inspector2")  # another district; the photo is linked nowhere
    assert upload(client, elsewhere).status_code == 201

    sign_in(client, "responder")
    task = open_task(db, hazard_id)
    assert post_form(client, f"/tasks/{task.id}/accept", {}).status_code == 303
    rectify = {
        "id": 1,
        "name": "hazard.rectify",
        "args": {
            "id": str(uuid.uuid4()),
            "hazard_id": hazard_id,
            "note": "已整改",
            "photos": [sha],
        },
        "at": datetime.now(UTC).isoformat(),
    }
    assert statuses(push(client, str(uuid.uuid4()), [rectify])) == {1: ("applied", "")}
    assert client.get(f"/api/v1/photos/{sha}").status_code == 404
    sign_in(client, "dispatcher")
    assert client.get(f"/api/v1/photos/{sha}").status_code == 404
    card = client.get(f"/hazards/{hazard_id}").text
    assert f'data-photo-pending="{sha}"' in card
    assert f'data-photo="{sha}"' not in card

    sign_in(client, "responder")  # who has the bytes after all
    assert upload(client, elsewhere).status_code == 201
    sign_in(client, "dispatcher")
    assert client.get(f"/api/v1/photos/{sha}").status_code == 200
    assert f'data-photo="{sha}"' in client.get(f"/hazards/{hazard_id}").text
