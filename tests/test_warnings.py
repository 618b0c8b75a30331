"""Targeted warnings on SQLite and PostgreSQL: who is reached (checked against a plain-Python
reading of the rules over every row), never anyone outside the sender's area, the preview
equals what is sent, acknowledgement counted once (page, sync, notification, concurrently),
re-notify only those who have not acknowledged, permissions and translated refusals (a warning
someone may not see is not found on every route); cancelling a false alarm once (double press,
two officers at once) with one notice per recipient, the alarm's waiting pushes withdrawn
(tests/push/test_warning_cancel.py sends what is left) and the alarm marked cancelled in the
notification inbox."""

from __future__ import annotations

import html
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import delete, func, insert, select
from sqlmodel import Session

from backend.auth.policy import Principal
from backend.db import make_engine, make_session_factory
from backend.i18n import Translator
from backend.models import (
    AckVia,
    Delivery,
    Enterprise,
    Event,
    Notification,
    PushSubscription,
    RiskProfile,
    Role,
    SafetyWarning,
    Unit,
    User,
    WarningRecipient,
    utcnow,
)
from backend.offline import changes
from backend.settings import Settings
from backend.warnings import services
from backend.warnings.targeting import Near, Targeting, audience, haversine_km
from sync import Rejected
from tests.conftest import csrf_token, post_form, sign_in
from tests.sync.conftest import push, statuses

QINGSHAN = "/420100/420107/"
HTMX = {"HX-Request": "true"}


def unit_id(db: Session, code: str) -> int:
    return int(db.execute(select(Unit.id).where(Unit.code == code)).scalar_one())


def principal_of(db: Session, username: str) -> Principal:
    user, path = db.execute(
        select(User, Unit.path).join(Unit, Unit.id == User.unit_id).where(User.username == username)
    ).one()
    return Principal(
        user.id, user.username, user.display_name, Role(user.role), user.unit_id, path, ""
    )


def profile_row(**values: Any) -> dict[str, Any]:
    """A risk_profile row with the given values and plain ones for the rest."""
    plain = {"JSON": [], "Integer": 0, "String": "", "AutoString": "", "Float": 0.0}
    row: dict[str, Any] = {}
    for column in RiskProfile.__table__.columns:  # type: ignore[attr-defined]
        if column.name not in values and not column.nullable:
            kind = type(column.type).__name__
            row[column.name] = plain[kind] if kind in plain else utcnow()
    return {**row, **values}


@pytest.fixture
def crowd(db: Session) -> dict[str, Any]:
    """Officers for every 7th enterprise, street people in several districts, risk colours on
    some enterprises (and none on others), a few push devices."""
    enterprises = db.execute(
        select(Enterprise.id, Enterprise.grid_id, Unit.path)
        .join(Unit, Unit.id == Enterprise.grid_id)
        .order_by(Enterprise.id)
    ).all()
    password = db.execute(select(User.password_hash).limit(1)).scalar_one()
    rows = []
    for i, (enterprise_id, grid_id, _) in enumerate(enterprises[::7]):
        rows.append(
            {
                "username": f"eo{i}",
                "display_name": f"企业安全员{i}",
                "password_hash": password,
                "role": Role.ENTERPRISE_OFFICER.value,
                "unit_id": grid_id,
                "enterprise_id": enterprise_id,
                "active": i % 11 != 5,  # a few inactive people are never reached
                "scope_version": 1,
                "created_at": utcnow(),
            }
        )
    grids = db.execute(select(Unit.id).where(Unit.level == "grid").order_by(Unit.path)).scalars()
    for i, grid_id in enumerate(list(grids)[::3]):
        role = (Role.GRID_INSPECTOR, Role.STREET_RESPONDER)[i % 2]
        rows.append(
            {
                "username": f"gi{i}",
                "display_name": f"网格员{i}",
                "password_hash": password,
                "role": role.value,
                "unit_id": grid_id,
                "enterprise_id": None,
                "active": True,
                "scope_version": 1,
                "created_at": utcnow(),
            }
        )
    db.execute(insert(User), rows)
    coloured = enterprises[::5]
    db.execute(
        delete(RiskProfile).where(RiskProfile.enterprise_id.in_([e[0] for e in enterprises]))  # type: ignore[attr-defined]
    )
    db.execute(
        insert(RiskProfile),
        [
            profile_row(
                enterprise_id=enterprise_id,
                unit_path=path,
                colour=("red", "orange", "yellow", "blue")[i % 4],
            )
            for i, (enterprise_id, _, path) in enumerate(coloured)
        ],
    )
    people = db.execute(select(User.id).order_by(User.id)).scalars().all()
    db.execute(
        insert(PushSubscription),
        [
            {
                "user_id": user_id,
                "endpoint": f"https://push.invalid/{user_id}/{n}",
                "p256dh": "x",
                "auth": "y",
                "device": "test",
                "created_at": utcnow(),
            }
            for user_id in people[::4]
            for n in range(2)
        ],
    )
    db.commit()
    return {"enterprises": enterprises}


