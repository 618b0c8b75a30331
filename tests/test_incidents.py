"""Incidents against the database (SQLite and PostgreSQL): a report proposes the plan, the radius,
the targets inside it and the people; confirmation sends every task exactly once (twice pressed,
two commanders at once, the broker down); responders answer in the loop's inbox, and the others
offered a task hear once who took it; the board; the escalation of an incident task nobody
accepts; who may see and do what."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from litestar.testing import TestClient
from sqlalchemy import func, select, update
from sqlmodel import Session

from backend.db import make_engine, make_session_factory
from backend.escalation.services import sweep
from backend.incidents import services
from backend.models import (
    Delivery,
    Incident,
    IncidentTask,
    Notification,
    Task,
    TaskOffer,
    Unit,
    User,
    utcnow,
)
from backend.settings import Settings
from backend.timezone import format_local, zone
from tests.conftest import csrf_token, post_form, sign_in
from tests.push.conftest import (  # noqa: F401  (push_settings, receiver: fixtures)
    beat_on,
    free_port,
    push_settings,
    receiver,
    subscribe,
    with_changes,
    worker_on,
)
from tests.push.receiver import Receiver
from tests.services import REDIS_URL, require_postgres, require_redis
from tests.sync.conftest import push, statuses
from tests.test_loop import user_id

# Beside 红卫路 in Qingshan: the kindergarten (~20 m), 武汉市第九医院 (~550 m) and 武钢三中
# (~760 m) lie inside the 800 m of a scale-1 chemical leak; 华润武钢总医院 (~960 m) does not.
SPOT = {"latitude": "30.6330", "longitude": "114.3790"}
INSIDE = {"青山区红卫路幼儿园", "武汉市第九医院", "武钢三中"}


def street_id(db: Session, code: str = "420107001") -> int:
    return int(db.execute(select(Unit.id).where(Unit.code == code)).scalar_one())


def report(client: TestClient[Any], db: Session, kind: str = "chemical_leak", **extra: str) -> Any:
    data = {
        "incident_type": kind,
        "unit_id": str(street_id(db)),
        "scale": "1",
        "description": "储罐阀门泄漏",
        **SPOT,
        **extra,
    }
    return post_form(client, "/incidents", data)


def reported(client: TestClient[Any], db: Session, username: str = "district") -> Incident:
    sign_in(client, username)
    response = report(client, db)
    assert response.status_code == 303, response.text
    incident_id = response.headers["location"].rsplit("/", 1)[1]
    db.expire_all()
    found = db.get(Incident, incident_id)
    assert found is not None
    return found


def drafts(db: Session, incident_id: str) -> list[IncidentTask]:
    db.expire_all()
    return list(
        db.execute(
            select(IncidentTask)
            .where(IncidentTask.incident_id == incident_id)
            .order_by(IncidentTask.sort)
        ).scalars()
    )


def tasks_of(db: Session, incident_id: str) -> list[Task]:
    db.expire_all()
    return list(db.execute(select(Task).where(Task.incident_id == incident_id)).scalars())


def told(db: Session, kind: str = "incident.task") -> list[tuple[int, str | None]]:
    db.expire_all()
    return sorted(
        (int(n.user_id), n.task_id)
        for n in db.execute(select(Notification).where(Notification.kind == kind)).scalars()
    )


def test_a_report_proposes_plan_radius_targets_and_people(
    client: TestClient[Any], db: Session
) -> None:
    incident = reported(client, db)
    assert (incident.state, incident.radius_m) == ("draft", 800)
    page = client.get(f"/incidents/{incident.id}")
    assert page.status_code == 200
    assert "危化品泄漏事故处置预案" in page.text
    assert all(name in page.text for name in INSIDE)
    assert "华润武钢总医院" not in page.text
    people = {d.role_title: d.people for d in drafts(db, incident.id)}
    # The roster's people at the district and street, the street's responder and the inspectors
    # of its grids; nobody from another street or district.
    assert people == {
        "区级现场指挥": [user_id(db, "district")],
        "街道现场指挥": [user_id(db, "dispatcher")],
        "街道应急处置队": [user_id(db, "responder")],
        "网格员疏散引导": [user_id(db, "inspector")],
    }
    assert user_id(db, "inspector2") not in {p for ps in people.values() for p in ps}
    assert tasks_of(db, incident.id) == []  # nothing sent before confirmation
    assert told(db) == []


def test_no_plan_for_the_type_still_gives_a_radius(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "district")
    db.execute(Incident.__table__.delete())  # type: ignore[attr-defined]
    from backend.models import Plan

    db.execute(Plan.__table__.update().values(active=False))  # type: ignore[attr-defined]
    db.commit()
    response = report(client, db, scale="3")
    assert response.status_code == 303
    incident = db.execute(select(Incident)).scalar_one()
    assert (incident.plan_id, incident.radius_m) == (None, 1500)
    assert "data-no-plan" in client.get(f"/incidents/{incident.id}").text


def test_confirming_twice_sends_every_task_once(client: TestClient[Any], db: Session) -> None:
    incident = reported(client, db)
    for _ in range(2):
        response = post_form(client, f"/incidents/{incident.id}/confirm", {})
        assert response.status_code == 303
        assert response.headers["location"] == f"/incidents/{incident.id}"
    tasks = tasks_of(db, incident.id)
    assert len(tasks) == 4
    assert {t.state for t in tasks} == {"offered"}
    assert all(t.hazard_id is None for t in tasks)
    expected = sorted((p, d.id) for d in drafts(db, incident.id) for p in d.people)
    assert told(db) == expected
    offers = db.execute(select(func.count()).select_from(TaskOffer)).scalar_one()
    assert offers >= len(expected)
    # Every notification has its second-channel delivery waiting in the outbox.
    second = db.execute(
        select(func.count())
        .select_from(Delivery)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Notification.kind == "incident.task", Delivery.channel == "second")
    ).scalar_one()
    assert second == len(expected)
    # The deadline in the push is the phone's wall-clock time (Asia/Shanghai), not UTC.
    accept_by = {t.id: t.accept_by for t in tasks}
    for note in db.execute(
        select(Notification).where(Notification.kind == "incident.task")
    ).scalars():
        local = format_local(accept_by[note.task_id], zone("Asia/Shanghai"), "%m-%d %H:%M")
        assert local in note.body, note.body
        assert "UTC" not in note.body
    db.expire_all()
    assert db.get(Incident, incident.id).state == "confirmed"  # type: ignore[union-attr]


def test_two_commanders_confirming_at_once_send_once(
    client: TestClient[Any], db: Session, settings: Settings
) -> None:
    if settings.resolved_database_url.startswith("postgresql"):
        require_postgres()
    incident = reported(client, db)
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine, settings)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def one(username: str) -> None:
        try:
            with factory() as session:
                principal = principal_for(session, username)
                start.wait()
                services.confirm(session, principal, incident.id, utcnow())
                session.commit()
        except BaseException as error:  # reported below, not swallowed
            errors.append(error)

    threads = [threading.Thread(target=one, args=(name,)) for name in ("district", "city")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    engine.dispose()
    assert errors == []
    assert len(tasks_of(db, incident.id)) == 4
    assert len(told(db)) == 4


def test_responder_accepts_from_the_inbox_checks_a_target_and_finishes(
    client: TestClient[Any], db: Session
) -> None:
    incident = reported(client, db)
    assert post_form(client, f"/incidents/{incident.id}/confirm", {}).status_code == 303
    team = next(d for d in drafts(db, incident.id) if d.role_title == "街道应急处置队")

    sign_in(client, "responder")
    inbox = client.get("/tasks")
    assert f'data-task-id="{team.id}"' in inbox.text
    assert "data-incident-task" in inbox.text
    card = client.get(f"/tasks/{team.id}")
    assert card.status_code == 200
    assert "核查半径内学校和医院" in card.text
    assert post_form(client, f"/tasks/{team.id}/accept", {}).status_code == 303
    # A second press (the notification's button after the page's): nothing more.
    assert post_form(client, f"/tasks/{team.id}/accept", {}).status_code == 303
    db.expire_all()
    task = db.get(Task, team.id)
    assert task is not None
    assert (task.state, task.accepted_by) == (
        "accepted",
        user_id(db, "responder"),
    )
    # Accepted: the accept clock stopped, the completion clock runs.
    assert drafts(db, incident.id)[2].due_at == task.rectify_by

    board = client.get(f"/incidents/{incident.id}")
    target = next(t for t in services_targets(db, incident) if t.name == "武汉市第九医院")
    assert (
        post_form(client, f"/incidents/{incident.id}/targets/{target.id}/check", {}).status_code
        == 303
    )
    # A target outside the radius cannot be checked for this incident.
    far = next(t for t in all_targets(db) if t.name == "华润武钢总医院")
    refused = post_form(client, f"/incidents/{incident.id}/targets/{far.id}/check", {})
    assert refused.status_code == 422

    assert post_form(client, f"/incident-tasks/{team.id}/done", {"note": ""}).status_code == 422
    assert (
        post_form(client, f"/incident-tasks/{team.id}/done", {"note": "三所已通知"}).status_code
        == 303
    )
    sign_in(client, "district")
    board = client.get(f"/incidents/{incident.id}", headers={"HX-Request": "true"})
    assert board.status_code == 200
    assert "<html" not in board.text  # the polled block only
    assert f'data-task-id="{team.id}" data-task-state="done"' in board.text
    assert 'data-person-status="done"' in board.text
    assert "三所已通知" in board.text
    assert f'data-target-id="{target.id}" data-checked="yes"' in board.text
    assert board.text.count('data-checked="no"') == len(INSIDE) - 1


def test_the_others_offered_hear_once_who_took_the_task_in_their_language(
    client: TestClient[Any], db: Session
) -> None:
    incident = reported(client, db)
    team = next(d for d in drafts(db, incident.id) if d.role_title == "街道应急处置队")
    names = ("responder", "inspector", "dispatcher", "district")
    people = {name: user_id(db, name) for name in names}
    edit = client.post(
        f"/incidents/{incident.id}/tasks/{team.id}",
        data={"people": [str(p) for p in people.values()], "_csrf_token": csrf_token(client)},
        follow_redirects=False,
    )
    assert edit.status_code == 303
    db.execute(update(User).where(User.id == people["inspector"]).values(locale="en"))
    db.commit()
    assert post_form(client, f"/incidents/{incident.id}/confirm", {}).status_code == 303
    sign_in(client, "dispatcher")
    reason = {"reason": "正在处置另一起事件"}
    assert post_form(client, f"/tasks/{team.id}/decline", reason).status_code == 303

    # Accepted from the notification (the phone's outbox), then pressed again on the page.
    sign_in(client, "responder")
    body = push(
        client,
        str(uuid.uuid4()),
        [
            {
                "id": 1,
                "name": "task.accept",
                "args": {"task_id": team.id},
                "at": utcnow().isoformat(),
            }
        ],
    )
    assert statuses(body) == {1: ("applied", "")}
    assert post_form(client, f"/tasks/{team.id}/accept", {}).status_code == 303

    # One each for those still offered; none for the one who took it or the one who declined.
    assert told(db, "incident.taken") == sorted(
        [(people["inspector"], team.id), (people["district"], team.id)]
    )
    taken = {
        n.user_id: n
        for n in db.execute(select(Notification).where(Notification.kind == "incident.taken"))
        .scalars()
        .all()
    }
    holder = db.get(User, people["responder"]).display_name  # type: ignore[union-attr]
    english, chinese = taken[people["inspector"]], taken[people["district"]]
    assert english.title == f"Hazardous-chemical leak task taken: {team.title}"
    assert english.body == f"“{team.title}” was accepted by {holder}; nothing to do."
    assert chinese.title == f"危化品泄漏任务已被接收：{team.title}"
    assert chinese.body == f"任务“{team.title}”已由{holder}接收，无需处理。"
    assert english.url == f"/tasks/{team.id}"
    # Each waits in the push outbox for delivery like any other notification.
    second = db.execute(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.notification_id.in_([english.id, chinese.id]), Delivery.channel == "second")
    ).scalar_one()
    assert second == 2


def test_two_people_checking_one_target_at_once_keep_the_first(
    client: TestClient[Any], db: Session, settings: Settings
) -> None:
    if settings.resolved_database_url.startswith("postgresql"):
        require_postgres()
    from backend.incidents.responder import check_target
    from backend.models import Event, TargetCheck
    from backend.offline import changes
    from backend.tasks.services import Origin

    incident = reported(client, db)
    assert post_form(client, f"/incidents/{incident.id}/confirm", {}).status_code == 303
    target = next(t for t in services_targets(db, incident) if t.name == "武汉市第九医院")
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine, settings)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def one(username: str) -> None:
        try:
            with factory() as session:
                principal = principal_for(session, username)
                start.wait()
                writes = check_target(
                    session, principal, incident.id, target.id, username, Origin(utcnow())
                )
                changes.store(session, writes)
                session.commit()
        except BaseException as error:  # reported below, not swallowed
            errors.append(error)

    threads = [threading.Thread(target=one, args=(name,)) for name in ("district", "city")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    engine.dispose()
    assert errors == []
    db.expire_all()
    checks = list(db.execute(select(TargetCheck)).scalars())
    assert [(c.incident_id, c.target_id) for c in checks] == [(incident.id, target.id)]
    events = db.execute(
        select(func.count()).where(
            Event.action == "incident.target_checked", Event.entity_id == incident.id
        )
    ).scalar_one()
    assert events == 1


def principal_for(session: Session, username: str) -> Any:
    from backend.auth.services import principal_of
    from backend.models import User

    user = session.execute(select(User).where(User.username == username)).scalar_one()
    unit = session.get(Unit, user.unit_id)
    assert unit is not None
    return principal_of(user, unit.path, unit.name)


def services_targets(db: Session, incident: Incident) -> list[Any]:
    from backend.incidents.queries import targets_of

    return [target for target, _ in targets_of(db, incident)]


def all_targets(db: Session) -> list[Any]:
    from backend.models import ProtectionTarget

    return list(db.execute(select(ProtectionTarget)).scalars())


def test_the_phone_declines_and_finishes_offline(client: TestClient[Any], db: Session) -> None:
    incident = reported(client, db)
    assert post_form(client, f"/incidents/{incident.id}/confirm", {}).status_code == 303
    by_title = {d.role_title: d.id for d in drafts(db, incident.id)}
    sign_in(client, "inspector")
    phone = str(uuid.uuid4())
    at = utcnow().isoformat()
    body = push(
        client,
        phone,
        [
            {
                "id": 1,
                "name": "task.accept",
                "args": {"task_id": by_title["网格员疏散引导"]},
                "at": at,
            },
            {
                "id": 2,
                "name": "incident.task_done",
                "args": {"task_id": by_title["网格员疏散引导"], "note": "已疏散"},
                "at": at,
            },
            # Not offered to the inspector: refused, and it blocks nothing.
            {
                "id": 3,
                "name": "task.accept",
                "args": {"task_id": by_title["街道应急处置队"]},
                "at": at,
            },
        ],
    )
    assert statuses(body) == {
        1: ("applied", ""),
        2: ("applied", ""),
        3: ("rejected", "loop.not_offered"),
    }
    db.expire_all()
    assert db.get(Task, by_title["网格员疏散引导"]).state == "done"  # type: ignore[union-attr]
    # Everyone declining tells the commander who confirmed.
    sign_in(client, "responder")
    reason = {"reason": "正在处置另一起事件"}
    assert (
        post_form(client, f"/tasks/{by_title['街道应急处置队']}/decline", reason).status_code == 303
    )
    assert told(db, "incident.declined") == [(user_id(db, "district"), None)]


def test_a_task_nobody_accepts_climbs_to_the_district_then_the_city(
    client: TestClient[Any], db: Session
) -> None:
    incident = reported(client, db)
    assert post_form(client, f"/incidents/{incident.id}/confirm", {}).status_code == 303
    team = next(d for d in drafts(db, incident.id) if d.role_title == "街道应急处置队")
    first_due = min(t.accept_by for t in tasks_of(db, incident.id))
    accept_by = max(t.accept_by for t in tasks_of(db, incident.id))
    with time_machine.travel(first_due - timedelta(minutes=1), tick=False):
        assert sweep(db, utcnow()).escalated == 0
        db.commit()
    with time_machine.travel(accept_by + timedelta(minutes=1), tick=False):
        first = sweep(db, utcnow())
        db.commit()
    assert first.escalated == 4  # none of the four was accepted
    assert {d.tier for d in drafts(db, incident.id)} == {"district"}
    assert (user_id(db, "district"), None) in told(db, "incident.escalated")
    # Accepted meanwhile: that one stops climbing; the others reach the city (major policy: 30 min).
    sign_in(client, "responder")
    assert post_form(client, f"/tasks/{team.id}/accept", {}).status_code == 303
    with time_machine.travel(accept_by + timedelta(minutes=40), tick=False):
        second = sweep(db, utcnow())
        db.commit()
    assert second.escalated == 3
    tiers = {d.id: d.tier for d in drafts(db, incident.id)}
    assert tiers.pop(team.id) == "district"
    assert set(tiers.values()) == {"city"}
    assert (user_id(db, "city"), None) in told(db, "incident.escalated")


def test_an_accepted_task_not_done_in_time_climbs_and_a_done_one_stops(
    client: TestClient[Any], db: Session
) -> None:
    incident = reported(client, db)
    assert post_form(client, f"/incidents/{incident.id}/confirm", {}).status_code == 303
    team = next(d for d in drafts(db, incident.id) if d.role_title == "街道应急处置队")
    sign_in(client, "responder")
    assert post_form(client, f"/tasks/{team.id}/accept", {}).status_code == 303
    task = db.get(Task, team.id)
    assert task is not None
    done_by = task.rectify_by
    db.expire_all()
    assert next(d for d in drafts(db, incident.id) if d.id == team.id).due_at == done_by

    def climbed() -> list[str]:
        db.expire_all()
        return [d.tier for d in drafts(db, incident.id) if d.id == team.id]

    with time_machine.travel(done_by - timedelta(minutes=1), tick=False):
        sweep(db, utcnow())
        db.commit()
    assert climbed() == ["street"]
    with time_machine.travel(done_by + timedelta(minutes=1), tick=False):
        sweep(db, utcnow())
        db.commit()
    assert climbed() == ["district"]
    assert (user_id(db, "district"), None) in told(db, "incident.escalated_unfinished")
    # Done: its clock stops, nothing climbs any more.
    assert (
        post_form(client, f"/incident-tasks/{team.id}/done", {"note": "警戒已撤除"}).status_code
        == 303
    )
    with time_machine.travel(done_by + timedelta(hours=5), tick=False):
        sweep(db, utcnow())
        db.commit()
    assert climbed() == ["district"]
    db.expire_all()
    assert next(d for d in drafts(db, incident.id) if d.id == team.id).due_at is None


def test_who_may_see_and_do_what(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "responder")
    assert report(client, db).status_code == 403
    incident = reported(client, db)
    # Bad input changes nothing.
    before = db.execute(select(func.count()).select_from(Incident)).scalar_one()
    assert report(client, db, latitude="north").status_code == 422
    assert report(client, db, incident_type="flood").status_code == 422
    other = str(street_id(db, "420102001"))  # 江岸区: outside the Qingshan officer's area
    assert report(client, db, unit_id=other).status_code == 422
    assert db.execute(select(func.count()).select_from(Incident)).scalar_one() == before
    # Someone else's district sees nothing of it; nor does an enterprise.
    for username in ("inspector2", "enterprise"):
        sign_in(client, username)
        assert client.get(f"/incidents/{incident.id}").status_code in (403, 404)
        assert post_form(client, f"/incidents/{incident.id}/confirm", {}).status_code in (403, 404)
    # A responder of the street may look, but not confirm or edit the draft.
    sign_in(client, "responder")
    assert client.get(f"/incidents/{incident.id}").status_code == 200
    assert post_form(client, f"/incidents/{incident.id}/confirm", {}).status_code == 403
    assert tasks_of(db, incident.id) == []
    # The commander may not give a task to someone outside the incident's area.
    sign_in(client, "district")
    draft = drafts(db, incident.id)[0]
    outsider = {"people": str(user_id(db, "inspector2")), "instructions": "x"}
    assert (
        post_form(client, f"/incidents/{incident.id}/tasks/{draft.id}", outsider).status_code == 422
    )
    assert drafts(db, incident.id)[0].people == draft.people
    # Dropping a task and editing another are kept; the dropped one is never sent.
    drop = {"people": str(draft.people[0]), "dropped": "1", "instructions": ""}
    assert post_form(client, f"/incidents/{incident.id}/tasks/{draft.id}", drop).status_code == 303
    assert post_form(client, f"/incidents/{incident.id}/confirm", {}).status_code == 303
    assert len(tasks_of(db, incident.id)) == 3
    assert draft.id not in {t.id for t in tasks_of(db, incident.id)}
    # Confirmed: the draft can no longer be changed.
    again = post_form(client, f"/incidents/{incident.id}/tasks/{draft.id}", drop)
    assert again.status_code == 409


@pytest.mark.redis
def test_with_the_broker_down_at_confirmation_the_tasks_arrive_later(
    client: TestClient[Any],
    db: Session,
    push_settings: Settings,  # noqa: F811  (the fixture imported above)
    receiver: Receiver,  # noqa: F811
) -> None:
    require_redis()
    phone = receiver.device()
    subscribe(db, "responder", phone)
    down = with_changes(push_settings, broker_url=f"redis://127.0.0.1:{free_port()}/0")
    from backend.app import create_app

    with TestClient(create_app(down), base_url="http://testserver.local") as offline_client:
        incident = reported(offline_client, db)
        response = post_form(offline_client, f"/incidents/{incident.id}/confirm", {})
        assert response.status_code == 303
    assert len(tasks_of(db, incident.id)) == 4
    pending = db.execute(
        select(Delivery.state).join(Notification).where(Notification.kind == "incident.task")
    ).scalars()
    assert set(pending) == {"pending"}
    with worker_on(push_settings, REDIS_URL), beat_on(push_settings):
        receiver.wait_for(1, timeout=30)
        time.sleep(2)
    assert receiver.errors == []
    assert [p.token for p in receiver.pushes] == [phone.token]
    payload = receiver.pushes[0].payload
    team = next(d for d in drafts(db, incident.id) if d.role_title == "街道应急处置队")
    assert payload["url"] == f"/tasks/{team.id}"


def test_the_task_card_links_the_board_only_for_those_who_may_open_it(
    client: TestClient[Any], db: Session
) -> None:
    """A grid inspector offered a street incident's task sees the task, but the board is for
    the incident's area: no link that would answer 'not found' (the crawl's broken link)."""
    incident = reported(client, db)
    assert post_form(client, f"/incidents/{incident.id}/confirm", {}).status_code == 303
    board_link = f'href="/incidents/{incident.id}"'
    inspector = user_id(db, "inspector")
    offered = [d for d in drafts(db, incident.id) if inspector in d.people]
    assert offered, "no task of the incident is offered to the grid's inspector"
    sign_in(client, "inspector")
    card = client.get(f"/tasks/{offered[0].id}")
    assert card.status_code == 200
    assert board_link not in card.text
    assert client.get(f"/incidents/{incident.id}").status_code == 404

    sign_in(client, "responder")
    team = next(d for d in drafts(db, incident.id) if d.role_title == "街道应急处置队")
    assert board_link in client.get(f"/tasks/{team.id}").text
    assert client.get(f"/incidents/{incident.id}").status_code == 200
