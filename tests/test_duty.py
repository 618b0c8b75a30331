"""The duty roster (值班表) admin on SQLite and PostgreSQL: adding and deleting shifts with the
validation, the administrator's area, CSV import (UTF-8 and GBK, idempotent, per-row report),
the hints naming the configured time zone, and what escalation's on_duty() makes of it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import delete, func, select
from sqlmodel import Session

from backend.admin.duty import SHANGHAI
from backend.admin.users import UserInput, create_user_by_codes
from backend.app import create_app
from backend.demo.seed import DEMO_PASSWORD, seed
from backend.escalation.services import on_duty
from backend.i18n import LOCALE_COOKIE
from backend.models import DutyShift, Event, Role, Unit, User, utcnow
from backend.settings import Settings
from backend.timezone import clock, zone
from tests.conftest import csrf_token, post_form, sign_in

STREET = "420107001"


def unit(db: Session, code: str) -> Unit:
    return db.execute(select(Unit).where(Unit.code == code)).scalar_one()


def user(db: Session, username: str) -> User:
    return db.execute(select(User).where(User.username == username)).scalar_one()


def shift_count(db: Session) -> int:
    db.expire_all()
    return int(db.execute(select(func.count(DutyShift.id))).scalar_one())


def events(db: Session, action: str) -> list[Event]:
    db.expire_all()
    return list(db.execute(select(Event).where(Event.action == action)).scalars())


def local_day(days: int) -> str:
    """A calendar day (Beijing time) well after the demo roster's 14 days."""
    return (utcnow().astimezone(SHANGHAI) + timedelta(days=days)).strftime("%Y-%m-%d")


def form(db: Session, username: str = "responder", **changes: str) -> dict[str, str]:
    day = local_day(30)
    return {
        "unit_id": str(unit(db, STREET).id),
        "user_id": str(user(db, username).id),
        "starts_at": f"{day}T08:00",
        "ends_at": f"{day}T20:00",
        "note": "白班",
        **changes,
    }