def oracle(db: Session, sender_path: str, t: Targeting) -> set[int]:
    """The rules of backend/warnings/targeting.py read plainly, one person at a time."""
    units = {u.id: u.path for u in db.execute(select(Unit)).scalars()}
    colours = dict(db.execute(select(RiskProfile.enterprise_id, RiskProfile.colour)).all())
    enterprises = {e.id: e for e in db.execute(select(Enterprise)).scalars()}
    chosen = [units[i] for i in t.unit_ids if units[i].startswith(sender_path)]
    scopes = chosen if t.unit_ids else [sender_path]

    def inside(path: str) -> bool:
        return path.startswith(sender_path) and any(path.startswith(s) for s in scopes)

    def enterprise_matches(e: Enterprise) -> bool:
        if not inside(units[e.grid_id]):
            return False
        if t.industries and e.industry not in t.industries:
            return False
        if t.colours and colours.get(e.id) not in t.colours:
            return False
        if t.near is not None:
            if e.latitude is None or e.longitude is None:
                return False
            distance = haversine_km(t.near.latitude, t.near.longitude, e.latitude, e.longitude)
            if distance > t.near.radius_km:
                return False
        return True

    picked = set()
    for user in db.execute(select(User)).scalars():
        if not user.active or not inside(units[user.unit_id]):
            continue
        by_role = user.role in t.roles if t.roles else not (t.industries or t.colours or t.near)
        by_enterprise = (
            bool(t.industries or t.colours or t.near)
            and user.role == Role.ENTERPRISE_OFFICER.value
            and user.enterprise_id is not None
            and enterprise_matches(enterprises[user.enterprise_id])
        )
        if by_role or by_enterprise:
            picked.add(int(user.id))  # type: ignore[arg-type]
    return picked


def selected(db: Session, sender_path: str, t: Targeting) -> set[int]:
    return {int(user_id) for user_id, _ in db.execute(audience(db, sender_path, t)).all()}


def committed_when_unlocked(factory: Any, work: Any) -> Any:
    """`work(session)` in a fresh session, committed; tried again while SQLite answers that the
    database is locked (at most 20 times). Any other error, a refusal included, is raised."""
    for attempt in range(20):
        with factory() as session:
            try:
                result = work(session)
                session.commit()
                return result
            except Exception as error:
                session.rollback()
                if "locked" not in str(error) or attempt == 19:
                    raise
    raise AssertionError("unreachable")


def at_once(targets: list[Any]) -> list[BaseException]:
    """Run every target in its own thread, all released together; the errors they raised."""
    start = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def run(target: Any) -> None:
        try:
            start.wait()
            target()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_targeting_selects_exactly_the_right_people(db: Session, crowd: dict[str, Any]) -> None:
    qingshan, jiangan = unit_id(db, "420107"), unit_id(db, "420102")
    street, grid = unit_id(db, "420107001"), unit_id(db, "420102001001")
    lat, lon = db.execute(
        select(Enterprise.latitude, Enterprise.longitude).where(
            Enterprise.id == crowd["enterprises"][0][0]
        )
    ).one()
    assert lat is not None
    assert lon is not None
    cases = [
        Targeting(unit_ids=(qingshan,)),
        Targeting(unit_ids=(street, grid)),
        Targeting(roles=("grid_inspector",)),
        Targeting(roles=("enterprise_officer", "street_responder"), unit_ids=(jiangan,)),
        Targeting(industries=("metallurgy",)),
        Targeting(industries=("hazardous_chemicals", "dust_explosion"), unit_ids=(qingshan,)),
        Targeting(colours=("red",)),
        Targeting(colours=("orange", "yellow"), industries=("metallurgy", "other")),
        Targeting(near=Near(lat, lon, 3.0)),
        Targeting(near=Near(lat, lon, 8.0), colours=("red", "blue")),
        Targeting(roles=("grid_inspector",), industries=("metallurgy",)),
        # The point is an enterprise in Jiang'an: nothing in Qingshan lies within 1 km of it.
        Targeting(unit_ids=(qingshan,), near=Near(lat, lon, 1.0)),
    ]
    for sender_path in ("/420100/", QINGSHAN, "/420100/420102/"):
        for t in cases:
            got = selected(db, sender_path, t)
            assert got == oracle(db, sender_path, t), (sender_path, t)
            paths = db.execute(
                select(Unit.path).join(User, User.unit_id == Unit.id).where(User.id.in_(got))  # type: ignore[union-attr]
            ).scalars()
            assert all(path.startswith(sender_path) for path in paths)
    # The cases are not vacuous: each criterion picks someone from the city, and not everyone.
    everyone = selected(db, "/420100/", Targeting(unit_ids=(unit_id(db, "420100"),)))
    for t in cases[:-1]:
        assert 0 < len(selected(db, "/420100/", t)) < len(everyone), t
    assert selected(db, "/420100/", cases[-1]) == set()
    # A district officer asking for another district reaches nobody there.
    assert selected(db, QINGSHAN, Targeting(unit_ids=(jiangan,))) == set()


