"""Local time for people: the filter, reading datetime-local fields back, notifications, pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

from backend.app import create_app
from backend.models import Notification, Severity
from backend.settings import ConfigurationError, Settings
from backend.tasks.rules import DEADLINES
from backend.timezone import format_local, from_local_input, to_local_input, zone
from tests.conftest import TEST_SECRET, sign_in
from tests.test_loop import assign, open_task, reported, user_id

SHANGHAI = zone("Asia/Shanghai")
BERLIN = zone("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("moment", "where", "shown"),
    [
        (utc(2026, 11, 25, 13, 0), SHANGHAI, "2026-11-25 21:00"),
        # The date boundary: late afternoon in UTC is already tomorrow in Beijing.
        (utc(2026, 11, 25, 17, 0), SHANGHAI, "2026-11-26 01:00"),
        (utc(2026, 12, 31, 16, 30), SHANGHAI, "2027-01-01 00:30"),
        # Berlin: UTC+1 in winter, UTC+2 in summer.
        (utc(2026, 1, 15, 8, 0), BERLIN, "2026-01-15 09:00"),
        (utc(2026, 7, 15, 8, 0), BERLIN, "2026-07-15 10:00"),
        # A naive value is taken as UTC, as the columns hold it.
        (datetime(2026, 11, 25, 17, 0), SHANGHAI, "2026-11-26 01:00"),  # noqa: DTZ001
    ],
)
def test_format_local(moment: datetime, where: Any, shown: str) -> None:
    assert format_local(moment, where) == shown


def test_format_local_of_nothing_is_empty() -> None:
    assert format_local(None, SHANGHAI) == ""
    assert to_local_input(None, SHANGHAI) == ""


@pytest.mark.parametrize(
    ("typed", "where", "stored"),
    [
        ("2026-11-26T09:00", SHANGHAI, utc(2026, 11, 26, 1, 0)),
        # 07:00 in Beijing is still yesterday in UTC.
        ("2026-11-26T07:00", SHANGHAI, utc(2026, 11, 25, 23, 0)),
        ("2026-01-15T09:00", BERLIN, utc(2026, 1, 15, 8, 0)),
        ("2026-07-15T09:00", BERLIN, utc(2026, 7, 15, 7, 0)),
        # An explicit offset wins over the zone (an API client, a pasted ISO time).
        ("2026-11-26T09:00+00:00", SHANGHAI, utc(2026, 11, 26, 9, 0)),
        ("  2026-11-26T09:00  ", SHANGHAI, utc(2026, 11, 26, 1, 0)),
    ],
)
def test_reading_a_datetime_local_field(typed: str, where: Any, stored: datetime) -> None:
    moment = from_local_input(typed, where)
    assert moment == stored
    assert moment is not None
    assert moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize("typed", ["", "tomorrow", "2026-13-01T09:00", "09:00"])
def test_unreadable_fields_are_none(typed: str) -> None:
    assert from_local_input(typed, SHANGHAI) is None


@pytest.mark.parametrize(
    ("where", "ambiguous"), [(SHANGHAI, []), (BERLIN, [utc(2026, 10, 25, 1, 0)])]
)
def test_round_trip_through_the_field(where: Any, ambiguous: list[datetime]) -> None:
    """Every hour of a year, shown in a field and read back, is the same moment, except the
    second pass of the hour Berlin's clocks repeat in October (a datetime-local field cannot say
    which pass it means); Shanghai has no such hour."""
    moment, lost = utc(2026, 1, 1, 0, 0), []
    while moment.year == 2026:
        if from_local_input(to_local_input(moment, where), where) != moment:
            lost.append(moment)
        moment += timedelta(hours=1)
    assert lost == ambiguous


def test_daylight_saving_gaps_and_repeats_read_as_before_the_change() -> None:
    # 2026-03-29 02:30 does not exist in Berlin (read with winter's +01:00, so it is 03:30
    # summer time); 2026-10-25 02:30 happens twice (read as the first, summer's +02:00).
    assert from_local_input("2026-03-29T02:30", BERLIN) == utc(2026, 3, 29, 1, 30)
    assert from_local_input("2026-10-25T02:30", BERLIN) == utc(2026, 10, 25, 0, 30)


def test_the_setting_is_checked_at_start_up(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).zone == SHANGHAI
    assert Settings(data_dir=tmp_path, timezone="Europe/Berlin").zone == BERLIN
    for wrong in ("Mars/Olympus_Mons", "", "../etc/passwd"):
        with pytest.raises(ConfigurationError, match="GRIDSAFE_TIMEZONE"):
            Settings(data_dir=tmp_path, timezone=wrong)


def test_the_filter_uses_the_configured_zone(tmp_path: Path) -> None:
    def render(name: str) -> str:
        settings = Settings(data_dir=tmp_path, secret_key=TEST_SECRET, timezone=name)
        environment = create_app(settings).state.jinja_env
        template = environment.from_string(
            "{{ m|local }}|{{ m|local('%m-%d %H:%M') }}|{{ m|local_input }}|{{ none|local }}"
        )
        return template.render(m=utc(2026, 11, 25, 17, 5), none=None)

    assert render("Asia/Shanghai") == "2026-11-26 01:05|11-26 01:05|2026-11-26T01:05|"
    assert render("Europe/Berlin") == "2026-11-25 18:05|11-25 18:05|2026-11-25T18:05|"


def test_templates_print_no_utc_times() -> None:
    templates = Path(__file__).resolve().parent.parent / "pwa" / "templates"
    for path in templates.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert " UTC" not in text, path
        assert "(UTC)" not in text, path


def test_a_deadline_typed_as_0900_is_stored_as_0100_utc_and_shown_as_0900(
    client: TestClient[Litestar], db: Session
) -> None:
    hazard_id = reported(client, db)
    sign_in(client, "dispatcher")
    # The form's proposed deadlines are local time too (frozen, so the minute is known).
    frozen = datetime.now(UTC).replace(second=0, microsecond=0)
    with time_machine.travel(frozen, tick=False):
        card = client.get(f"/hazards/{hazard_id}")
    accept, _ = DEADLINES[Severity.GENERAL]
    assert f'name="accept_by" value="{to_local_input(frozen + accept, SHANGHAI)}"' in card.text

    day = (datetime.now(SHANGHAI) + timedelta(days=2)).date()
    responder = user_id(db, "responder")
    response = assign(
        client,
        hazard_id,
        [responder],
        accept_by=f"{day}T09:00",
        rectify_by=f"{day + timedelta(days=3)}T18:30",
    )
    assert response.status_code == 303, response.text
    task = open_task(db, hazard_id)
    assert task.accept_by == datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
    assert task.rectify_by == datetime(day.year, day.month, day.day, 10, 30, tzinfo=UTC) + (
        timedelta(days=3)
    )

    card = client.get(f"/hazards/{hazard_id}")
    assert f"<dd>{day} 09:00</dd>" in card.text
    assert f"<dd>{day + timedelta(days=3)} 18:30</dd>" in card.text
    assert "UTC" not in card.text

    # The push the responder gets names the same local time.
    db.expire_all()
    body = db.execute(
        select(Notification.body).where(Notification.kind == "task.offered")
    ).scalar_one()
    assert f"{day:%m-%d} 09:00" in body
    assert "UTC" not in body

    sign_in(client, "responder")
    inbox = client.get("/tasks")
    assert f"{day:%m-%d} 09:00" in inbox.text