def test_an_administrator_adds_a_shift_in_beijing_time(
    client: TestClient[Any], db: Session
) -> None:
    sign_in(client, "admin", DEMO_PASSWORD)
    before = shift_count(db)
    data = form(db)
    response = post_form(client, "/admin/duty", data)
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/duty?unit={data['unit_id']}"
    assert shift_count(db) == before + 1
    shift = db.execute(
        select(DutyShift).where(DutyShift.user_id == user(db, "responder").id)
    ).scalar_one()
    day = datetime.fromisoformat(local_day(30))
    # 08:00 in Beijing is midnight UTC.
    assert shift.starts_at == datetime(day.year, day.month, day.day, 0, 0, tzinfo=UTC)
    assert shift.ends_at - shift.starts_at == timedelta(hours=12)
    assert shift.note == "白班"
    [event] = events(db, "duty.shift_added")
    assert event.data["username"] == "responder"
    assert event.unit_path == unit(db, STREET).path
    listing = client.get(f"/admin/duty?unit={data['unit_id']}&start={local_day(30)}").text
    assert f'data-shift-id="{shift.id}"' in listing
    assert "08:00" in listing


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ends_at": "{day}T07:00"}, "ends_at", "结束时间必须晚于开始时间"),
        ({"starts_at": "soon"}, "starts_at", "不是有效的日期时间"),
        ({"ends_at": "{later}T08:00"}, "ends_at", "一个班次最长 31 天"),
        ({"user": "inspector"}, "user_id", "不是该单位的在职人员"),
        ({"unit_id": "999999"}, "unit_id", "请选择本辖区的街道、区或市"),
        ({"note": "x" * 201}, "note", "内容过长"),
    ],
)
def test_bad_input_is_refused_with_a_translated_message_and_changes_nothing(
    client: TestClient[Any],
    db: Session,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    sign_in(client, "admin", DEMO_PASSWORD)
    changes = dict(changes)  # the parameters are shared by the SQLite and PostgreSQL runs
    username = changes.pop("user", "responder")
    values = {
        name: value.format(day=local_day(30), later=local_day(70))
        for name, value in changes.items()
    }
    before = shift_count(db)
    response = post_form(client, "/admin/duty", form(db, username, **values))
    assert response.status_code == 422
    assert f'data-field-error="{field}"' in response.text
    assert message in response.text
    assert shift_count(db) == before
    assert events(db, "duty.shift_added") == []


def test_an_inactive_person_or_an_overlap_is_refused(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "admin", DEMO_PASSWORD)
    before = shift_count(db)
    # The demo roster has the dispatcher on duty now; a second shift across it overlaps.
    now = utcnow().astimezone(SHANGHAI)
    overlapping = form(
        db,
        "dispatcher",
        starts_at=(now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        ends_at=(now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
    )
    response = post_form(client, "/admin/duty", overlapping)
    assert response.status_code == 422
    assert 'data-field-error="starts_at"' in response.text
    assert "此人在该时段已有班次" in response.text
    responder = user(db, "responder")
    responder.active = False
    db.commit()
    response = post_form(client, "/admin/duty", form(db))
    assert response.status_code == 422
    assert 'data-field-error="user_id"' in response.text
    assert shift_count(db) == before


def test_htmx_gets_only_the_form_back(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "admin", DEMO_PASSWORD)
    response = client.post(
        "/admin/duty",
        data={**form(db, ends_at="bad"), "_csrf_token": csrf_token(client)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert response.text.lstrip().startswith('<form id="shift-form"')
    assert 'name="_csrf_token"' in response.text


@pytest.mark.parametrize(
    ("name", "moment", "expected"),
    [
        ("Asia/Shanghai", datetime(2026, 1, 15, tzinfo=UTC), ("Asia/Shanghai", "+08:00")),
        # Summer time: the offset of the moment asked about, not of the zone in general.
        ("Europe/Berlin", datetime(2026, 1, 15, tzinfo=UTC), ("Europe/Berlin", "+01:00")),
        ("Europe/Berlin", datetime(2026, 7, 15, tzinfo=UTC), ("Europe/Berlin", "+02:00")),
        ("America/New_York", datetime(2026, 1, 15, tzinfo=UTC), ("America/New_York", "-05:00")),
        ("Asia/Kolkata", datetime(2026, 1, 15, tzinfo=UTC), ("Asia/Kolkata", "+05:30")),
        ("UTC", datetime(2026, 1, 15, tzinfo=UTC), ("UTC", "+00:00")),
    ],
)
def test_the_clock_names_the_zone_and_its_offset_then(
    name: str, moment: datetime, expected: tuple[str, str]
) -> None:
    assert clock(zone(name), moment) == dict(zip(("zone", "offset"), expected, strict=True))


def test_the_hints_name_the_configured_zone(
    client: TestClient[Any], db: Session, settings: Settings
) -> None:
    sign_in(client, "admin", DEMO_PASSWORD)
    page = client.get(f"/admin/duty?unit={unit(db, STREET).id}").text
    assert "时间均为 Asia/Shanghai 时间（UTC+08:00）。" in page
    assert "请填写 Asia/Shanghai 时间（UTC+08:00）。" in page
    assert "北京时间" not in page

    # India has no summer time, so its offset is the same whenever the test runs.
    elsewhere = Settings(**{**settings.model_dump(), "timezone": "Asia/Kolkata"})
    with TestClient(create_app(elsewhere), base_url="http://testserver.local") as other:
        sign_in(other, "admin", DEMO_PASSWORD)
        page = other.get(f"/admin/duty?unit={unit(db, STREET).id}").text
        assert "时间均为 Asia/Kolkata 时间（UTC+05:30）。" in page
        assert "或 Asia/Kolkata 时间（UTC+05:30）" in page  # the import's explanation too
        assert "Asia/Shanghai" not in page
        # The form sent back with an error keeps the hint; and in English.
        other.cookies.set(LOCALE_COOKIE, "en")
        refused = other.post(
            "/admin/duty",
            data={**form(db, ends_at="bad"), "_csrf_token": csrf_token(other)},
            headers={"HX-Request": "true"},
        )
        assert refused.status_code == 422
        assert "Enter times in Asia/Kolkata (UTC+05:30)." in refused.text


def test_a_deleted_shift_is_gone_and_recorded(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "admin", DEMO_PASSWORD)
    assert post_form(client, "/admin/duty", form(db)).status_code == 303
    shift_id = db.execute(
        select(DutyShift.id).where(DutyShift.user_id == user(db, "responder").id)
    ).scalar_one()
    before = shift_count(db)
    response = post_form(client, f"/admin/duty/{shift_id}/delete", {})
    assert response.status_code == 303
    assert shift_count(db) == before - 1
    [event] = events(db, "duty.shift_deleted")
    assert event.entity_id == str(shift_id)
    assert event.data["username"] == "responder"
    assert post_form(client, f"/admin/duty/{shift_id}/delete", {}).status_code == 404


def test_an_area_administrator_stays_in_the_area(client: TestClient[Any], db: Session) -> None:
    create_user_by_codes(
        db,
        UserInput("qingshan.admin", "青山区管理员", Role.ADMIN.value, DEMO_PASSWORD),
        "420107",
        None,
    )
    jiangan = unit(db, "420102")
    city_shift = (
        db.execute(
            select(DutyShift.id)
            .join(Unit, Unit.id == DutyShift.unit_id)
            .where(Unit.code == "420100")
        )
        .scalars()
        .first()
    )
    assert city_shift is not None
    sign_in(client, "qingshan.admin", DEMO_PASSWORD)
    assert client.get(f"/admin/duty?unit={jiangan.id}").status_code == 404
    page = client.get("/admin/duty").text
    assert f'<option value="{jiangan.id}"' not in page
    before = shift_count(db)
    response = post_form(
        client, "/admin/duty", form(db, "city", unit_id=str(unit(db, "420100").id))
    )
    assert response.status_code == 422
    assert 'data-field-error="unit_id"' in response.text
    assert post_form(client, f"/admin/duty/{city_shift}/delete", {}).status_code == 404
    assert shift_count(db) == before


@pytest.mark.parametrize("username", ["district", "dispatcher"])
def test_only_administrators_reach_the_roster(
    client: TestClient[Any], db: Session, username: str
) -> None:
    sign_in(client, username, DEMO_PASSWORD)
    before = shift_count(db)
    assert client.get("/admin/duty").status_code == 403
    assert post_form(client, "/admin/duty", form(db)).status_code == 403
    assert shift_count(db) == before


def upload(client: TestClient[Any], content: bytes, name: str = "roster.csv") -> Any:
    return client.post(
        "/admin/duty/import",
        files={"file": (name, content, "text/csv")},
        data={"_csrf_token": csrf_token(client)},
    )


def counts_in(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', html)}


def test_csv_import_reports_each_row_and_is_idempotent(
    client: TestClient[Any], db: Session
) -> None:
    sign_in(client, "admin", DEMO_PASSWORD)
    day, next_day = local_day(40), local_day(41)
    now = utcnow().astimezone(SHANGHAI)
    rows = [
        "unit_code,username,starts_at,ends_at,note",
        f"{STREET},responder,{day}T08:00,{day}T20:00,白班",  # Beijing time
        f"{STREET},responder,{day}T12:00:00+00:00,{next_day}T00:00:00+00:00,夜班",  # with offset
        f"420107,district,{day} 08:00,{day} 20:00,",
        f"999999,responder,{day}T08:00,{day}T20:00,",  # unknown unit
        f"{STREET},inspector,{day}T08:00,{day}T20:00,",  # not a member of the street
        f"{STREET},responder,{day}T20:00,{day}T08:00,",  # ends before it starts
        f"{STREET},responder,{day}T09:00,{day}T10:00,",  # overlaps row 2
        f"{STREET},responder,{day}T08:00,{day}T20:00,白班",  # the same shift twice
        f"{STREET},dispatcher,{(now - timedelta(hours=1)).isoformat()},"
        f"{(now + timedelta(hours=1)).isoformat()},",  # overlaps the demo roster
    ]
    content = ("\n".join(rows) + "\n").encode()
    before = shift_count(db)
    response = upload(client, content)
    assert response.status_code == 200
    assert counts_in(response.text) == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 6}
    for line, error in [
        (5, "duty.unit"),
        (6, "duty.not_member"),
        (7, "duty.end_before_start"),
        (8, "duty.overlap"),
        (9, "duty.duplicate_row"),
        (10, "duty.overlap"),
    ]:
        assert f'data-line="{line}"' in response.text
        assert f'data-error="{error}"' in response.text
    assert shift_count(db) == before + 3
    night = db.execute(
        select(DutyShift).where(
            DutyShift.user_id == user(db, "responder").id, DutyShift.note == "夜班"
        )
    ).scalar_one()
    assert night.ends_at - night.starts_at == timedelta(hours=12)
    assert night.starts_at.hour == 12
    assert len(events(db, "duty.imported")) == 1
    # Again: nothing changes, nothing is recorded.
    again = upload(client, content)
    assert counts_in(again.text) == {"created": 0, "updated": 0, "unchanged": 3, "rejected": 6}
    assert shift_count(db) == before + 3
    assert len(events(db, "duty.imported")) == 1
    # A later end for the same (unit, person, start) updates that shift.
    changed = f"unit_code,username,starts_at,ends_at,note\n{STREET},responder,{day}T08:00,{day}T19:00,短白班\n"
    third = upload(client, changed.encode())
    assert counts_in(third.text) == {"created": 0, "updated": 1, "unchanged": 0, "rejected": 0}
    assert shift_count(db) == before + 3
    db.expire_all()
    assert db.execute(select(DutyShift.id).where(DutyShift.note == "短白班")).first() is not None


def test_a_gbk_file_with_chinese_headers_imports(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "admin", DEMO_PASSWORD)
    day = local_day(50)
    text = f"单位编码,用户名,开始时间,结束时间,备注\n{STREET},responder,{day} 08:00,{day} 20:00,国庆值班\n"
    response = upload(client, text.encode("gbk"))
    assert counts_in(response.text)["created"] == 1
    db.expire_all()
    assert db.execute(select(DutyShift.id).where(DutyShift.note == "国庆值班")).first() is not None


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "import_empty"),
        (b"unit_code,username\n420107001,responder\n", "import_missing_columns"),
        (b"\x00\x01\x02binary", "import_unsupported"),
    ],
)
def test_a_bad_file_is_refused_whole(
    client: TestClient[Any], db: Session, content: bytes, code: str
) -> None:
    sign_in(client, "admin", DEMO_PASSWORD)
    before = shift_count(db)
    response = upload(client, content)
    assert response.status_code in (413, 415, 422)
    assert f'data-error-code="{code}"' in response.text
    assert shift_count(db) == before


def test_on_duty_follows_the_roster(client: TestClient[Any], db: Session) -> None:
    street = unit(db, STREET)
    now = utcnow()
    dispatcher, responder = user(db, "dispatcher"), user(db, "responder")
    # The demo roster: the dispatcher stands duty for the street now.
    assert on_duty(db, [street.path], now)[street.path] == [dispatcher.id]
    sign_in(client, "admin", DEMO_PASSWORD)
    local = now.astimezone(SHANGHAI)
    data = form(
        db,
        starts_at=(local - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"),
        ends_at=(local + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
    )
    assert post_form(client, "/admin/duty", data).status_code == 303
    db.expire_all()
    assert on_duty(db, [street.path], now)[street.path] == sorted([dispatcher.id, responder.id])
    # Three hours on, only the demo roster's shift (or its successor) remains.
    later = now + timedelta(hours=3)
    assert on_duty(db, [street.path], later)[street.path] == [dispatcher.id]


def test_the_demo_roster_is_written_once(db: Session) -> None:
    # Day and night shifts from last night's for 14 days, for the street, district and city.
    assert shift_count(db) == 3 * 15 * 2
    notes = set(db.execute(select(DutyShift.note)).scalars())
    assert notes == {"白班", "夜班"}
    assert "duty_shifts" not in seed(db)
    assert shift_count(db) == 90
    db.execute(delete(DutyShift))
    db.commit()
    assert seed(db) == {}
    assert shift_count(db) == 0