def test_enterprises_without_a_risk_profile_have_no_colour(
    db: Session, crowd: dict[str, Any]
) -> None:
    db.execute(delete(RiskProfile))
    db.commit()
    for colour in ("red", "orange", "yellow", "blue"):
        assert selected(db, "/420100/", Targeting(colours=(colour,))) == set()


def valid_until(hours: float = 6) -> str:
    # The form speaks Beijing time (the deployment's default zone).
    moment = datetime.now(UTC) + timedelta(hours=hours + 8)
    return moment.strftime("%Y-%m-%dT%H:%M")


def draft(**changes: Any) -> dict[str, Any]:
    return {
        "title": "大风蓝色预警",
        "level": "orange",
        "body": "预计今夜有 8 级大风，请加固临时设施。",
        "instructions": "停止高处作业。",
        "valid_until": valid_until(),
        **changes,
    }


def preview(client: TestClient[Any], data: dict[str, Any]) -> Any:
    return client.post(
        "/warnings/preview",
        data={**data, "_csrf_token": csrf_token(client)},
        headers=HTMX,
    )


def send(client: TestClient[Any], data: dict[str, Any]) -> str:
    response = post_form(client, "/warnings", data)
    assert response.status_code == 303, response.text
    return str(response.headers["location"].rsplit("/", 1)[1])


def test_preview_counts_what_send_creates(
    client: TestClient[Any], db: Session, crowd: dict[str, Any]
) -> None:
    sign_in(client, "city")
    data = draft(roles=["grid_inspector", "enterprise_officer"], colours=["red", "orange"])
    answer = preview(client, data)
    assert answer.status_code == 200, answer.text
    people = int(re.search(r'data-reach-people="(\d+)"', answer.text).group(1))  # type: ignore[union-attr]
    devices = int(re.search(r'data-reach-devices="(\d+)"', answer.text).group(1))  # type: ignore[union-attr]
    assert people > 10
    assert devices > 0
    warning_id = send(client, data)
    db.expire_all()
    recipients = db.execute(
        select(WarningRecipient.user_id).where(WarningRecipient.warning_id == warning_id)
    ).scalars()
    recipients = set(recipients)
    assert len(recipients) == people
    notified = db.execute(
        select(Notification.id, Notification.user_id).where(
            Notification.data["warning_id"].as_string() == warning_id
        )
    ).all()
    assert {user for _, user in notified} == recipients
    assert len(notified) == people
    pushes = db.execute(
        select(func.count())
        .select_from(Delivery)
        .where(
            Delivery.notification_id.in_([n for n, _ in notified]),  # type: ignore[attr-defined]
            Delivery.channel == "webpush",
        )
    ).scalar_one()
    assert pushes == devices
    warning = db.get(SafetyWarning, warning_id)
    assert warning is not None
    assert warning.recipients == people
    assert warning.targeting["colours"] == ["orange", "red"]
    sent_events = db.execute(
        select(func.count()).where(Event.entity_id == warning_id, Event.action == "warning.sent")
    ).scalar_one()
    assert sent_events == 1


def test_district_officer_never_reaches_another_district(
    client: TestClient[Any], db: Session, crowd: dict[str, Any]
) -> None:
    sign_in(client, "district")
    jiangan = unit_id(db, "420102")
    refused = post_form(client, "/warnings", draft(units=[str(jiangan)]))
    assert refused.status_code == 422
    assert 'data-field-error="units"' in refused.text
    warning_id = send(client, draft(roles=["grid_inspector", "enterprise_officer"]))
    paths = db.execute(
        select(WarningRecipient.unit_path).where(WarningRecipient.warning_id == warning_id)
    ).scalars()
    paths = list(paths)
    assert paths
    assert all(path.startswith(QINGSHAN) for path in paths)


@pytest.mark.parametrize(
    "username", ["dispatcher", "responder", "inspector", "enterprise", "admin"]
)
def test_only_city_and_district_officers_send(
    client: TestClient[Any], db: Session, username: str
) -> None:
    sign_in(client, username)
    assert client.get("/warnings/new").status_code == 403
    assert post_form(client, "/warnings", draft(roles=["grid_inspector"])).status_code == 403
    assert db.execute(select(func.count()).select_from(SafetyWarning)).scalar_one() == 0


@pytest.mark.parametrize(
    ("changes", "field", "key"),
    [
        ({"valid_until": "2020-01-01T08:00"}, "valid_until", "valid_until_past"),
        ({"valid_until": "tomorrow"}, "valid_until", "valid_until"),
        ({}, "criteria", "no_criteria"),
        ({"latitude": "30.6", "longitude": "114.4", "radius_km": "80"}, "radius_km", "radius"),
        ({"latitude": "300", "longitude": "114.4", "radius_km": "5"}, "latitude", "coordinate"),
        ({"roles": ["admin"]}, "roles", "role"),
        ({"colours": ["purple"]}, "colours", "colour"),
        ({"level": "black", "roles": ["grid_inspector"]}, "level", "level"),
        ({"title": "", "roles": ["grid_inspector"]}, "title", "title"),
    ],
)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_bad_input_is_refused_in_the_users_language(
    client: TestClient[Any],
    db: Session,
    changes: dict[str, Any],
    field: str,
    key: str,
    language: str,
) -> None:
    sign_in(client, "city")
    client.cookies.set("gs_lang", language)
    response = post_form(client, "/warnings", draft(**changes))
    assert response.status_code == 422
    assert f'data-field-error="{field}"' in response.text
    message = Translator(language)(f"warnings.errors.{key}")
    assert message in response.text.replace("&#34;", '"').replace("&#39;", "'")
    assert "Traceback" not in response.text
    assert db.execute(select(func.count()).select_from(SafetyWarning)).scalar_one() == 0
    assert db.execute(select(func.count()).select_from(WarningRecipient)).scalar_one() == 0


