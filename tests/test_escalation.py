"""Escalation against the database, with frozen time: street → district → city on deadlines,
acceptance stops the accept clock, an empty tier is skipped, a major hazard goes to the district
at once, whistles and approvals by hand, racing sweeps, and the sweep on a real worker."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from litestar.testing import TestClient
from sqlalchemy import func, select, update
from sqlmodel import Session

from backend.db import make_engine, make_session_factory
from backend.escalation.jobs import sweep_due
from backend.escalation.services import sweep
from backend.models import ApprovalRequest, Event, Hazard, Role, Unit, User, utcnow
from backend.models.push import Notification
from backend.settings import Settings
from backend.timezone import from_local_input, to_local_input, zone
from tests.conftest import post_form, sign_in
from tests.push.conftest import worker_on
from tests.services import REDIS_URL, require_postgres, require_redis
from tests.test_loop import assign, open_task, reported, user_id


def hazard(db: Session, hazard_id: str) -> Hazard:
    db.expire_all()
    row = db.get(Hazard, hazard_id)
    assert row is not None
    return row


def events(
    db: Session, hazard_id: str, prefix: str = "hazard."
) -> list[tuple[str, dict[str, Any]]]:
    db.expire_all()
    return [
        (e.action, e.data)
        for e in db.execute(
            select(Event)
            .where(Event.entity_id == hazard_id, Event.action.startswith(prefix))
            .order_by(Event.id)
        ).scalars()
    ]


def told(db: Session, kind: str) -> list[int]:
    db.expire_all()
    return list(
        db.execute(
            select(Notification.user_id).where(Notification.kind == kind).order_by(Notification.id)
        ).scalars()
    )


def run_sweep(db: Session, at: datetime) -> Any:
    with time_machine.travel(at, tick=False):
        result = sweep(db, utcnow())
        db.commit()
    return result


def test_not_accepted_climbs_street_district_city(client: TestClient[Any], db: Session) -> None:
    start = datetime.now(UTC)
    hazard_id = reported(client, db)
    sign_in(client, "dispatcher")
    assert assign(client, hazard_id, [user_id(db, "responder")]).status_code == 303
    accept_by = open_task(db, hazard_id).accept_by

    assert run_sweep(db, accept_by - timedelta(minutes=1)).touched == 0
    assert hazard(db, hazard_id).tier == "street"

    first = run_sweep(db, accept_by + timedelta(minutes=1))
    assert (first.escalated, hazard(db, hazard_id).tier) == (1, "district")
    [(_action, data)] = [e for e in events(db, hazard_id) if e[0] == "hazard.escalated"]
    assert (data["reason"], data["from_tier"], data["to_tier"]) == (
        "accept_overdue",
        "street",
        "district",
    )
    assert told(db, "hazard.escalated") == [user_id(db, "district")]
    # The notification says why in words, not the rule's code.
    body = db.execute(
        select(Notification.body).where(Notification.kind == "hazard.escalated")
    ).scalar_one()
    assert "超时未接收" in body
    assert "accept_overdue" not in body
    # Swept again at once: nothing is escalated twice.
    assert run_sweep(db, accept_by + timedelta(minutes=2)).touched == 0

    # The district gets a fresh accept window (2 h for a general hazard); then the city.
    second = run_sweep(db, accept_by + timedelta(hours=2, minutes=2))
    assert (second.escalated, hazard(db, hazard_id).tier) == (1, "city")
    assert told(db, "hazard.escalated") == [user_id(db, "district"), user_id(db, "city")]
    # At the top, the city is reminded instead of anything climbing further.
    third = run_sweep(db, accept_by + timedelta(hours=4, minutes=3))
    assert (third.escalated, third.renotified) == (0, 1)
    assert hazard(db, hazard_id).fired == ["accept:city", "accept:district"]
    assert start < hazard(db, hazard_id).escalated_at  # type: ignore[operator]

    # The dispatch queue of the street still lists it, marked with its tier.
    sign_in(client, "district")
    card = client.get(f"/hazards/{hazard_id}")
    assert 'data-tier="city"' in card.text
    assert "data-escalation-reason" in card.text


def test_accepting_in_time_stops_the_accept_clock(client: TestClient[Any], db: Session) -> None:
    hazard_id = reported(client, db)
    sign_in(client, "dispatcher")
    assert assign(client, hazard_id, [user_id(db, "responder")]).status_code == 303
    task = open_task(db, hazard_id)
    sign_in(client, "responder")
    assert post_form(client, f"/tasks/{task.id}/accept", {}).status_code == 303
    row = hazard(db, hazard_id)
    assert (row.due_kind, row.due_at) == ("rectify", task.rectify_by)
    assert run_sweep(db, task.accept_by + timedelta(hours=1)).touched == 0
    assert hazard(db, hazard_id).tier == "street"
    # Not rectified by its deadline: that clock climbs instead.
    late = run_sweep(db, task.rectify_by + timedelta(minutes=1))
    assert late.escalated == 1
    [data] = [d for a, d in events(db, hazard_id) if a == "hazard.escalated"]
    assert data["reason"] == "rectify_overdue"


def test_a_tier_with_nobody_on_duty_is_skipped(client: TestClient[Any], db: Session) -> None:
    hazard_id = reported(client, db)
    sign_in(client, "dispatcher")
    assert assign(client, hazard_id, [user_id(db, "responder")]).status_code == 303
    accept_by = open_task(db, hazard_id).accept_by
    # Qingshan district has nobody today: no roster entry covers the moment, no active officer.
    district_unit = db.execute(select(Unit.id).where(Unit.code == "420107")).scalar_one()
    db.execute(
        update(User)
        .where(User.unit_id == district_unit, User.role == Role.DISTRICT_OFFICER.value)
        .values(active=False)
    )
    db.commit()
    from backend.models import DutyShift

    db.execute(DutyShift.__table__.delete().where(DutyShift.unit_id == district_unit))  # type: ignore[attr-defined]
    db.commit()
    result = run_sweep(db, accept_by + timedelta(minutes=1))
    assert (result.escalated, result.skipped_tiers) == (1, 1)
    assert hazard(db, hazard_id).tier == "city"
    actions = [(a, d.get("tier") or d.get("to_tier")) for a, d in events(db, hazard_id)]
    assert ("hazard.tier_skipped", "district") in actions
    assert ("hazard.escalated", "city") in actions


def test_a_major_hazard_goes_to_the_district_at_once(client: TestClient[Any], db: Session) -> None:
    hazard_id = reported(client, db, severity="major")
    row = hazard(db, hazard_id)
    assert (row.supervised, row.tier) == (True, "street")
    result = run_sweep(db, datetime.now(UTC) + timedelta(seconds=5))
    assert result.supervised == 1
    assert told(db, "hazard.supervised") == [user_id(db, "district")]
    row = hazard(db, hazard_id)
    # It stays with the street; its accept clock (30 minutes for a major hazard) runs on.
    assert row.tier == "street"
    assert row.due_kind == "accept"
    assert row.due_at == row.reported_at + timedelta(minutes=30)
    assert run_sweep(db, datetime.now(UTC) + timedelta(minutes=1)).touched == 0
    assert told(db, "hazard.supervised") == [user_id(db, "district")]


def test_the_street_blows_the_whistle(client: TestClient[Any], db: Session) -> None:
    hazard_id = reported(client, db)
    sign_in(client, "responder")
    assert post_form(client, f"/hazards/{hazard_id}/whistle", {"reason": "x"}).status_code == 403
    sign_in(client, "dispatcher")
    empty = post_form(client, f"/hazards/{hazard_id}/whistle", {"reason": " "})
    assert empty.status_code == 422
    assert hazard(db, hazard_id).tier == "street"
    blown = post_form(
        client, f"/hazards/{hazard_id}/whistle", {"reason": "涉及多个部门，街道无法协调"}
    )
    assert blown.status_code == 303
    assert hazard(db, hazard_id).tier == "district"
    assert told(db, "hazard.whistled") == [user_id(db, "district")]
    again = post_form(client, f"/hazards/{hazard_id}/whistle", {"reason": "再吹"})
    assert again.status_code == 409
    # The district hands it back down with instructions; the street is told.
    sign_in(client, "district")
    down = post_form(
        client, f"/hazards/{hazard_id}/hand-down", {"instructions": "联系消防大队协同"}
    )
    assert down.status_code == 303
    assert hazard(db, hazard_id).tier == "street"
    assert told(db, "hazard.handed_down") == [user_id(db, "dispatcher")]


def test_more_time_needs_the_tier_above(client: TestClient[Any], db: Session) -> None:
    hazard_id = reported(client, db)
    sign_in(client, "dispatcher")
    assert assign(client, hazard_id, [user_id(db, "responder")]).status_code == 303
    task = open_task(db, hazard_id)
    sign_in(client, "responder")
    post_form(client, f"/tasks/{task.id}/accept", {})
    until = to_local_input(task.rectify_by + timedelta(days=10), zone())
    earlier = to_local_input(task.rectify_by - timedelta(days=1), zone())
    bad = post_form(
        client,
        f"/hazards/{hazard_id}/approvals",
        {"kind": "extend", "until": earlier, "reason": "需采购设备"},
    )
    assert bad.status_code == 422
    asked = post_form(
        client,
        f"/hazards/{hazard_id}/approvals",
        {"kind": "extend", "until": until, "reason": "需采购设备"},
    )
    assert asked.status_code == 303
    request = db.execute(select(ApprovalRequest)).scalar_one()
    assert (request.state, request.unit_path.count("/")) == ("pending", 3)  # the district decides
    assert told(db, "approval.requested") == [user_id(db, "district")]

    sign_in(client, "dispatcher")
    assert (
        post_form(
            client, f"/hazards/{hazard_id}/approvals/{request.id}", {"decision": "approve"}
        ).status_code
        == 403
    )
    sign_in(client, "district")
    no_note = post_form(
        client, f"/hazards/{hazard_id}/approvals/{request.id}", {"decision": "refuse"}
    )
    assert no_note.status_code == 422
    yes = post_form(
        client,
        f"/hazards/{hazard_id}/approvals/{request.id}",
        {"decision": "approve", "note": "同意"},
    )
    assert yes.status_code == 303
    row = hazard(db, hazard_id)
    new_deadline = from_local_input(until, zone())
    assert (row.rectify_by, row.due_at) == (new_deadline, new_deadline)
    assert open_task(db, hazard_id).rectify_by == new_deadline
    assert [a for a, _ in events(db, hazard_id, "approval.")] == [
        "approval.extend_requested",
        "approval.extend_approved",
    ]
    assert told(db, "approval.approved") == [user_id(db, "responder")]


def test_two_sweeps_racing_escalate_once(
    client: TestClient[Any], db: Session, settings: Settings
) -> None:
    if settings.resolved_database_url.startswith("postgresql"):
        require_postgres()
    ids = [reported(client, db) for _ in range(12)]
    past = datetime.now(UTC) - timedelta(minutes=1)
    db.execute(update(Hazard).where(Hazard.id.in_(ids)).values(due_at=past))
    db.commit()
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    start = threading.Barrier(2)
    results: list[int] = []

    def one() -> None:
        with factory() as session:
            start.wait()
            result = sweep(session, datetime.now(UTC))
            session.commit()
            results.append(result.escalated)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    engine.dispose()
    assert sum(results) == 12
    escalated = db.execute(
        select(func.count()).select_from(Event).where(Event.action == "hazard.escalated")
    ).scalar_one()
    assert escalated == 12
    assert len(told(db, "hazard.escalated")) == 12


@pytest.mark.redis
def test_the_sweep_runs_on_a_real_worker(
    client: TestClient[Any], db: Session, settings: Settings
) -> None:
    require_redis()
    hazard_id = reported(client, db)
    overdue = datetime.now(UTC) - timedelta(seconds=1)
    db.execute(update(Hazard).where(Hazard.id == hazard_id).values(due_at=overdue))
    db.commit()
    with worker_on(settings, REDIS_URL):
        sweep_due.delay()
        deadline = time.monotonic() + 30
        while hazard(db, hazard_id).tier != "district" and time.monotonic() < deadline:
            time.sleep(0.2)
    assert hazard(db, hazard_id).tier == "district"
    assert told(db, "hazard.escalated") == [user_id(db, "district")]


def test_returning_a_report_needs_the_district(client: TestClient[Any], db: Session) -> None:
    hazard_id = reported(client, db)
    sign_in(client, "dispatcher")
    asked = post_form(client, f"/hazards/{hazard_id}/dismiss", {"reason": "重复上报"})
    assert asked.status_code == 303
    assert hazard(db, hazard_id).state == "reported"
    request = db.execute(select(ApprovalRequest)).scalar_one()
    assert (request.kind, request.state) == ("return", "pending")
    assert told(db, "approval.requested") == [user_id(db, "district")]

    sign_in(client, "district")
    approved = post_form(
        client, f"/hazards/{hazard_id}/approvals/{request.id}", {"decision": "approve"}
    )
    assert approved.status_code == 303
    assert hazard(db, hazard_id).state == "returned"
    assert hazard(db, hazard_id).due_at is None
    assert told(db, "hazard.dismissed") == [user_id(db, "inspector")]
    actions = [a for a, _ in events(db, hazard_id, "")]
    assert actions[-3:] == [
        "approval.return_requested",
        "hazard.dismissed",
        "approval.return_approved",
    ]

    # The district returns one directly: it is the tier above.
    other = reported(client, db)
    sign_in(client, "district")
    assert (
        post_form(client, f"/hazards/{other}/dismiss", {"reason": "不属于安全隐患"}).status_code
        == 303
    )
    assert hazard(db, other).state == "returned"
