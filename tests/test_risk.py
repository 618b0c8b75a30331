"""Risk profiles follow events, on SQLite and PostgreSQL: a major hazard reported (page or sync)
turns its enterprise red as soon as the worker's job has run (`rescored`: the job body, run here
the way the worker runs it; the real worker is tests/test_risk_jobs.py) and tells the street and
district; closing it brings the colour
back down; the history says which factors moved it; the phones get the new colour."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import delete, select
from sqlmodel import Session

from backend.models import (
    Change,
    Delivery,
    Enterprise,
    Event,
    Hazard,
    RiskProfile,
    Unit,
    User,
    utcnow,
)
from backend.models.push import Notification
from backend.risk.jobs import Rescored, refresh_pending
from backend.risk.scoring import COLOURS
from backend.risk.services import recompute_all, refresh
from tests.conftest import enterprise_in, post_form, sign_in
from tests.sync.conftest import push, report, statuses, walk
from tests.test_loop import assign, open_task, reported, state, user_id


def rescored(db: Session) -> Rescored:
    """What the worker does once the request committed: rescore what it marked."""
    db.expire_all()
    done = refresh_pending(db)
    db.expire_all()
    return done


def profile(db: Session, enterprise_id: int) -> RiskProfile:
    db.expire_all()
    found = db.get(RiskProfile, enterprise_id)
    assert found is not None
    return found


def colour_events(db: Session, enterprise_id: int) -> list[dict[str, Any]]:
    return [
        event.data
        for event in db.execute(
            select(Event)
            .where(
                Event.action == "risk.colour_changed",
                Event.entity_type == "enterprise",
                Event.entity_id == str(enterprise_id),
            )
            .order_by(Event.id)
        ).scalars()
    ]


def red_alerts(db: Session, enterprise_id: int) -> list[Notification]:
    db.expire_all()
    return list(
        db.execute(
            select(Notification)
            .where(Notification.kind == "risk.red")
            .where(Notification.url == f"/enterprises/{enterprise_id}/risk")
        ).scalars()
    )


def levels_of(db: Session, user_ids: list[int]) -> set[str]:
    return set(
        db.execute(
            select(Unit.level).join(User, User.unit_id == Unit.id).where(User.id.in_(user_ids))
        ).scalars()
    )


def test_a_major_hazard_reported_on_the_page_turns_red_and_closing_it_brings_it_down(
    client: TestClient[Any], db: Session
) -> None:
    enterprise = enterprise_in(db, "420107001001")
    assert enterprise.id is not None
    was = profile(db, enterprise.id)
    before = (was.colour, was.score)
    assert was.colour != "red"
    hazard_id = reported(client, db, severity="major")
    # The request only marked the enterprise; the worker rescores it.
    assert profile(db, enterprise.id).colour == before[0]
    assert rescored(db).enterprises == 1
    now_red = profile(db, enterprise.id)
    assert now_red.colour == "red"
    assert any(f["factor"] == "open_major_hazards" for f in now_red.factors)
    [change] = colour_events(db, enterprise.id)
    assert (change["from"], change["to"]) == (before[0], "red")
    assert [r["factor"] for r in change["reasons"]] == ["open_major_hazards"]
    # The street and the district are told, through the outbox (a delivery per notification).
    alerts = red_alerts(db, enterprise.id)
    people = [alert.user_id for alert in alerts]
    assert {"street", "district"} <= levels_of(db, people)
    assert all("红色" in alert.title for alert in alerts)
    deliveries = db.execute(
        select(Delivery).where(Delivery.notification_id.in_([a.id for a in alerts]))
    ).scalars()
    assert len(list(deliveries)) >= len(alerts)
    # The phones get the new colour in the enterprise's change-log row.
    latest = (
        db.execute(
            select(Change)
            .where(Change.entity == "enterprise", Change.entity_id == str(enterprise.id))
            .order_by(Change.id.desc())
        )
        .scalars()
        .first()
    )
    assert latest is not None
    assert latest.data["risk_colour"] == "red"

    # The loop runs to its end; a major hazard closes after two officers verified it.
    sign_in(client, "dispatcher")
    assert assign(client, hazard_id, [user_id(db, "responder")]).status_code == 303
    task = open_task(db, hazard_id)
    sign_in(client, "responder")
    post_form(client, f"/tasks/{task.id}/accept", {})
    post_form(client, f"/hazards/{hazard_id}/rectify", {"id": str(uuid.uuid4()), "note": "已整改"})
    rescored(db)
    assert profile(db, enterprise.id).colour == "red"  # evidence alone changes nothing
    sign_in(client, "dispatcher")
    assert post_form(client, f"/hazards/{hazard_id}/verify", {}).status_code == 303
    rescored(db)
    assert profile(db, enterprise.id).colour == "red"  # first of two verifications
    sign_in(client, "district")
    assert post_form(client, f"/hazards/{hazard_id}/verify", {}).status_code == 303
    assert state(db, hazard_id) == "closed"
    rescored(db)

    after = profile(db, enterprise.id)
    assert (after.colour, after.score) == before
    back = colour_events(db, enterprise.id)[-1]
    assert (back["from"], back["to"]) == ("red", before[0])
    assert back["reasons"] == [{"factor": "open_major_hazards", "from": 30, "to": 0}]
    assert len(red_alerts(db, enterprise.id)) == len(alerts)  # going down tells nobody


def test_a_major_hazard_pushed_from_a_phone_turns_red_once_the_job_ran(
    client: TestClient[Any], db: Session
) -> None:
    enterprise = enterprise_in(db, "420107001001")
    other = enterprise_in(db, "420107001002")
    assert enterprise.id is not None
    assert other.id is not None
    sign_in(client, "inspector")
    body = push(
        client,
        str(uuid.uuid4()),
        [
            report(1, enterprise.id, severity="major"),
            report(2, enterprise.id),
            report(3, None, grid_id=enterprise.grid_id),  # no enterprise: nothing to rescore
        ],
    )
    assert set(statuses(body).values()) == {("applied", "")}
    # One marked enterprise for the whole push, rescored once.
    assert rescored(db) == Rescored(enterprises=1, rows=1, rounds=1)
    assert profile(db, enterprise.id).colour == "red"
    factors = {f["factor"]: f for f in profile(db, enterprise.id).factors}
    assert factors["open_general_hazards"]["detail"]["count"] == 1
    assert colour_events(db, other.id) == []
    assert {"street", "district"} <= levels_of(
        db, [alert.user_id for alert in red_alerts(db, enterprise.id)]
    )
    # A phone starting afresh gets the colour and the due date in its snapshot.
    snapshot = {c["id"]: c["data"] for c in walk(client).changes if c["entity"] == "enterprise"}
    mine = snapshot[str(enterprise.id)]
    assert (mine["risk_colour"], mine["risk_score"]) == ("red", profile(db, enterprise.id).score)
    assert mine["inspection_due_at"] is not None
    assert len(snapshot) > 1
    assert all(data["risk_colour"] in COLOURS for data in snapshot.values())


def test_an_overdue_rectification_raises_the_score_when_the_sweep_finds_it(
    client: TestClient[Any], db: Session
) -> None:
    from backend.escalation.services import sweep

    hazard_id = reported(client, db)
    hazard = db.get(Hazard, hazard_id)
    assert hazard is not None
    assert hazard.enterprise_id is not None
    sign_in(client, "dispatcher")
    assert assign(client, hazard_id, [user_id(db, "responder")]).status_code == 303
    sign_in(client, "responder")
    post_form(client, f"/tasks/{open_task(db, hazard_id).id}/accept", {})
    was = profile(db, hazard.enterprise_id)
    assert not any(f["factor"] == "overdue_rectifications" for f in was.factors)
    score_before = was.score
    later = utcnow() + timedelta(days=3)  # past the 48-hour rectification deadline
    sweep(db, later)
    db.commit()
    rescored(db)  # scored as of the sweep's time, as the sweep asked
    after = profile(db, hazard.enterprise_id)
    overdue = [f for f in after.factors if f["factor"] == "overdue_rectifications"]
    assert overdue
    assert overdue[0]["points"] > 0
    assert after.score > score_before


def test_refresh_and_recompute_all_are_idempotent(db: Session) -> None:
    ids = list(db.execute(select(Enterprise.id).order_by(Enterprise.id)).scalars())
    before = {
        p.enterprise_id: (p.colour, p.score) for p in db.execute(select(RiskProfile)).scalars()
    }
    assert len(before) == len(ids)
    assert recompute_all(db, batch=100) == len(ids)
    db.expire_all()
    after = {
        p.enterprise_id: (p.colour, p.score) for p in db.execute(select(RiskProfile)).scalars()
    }
    assert after == before
    assert refresh(db, [ids[0], -1, 10**12]).scored == 1  # unknown ids are ignored


def test_a_first_grading_is_news_only_when_red(client: TestClient[Any], db: Session) -> None:
    enterprise = enterprise_in(db, "420107001001")
    assert enterprise.id is not None
    db.execute(delete(RiskProfile).where(RiskProfile.enterprise_id == enterprise.id))
    db.commit()
    refresh(db, [enterprise.id])
    db.commit()
    assert profile(db, enterprise.id).colour != "red"
    assert colour_events(db, enterprise.id) == []  # graded quietly: nothing changed

    db.execute(delete(RiskProfile).where(RiskProfile.enterprise_id == enterprise.id))
    db.commit()
    reported(client, db, severity="major")
    rescored(db)
    assert profile(db, enterprise.id).colour == "red"
    [first] = colour_events(db, enterprise.id)
    assert (first["from"], first["to"]) == (None, "red")
    assert red_alerts(db, enterprise.id)