def acknowledged(db: Session, warning_id: str) -> list[tuple[int, str]]:
    db.expire_all()
    return [
        (int(u), str(v))
        for u, v in db.execute(
            select(WarningRecipient.user_id, WarningRecipient.ack_via).where(
                WarningRecipient.warning_id == warning_id,
                WarningRecipient.acknowledged_at.is_not(None),  # type: ignore[union-attr]
            )
        ).all()
    ]


def ack_events(db: Session, warning_id: str) -> int:
    return int(
        db.execute(
            select(func.count()).where(
                Event.entity_id == warning_id, Event.action == "warning.acknowledged"
            )
        ).scalar_one()
    )


def test_acknowledge_once_by_page_and_sync_and_recipients_see_only_theirs(
    client: TestClient[Any], db: Session
) -> None:
    sign_in(client, "district")
    warning_id = send(client, draft(roles=["grid_inspector"], units=[str(unit_id(db, "420107"))]))
    sign_in(client, "inspector2")  # Jiang'an: not a recipient
    assert client.get(f"/warnings/{warning_id}").status_code == 404
    assert client.get(f"/warnings/{warning_id}.cap.xml").status_code == 404
    assert post_form(client, f"/warnings/{warning_id}/ack", {}).status_code == 404
    assert warning_id not in client.get("/warnings").text
    sign_in(client, "inspector")
    inbox = client.get("/warnings")
    assert f'data-warning-id="{warning_id}" data-acknowledged="no"' in inbox.text
    assert post_form(client, f"/warnings/{warning_id}/ack", {}).status_code == 303
    assert post_form(client, f"/warnings/{warning_id}/ack", {}, headers=HTMX).status_code == 200
    client_id = str(uuid.uuid4())
    at = datetime.now(UTC).isoformat()
    body = push(
        client,
        client_id,
        [
            {"id": 1, "name": "warning.ack", "args": {"warning_id": warning_id}, "at": at},
            {"id": 2, "name": "warning.ack", "args": {"warning_id": str(uuid.uuid4())}, "at": at},
        ],
    )
    result = statuses(body)
    assert result[1][0] == "applied"
    assert result[2] == ("rejected", "warnings.not_found")
    inspector = principal_of(db, "inspector").id
    assert acknowledged(db, warning_id) == [(inspector, "page")]
    assert ack_events(db, warning_id) == 1
    assert 'data-acknowledged="yes"' in client.get("/warnings").text


def test_acknowledgement_from_the_notification_offline(
    client: TestClient[Any], db: Session
) -> None:
    sign_in(client, "district")
    warning_id = send(client, draft(roles=["grid_inspector"]))
    sign_in(client, "inspector")
    at = (datetime.now(UTC) - timedelta(minutes=20)).isoformat()
    mutation = {"warning_id": warning_id, "via": "notification"}
    body = push(
        client, str(uuid.uuid4()), [{"id": 1, "name": "warning.ack", "args": mutation, "at": at}]
    )
    assert statuses(body)[1][0] == "applied"
    [(_user, via)] = acknowledged(db, warning_id)
    assert via == "notification"


def test_concurrent_acknowledgements_count_once(
    settings: Settings, db: Session, crowd: dict[str, Any]
) -> None:
    sender = principal_of(db, "city")
    t = Targeting(roles=("enterprise_officer", "grid_inspector", "street_responder"))
    warning = services.send(
        db, sender, services.Draft("t", "red", "b", "", utcnow() + timedelta(hours=2), t), utcnow()
    )
    db.commit()
    people = db.execute(
        select(User, Unit.path)
        .join(Unit, Unit.id == User.unit_id)
        .join(WarningRecipient, WarningRecipient.user_id == User.id)
        .where(WarningRecipient.warning_id == warning.id)
    ).all()
    assert len(people) >= 20
    principals = [
        Principal(u.id, u.username, u.display_name, Role(u.role), u.unit_id, path, "")
        for u, path in people
    ]
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine, settings)
    # Each person three times at once (page, offline, notification), 24 threads at a time.
    jobs = [(p, via) for p in principals for via in AckVia]
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not jobs:
                    return
                principal, via = jobs.pop()
            committed_when_unlocked(
                factory,
                lambda session, principal=principal, via=via: changes.store(
                    session,
                    services.acknowledge(session, principal, warning.id, via, utcnow()),
                ),
            )

    errors = at_once([worker] * 24)
    engine.dispose()
    assert errors == []
    rows = acknowledged(db, warning.id)
    assert sorted(u for u, _ in rows) == sorted(p.id for p in principals)
    assert ack_events(db, warning.id) == len(principals)
    overall, per_unit = services.rates(db, db.get(SafetyWarning, warning.id))  # type: ignore[arg-type]
    assert overall.acknowledged == overall.people == len(principals)
    assert sum(r.people for r in per_unit) == len(principals)
    assert all(r.path.count("/") == 3 for r in per_unit)  # one row per district


def test_renotify_reaches_only_those_who_have_not_acknowledged(
    client: TestClient[Any], db: Session, crowd: dict[str, Any]
) -> None:
    sign_in(client, "district")
    warning_id = send(client, draft(roles=["grid_inspector", "street_responder"]))
    recipients = list(
        db.execute(
            select(WarningRecipient.user_id).where(WarningRecipient.warning_id == warning_id)
        ).scalars()
    )
    assert len(recipients) >= 3
    for user_id in recipients[:2]:
        user = db.get(User, user_id)
        assert user is not None
        principal = Principal(user.id, user.username, "", Role(user.role), user.unit_id, "", "")  # type: ignore[arg-type]
        services.acknowledge(db, principal, warning_id, AckVia.PAGE, utcnow())
    db.commit()
    before = db.execute(select(func.max(Notification.id))).scalar_one()
    response = post_form(client, f"/warnings/{warning_id}/renotify", {})
    assert response.status_code == 303
    db.expire_all()
    again = set(db.execute(select(Notification.user_id).where(Notification.id > before)).scalars())
    assert again == set(recipients[2:])
    counts = dict(
        db.execute(
            select(WarningRecipient.user_id, WarningRecipient.renotified).where(
                WarningRecipient.warning_id == warning_id
            )
        ).all()
    )
    assert {u: c for u, c in counts.items() if c} == dict.fromkeys(recipients[2:], 1)
    page = client.get(f"/warnings/{warning_id}", headers=HTMX)
    assert f'data-acknowledged-total="2" data-people-total="{len(recipients)}"' in page.text
    # Someone below the sender's tier cannot re-notify or see the rates.
    sign_in(client, "dispatcher")
    assert post_form(client, f"/warnings/{warning_id}/renotify", {}).status_code == 404


def test_criteria_that_reach_nobody_are_refused_and_send_nothing(
    client: TestClient[Any], db: Session
) -> None:
    sign_in(client, "district")
    grid = unit_id(db, "420107001001")
    response = post_form(client, "/warnings", draft(units=[str(grid)], roles=["city_officer"]))
    assert response.status_code == 422
    assert 'data-field-error="criteria"' in response.text
    answer = preview(client, draft(units=[str(grid)], roles=["city_officer"]))
    assert 'data-reach-people="0"' in answer.text
    assert db.execute(select(func.count()).select_from(SafetyWarning)).scalar_one() == 0
    assert db.execute(select(func.count()).select_from(Notification)).scalar_one() == 0


def cancelled_notices(db: Session, warning_id: str) -> list[Notification]:
    db.expire_all()
    return list(
        db.execute(
            select(Notification).where(
                Notification.kind == "warning.cancelled",
                Notification.data["warning_id"].as_string() == warning_id,
            )
        ).scalars()
    )


def events_of(db: Session, warning_id: str, action: str) -> list[Event]:
    return list(
        db.execute(
            select(Event).where(Event.entity_id == warning_id, Event.action == action)
        ).scalars()
    )


def test_cancel_tells_every_recipient_once_in_their_language_and_ends_acknowledgement(
    client: TestClient[Any], db: Session, crowd: dict[str, Any]
) -> None:
    inspector = principal_of(db, "inspector")
    english = db.get(User, inspector.id)
    assert english is not None
    english.locale = "en"
    db.commit()
    sign_in(client, "district")
    warning_id = send(client, draft(roles=["grid_inspector", "street_responder"]))
    recipients = set(
        db.execute(
            select(WarningRecipient.user_id).where(WarningRecipient.warning_id == warning_id)
        ).scalars()
    )
    assert inspector.id in recipients
    assert len(recipients) >= 3
    reason = "误报：传感器故障 <测试>"
    answer = post_form(client, f"/warnings/{warning_id}/cancel", {"reason": reason})
    assert answer.status_code == 303, answer.text
    # A double press: answered clearly, changes nothing, notifies nobody again.
    again = post_form(client, f"/warnings/{warning_id}/cancel", {"reason": "second"})
    assert again.status_code == 409
    assert 'data-error-code="warnings.already_cancelled"' in again.text
    db.expire_all()
    warning = db.get(SafetyWarning, warning_id)
    assert warning is not None
    assert warning.state == "cancelled"
    assert warning.cancel_reason == reason
    assert warning.cancelled_by == principal_of(db, "district").id
    assert warning.cancelled_at is not None
    notices = cancelled_notices(db, warning_id)
    assert sorted(n.user_id for n in notices) == sorted(recipients)
    assert all(reason in n.body and n.actions == [] for n in notices)
    titles = {n.user_id: n.title for n in notices}
    assert titles[inspector.id].startswith("[Cancelled orange warning]")
    assert all(t.startswith("已撤销") for u, t in titles.items() if u != inspector.id)
    devices = db.execute(
        select(func.count())
        .select_from(PushSubscription)
        .where(PushSubscription.user_id.in_(recipients))  # type: ignore[attr-defined]
    ).scalar_one()
    pushes = db.execute(
        select(func.count())
        .select_from(Delivery)
        .where(
            Delivery.notification_id.in_([n.id for n in notices]),  # type: ignore[attr-defined]
            Delivery.channel == "webpush",
        )
    ).scalar_one()
    assert devices > 0
    assert pushes == devices
    # The alarm's pushes still in the outbox (no worker runs here) will never leave.
    alarms = db.execute(
        select(Delivery.state)
        .join(Notification, Notification.id == Delivery.notification_id)  # type: ignore[arg-type]
        .where(
            Notification.kind == "warning.sent",
            Notification.data["warning_id"].as_string() == warning_id,
        )
    ).scalars()
    assert set(alarms) == {"withdrawn"}
    [event] = events_of(db, warning_id, "warning.cancelled")
    assert event.data["reason"] == reason
    assert event.actor_id == warning.cancelled_by
    # The sender's page: who, when, why; rates still readable; no re-notify, no second cancel.
    detail = client.get(f"/warnings/{warning_id}")
    assert f'data-cancelled="{warning_id}"' in detail.text
    assert "青山区应急管理局" in detail.text
    assert "误报：传感器故障 &lt;测试&gt;" in detail.text
    assert "/renotify" not in detail.text
    assert "data-cancel-warning" not in detail.text
    rates = client.get(f"/warnings/{warning_id}", headers=HTMX)
    assert f'data-acknowledged-total="0" data-people-total="{len(recipients)}"' in rates.text
    before = db.execute(select(func.max(Notification.id))).scalar_one()
    refused = post_form(client, f"/warnings/{warning_id}/renotify", {})
    assert refused.status_code == 409
    assert 'data-error-code="warnings.renotify_cancelled"' in refused.text
    sent_list = client.get("/warnings").text
    assert f'data-sent-warning-id="{warning_id}"' in sent_list
    assert f'data-cancelled="{warning_id}"' in sent_list
    # A recipient: the page and the inbox say so, in English for this one, with no button.
    sign_in(client, "inspector")
    page_text = client.get(f"/warnings/{warning_id}").text
    assert "Cancelled by 青山区应急管理局" in page_text
    assert f"/warnings/{warning_id}/ack" not in page_text
    inbox = client.get("/warnings").text
    assert f'data-cancelled="{warning_id}"' in inbox
    assert f"/warnings/{warning_id}/ack" not in inbox
    # Acknowledging anyway (an old page, the outbox, the notification's button) is refused.
    ack = post_form(client, f"/warnings/{warning_id}/ack", {}, headers=HTMX)
    assert ack.status_code == 409
    assert 'data-error-code="warnings.cancelled"' in ack.text
    assert "This warning was cancelled" in ack.text
    at = datetime.now(UTC).isoformat()
    body = push(
        client,
        str(uuid.uuid4()),
        [
            {"id": 1, "name": "warning.ack", "args": {"warning_id": warning_id}, "at": at},
            {
                "id": 2,
                "name": "warning.ack",
                "args": {"warning_id": warning_id, "via": "notification"},
                "at": at,
            },
        ],
    )
    assert statuses(body) == {
        1: ("rejected", "warnings.cancelled"),
        2: ("rejected", "warnings.cancelled"),
    }
    assert acknowledged(db, warning_id) == []
    assert ack_events(db, warning_id) == 0
    assert db.execute(select(func.max(Notification.id))).scalar_one() == before
    assert len(cancelled_notices(db, warning_id)) == len(recipients)
    renotified = db.execute(
        select(func.sum(WarningRecipient.renotified)).where(
            WarningRecipient.warning_id == warning_id
        )
    ).scalar_one()
    assert renotified == 0


def unchanged(db: Session, warning_id: str) -> None:
    db.expire_all()
    warning = db.get(SafetyWarning, warning_id)
    assert warning is not None
    assert warning.state == "sent"
    assert warning.cancelled_at is None
    assert warning.cancel_reason is None
    assert cancelled_notices(db, warning_id) == []
    assert events_of(db, warning_id, "warning.cancelled") == []


@pytest.mark.parametrize("reason", ["", "   ", "长" * 201])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_cancel_needs_a_short_reason(
    client: TestClient[Any], db: Session, reason: str, language: str
) -> None:
    sign_in(client, "district")
    warning_id = send(client, draft(roles=["grid_inspector"]))
    client.cookies.set("gs_lang", language)
    answer = post_form(client, f"/warnings/{warning_id}/cancel", {"reason": reason}, headers=HTMX)
    assert answer.status_code == 422
    assert 'data-field-error="reason"' in answer.text
    assert Translator(language)("warnings.errors.reason") in answer.text
    unchanged(db, warning_id)


def officer_of(db: Session, username: str, unit_code: str) -> None:
    """A district officer of another unit, signing in with the demo password."""
    password = db.execute(select(User.password_hash).limit(1)).scalar_one()
    db.add(
        User(
            username=username,
            display_name=f"{unit_code}应急管理局",
            password_hash=password,
            role=Role.DISTRICT_OFFICER.value,
            unit_id=unit_id(db, unit_code),
        )
    )
    db.commit()


def untouched(db: Session, warning_id: str) -> dict[str, Any]:
    """Everything a warning route could change: the warning, its recipients' rows, the
    notifications and events about it."""
    db.expire_all()
    warning = db.get(SafetyWarning, warning_id)
    assert warning is not None
    return {
        "warning": (warning.state, warning.cancelled_at, warning.cancel_reason),
        "recipients": sorted(
            db.execute(
                select(
                    WarningRecipient.user_id,
                    WarningRecipient.acknowledged_at,
                    WarningRecipient.notified_at,
                    WarningRecipient.renotified,
                ).where(WarningRecipient.warning_id == warning_id)
            ).all()
        ),
        "notifications": db.execute(select(func.count()).select_from(Notification)).scalar_one(),
        "events": sorted(
            db.execute(select(Event.action).where(Event.entity_id == warning_id)).scalars()
        ),
    }


def every_route(client: TestClient[Any], warning_id: str) -> dict[str, tuple[int, str]]:
    """Each warnings route asked about one id: (status, error code shown)."""
    answers = {
        "detail": client.get(f"/warnings/{warning_id}"),
        "rates": client.get(f"/warnings/{warning_id}", headers=HTMX),
        "cap": client.get(f"/warnings/{warning_id}.cap.xml"),
        "cap_original": client.get(f"/warnings/{warning_id}.cap.xml?original=1"),
        "ack": post_form(client, f"/warnings/{warning_id}/ack", {}),
        "ack_htmx": post_form(client, f"/warnings/{warning_id}/ack", {}, headers=HTMX),
        "renotify": post_form(client, f"/warnings/{warning_id}/renotify", {}),
        "cancel": post_form(client, f"/warnings/{warning_id}/cancel", {"reason": "误报"}),
        "cancel_no_reason": post_form(client, f"/warnings/{warning_id}/cancel", {"reason": ""}),
    }
    return {
        route: (answer.status_code, ",".join(re.findall(r'data-error-code="([^"]+)"', answer.text)))
        for route, answer in answers.items()
    }


@pytest.mark.parametrize(
    ("sender", "asker"),
    [
        ("district", "jiangan"),  # an officer of the district next door
        ("city", "district"),  # an officer below the sender's tier it did not go to
        ("city", "dispatcher"),  # no sender role, not a recipient
        ("district", "inspector2"),
    ],
)
def test_a_warning_someone_may_not_see_is_not_found_on_every_route(
    client: TestClient[Any], db: Session, sender: str, asker: str
) -> None:
    """Whatever they ask of it, they hear what they would of an id that does not exist, in
    their language, and nothing changes: no route tells them the warning is there."""
    officer_of(db, "jiangan", "420102")
    sign_in(client, sender)
    warning_id = send(client, draft(roles=["grid_inspector"]))
    before = untouched(db, warning_id)
    sign_in(client, asker)
    client.cookies.set("gs_lang", "en")
    answers = every_route(client, warning_id)
    assert answers == every_route(client, str(uuid.uuid4())), answers
    assert {status for status, _ in answers.values()} == {404}
    assert Translator("en")("errors.not_found") in client.get(f"/warnings/{warning_id}").text
    at = datetime.now(UTC).isoformat()
    ack = {"id": 1, "name": "warning.ack", "args": {"warning_id": warning_id}, "at": at}
    assert statuses(push(client, str(uuid.uuid4()), [ack]))[1] == (
        "rejected",
        "warnings.not_found",
    )
    assert untouched(db, warning_id) == before
    assert warning_id not in client.get("/warnings").text


def test_who_sees_a_warning_but_is_not_over_its_area_is_refused_not_told_it_is_missing(
    client: TestClient[Any], db: Session
) -> None:
    """The district officer and the inspector the city's warning went to read it, so a
    refusal keeps no secret: re-notify and cancel answer 403 with the reason."""
    sign_in(client, "city")
    warning_id = send(client, draft(roles=["district_officer", "grid_inspector"]))
    before = untouched(db, warning_id)
    for username in ("district", "inspector"):
        sign_in(client, username)
        page_text = client.get(f"/warnings/{warning_id}").text
        assert f"/warnings/{warning_id}/ack" in page_text
        assert "data-cancel-warning" not in page_text
        assert "/renotify" not in page_text
        assert client.get(f"/warnings/{warning_id}.cap.xml").status_code == 200
        answers = every_route(client, warning_id)
        assert answers["renotify"] == (403, "warnings.renotify_forbidden"), username
        assert answers["cancel"] == (403, "warnings.cancel_forbidden"), username
        assert answers["cancel_no_reason"] == (403, "warnings.cancel_forbidden"), username
    # Their acknowledgements went through (the only change); nothing else did.
    after = untouched(db, warning_id)
    assert after["warning"] == before["warning"]
    assert after["notifications"] == before["notifications"]
    assert after["events"] == sorted([*before["events"], *["warning.acknowledged"] * 2])
    assert sorted(acknowledged(db, warning_id)) == sorted(
        (principal_of(db, name).id, "page") for name in ("district", "inspector")
    )
    missing = post_form(client, f"/warnings/{uuid.uuid4()}/cancel", {"reason": "x"})
    assert missing.status_code == 404
    sign_in(client, "city")
    assert "data-cancel-warning" in client.get(f"/warnings/{warning_id}").text
    answer = post_form(client, f"/warnings/{warning_id}/cancel", {"reason": "false alarm"})
    assert answer.status_code == 303


@pytest.mark.parametrize(("language", "badge"), [("zh", "已撤销"), ("en", "Cancelled")])
def test_the_inbox_shows_a_cancelled_alarm_as_cancelled(
    client: TestClient[Any], db: Session, language: str, badge: str
) -> None:
    """The alarm and its reminder stay in the notification inbox beside the cancel notice,
    marked and struck through; another warning's alarm still looks live."""
    sign_in(client, "district")
    cancelled = send(client, draft(title="大风橙色预警", roles=["grid_inspector"]))
    live = send(client, draft(title="暴雨橙色预警", roles=["grid_inspector"]))
    assert post_form(client, f"/warnings/{cancelled}/renotify", {}).status_code == 303
    assert post_form(client, f"/warnings/{cancelled}/cancel", {"reason": "误报"}).status_code == 303
    inspector = principal_of(db, "inspector").id
    mine = {
        (kind, warning): (int(notification), title)
        for notification, kind, warning, title in db.execute(
            select(
                Notification.id,
                Notification.kind,
                Notification.data["warning_id"].as_string(),
                Notification.title,
            ).where(Notification.user_id == inspector)
        ).all()
    }
    sign_in(client, "inspector")
    client.cookies.set("gs_lang", language)
    for headers in ({}, HTMX):
        inbox = client.get("/notifications", headers=headers)
        assert inbox.status_code == 200
        rows = {
            int(n): row
            for n, row in re.findall(
                r'<li data-notification-id="(\d+)"(.*?)</li>', inbox.text, re.S
            )
        }
        for kind in ("warning.sent", "warning.renotified"):
            notification, title = mine[(kind, cancelled)]
            row = rows[notification]
            assert "data-alarm-cancelled" in row
            assert f"data-cancelled-badge>{badge}</span>" in row
            assert f"<s>{html.escape(title)}</s>" in row
        for key in (("warning.cancelled", cancelled), ("warning.sent", live)):
            row = rows[mine[key][0]]
            assert "data-alarm-cancelled" not in row
            assert "<s>" not in row
        assert "/ack" not in inbox.text
    # Opened from the inbox it leads to the warning's page, which says so and offers nothing
    # to acknowledge; an acknowledgement sent anyway is refused and counts nothing.
    opened = client.get(f"/notifications/{mine[('warning.sent', cancelled)][0]}/open")
    assert f'data-cancelled="{cancelled}"' in opened.text
    assert f"/warnings/{cancelled}/ack" not in opened.text
    ack = post_form(client, f"/warnings/{cancelled}/ack", {}, headers=HTMX)
    assert (ack.status_code, 'data-error-code="warnings.cancelled"' in ack.text) == (409, True)
    assert acknowledged(db, cancelled) == []


def test_concurrent_cancels_cancel_once(
    settings: Settings, db: Session, crowd: dict[str, Any]
) -> None:
    """Two officers and double presses at once: one cancellation, one notice per person."""
    district, city = principal_of(db, "district"), principal_of(db, "city")
    t = Targeting(roles=("enterprise_officer", "grid_inspector", "street_responder"))
    warning = services.send(
        db,
        district,
        services.Draft("t", "red", "b", "", utcnow() + timedelta(hours=2), t),
        utcnow(),
    )
    db.commit()
    people = warning.recipients
    assert people >= 5
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine, settings)
    outcomes: list[str] = []

    def cancel_as(principal: Principal) -> None:
        try:
            committed_when_unlocked(
                factory,
                lambda session: services.cancel(
                    session, principal, warning.id, principal.username, utcnow()
                ),
            )
            outcomes.append("cancelled")
        except Rejected as refusal:
            outcomes.append(refusal.code)

    errors = at_once([lambda i=i: cancel_as((district, city)[i % 2]) for i in range(8)])
    engine.dispose()
    assert errors == []
    assert sorted(outcomes) == ["cancelled"] + ["warnings.already_cancelled"] * 7
    notices = cancelled_notices(db, warning.id)
    assert len(notices) == people
    assert len({n.user_id for n in notices}) == people
    [event] = events_of(db, warning.id, "warning.cancelled")
    stored = db.get(SafetyWarning, warning.id)
    assert stored is not None
    assert event.actor_id == stored.cancelled_by
    assert stored.cancel_reason in {"district", "city"}
