"""The risk report: numbers on known data (a month in Beijing time, its edges included), scope,
and the same table in the page, the CSV (UTF-8 with BOM) and the XLSX (read back with openpyxl)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import Session

from backend.auth.policy import Principal
from backend.errors import AppError
from backend.models import Role, Unit, User
from backend.riskviews.export import to_csv, to_xlsx
from backend.riskviews.reports import COLOURS, INDUSTRIES, Row, period_of, risk_report
from tests.conftest import sign_in
from tests.riskviews_data import (
    NOW,
    add_enterprise,
    add_hazard,
    add_inspection,
    clear_plan,
    set_profile,
    unit,
)

BEIJING = ZoneInfo("Asia/Shanghai")
MONTH = "2026-10"
GRID = "420107001001"
STREET = "420107001"


def beijing(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BEIJING).astimezone(UTC)  # type: ignore[misc]


def principal(db: Session, username: str) -> Principal:
    user = db.execute(select(User).where(User.username == username)).scalar_one()
    home = db.get(Unit, user.unit_id)
    assert home is not None
    assert user.id is not None
    return Principal(
        user.id,
        user.username,
        user.display_name,
        Role(user.role),
        home.id or 0,
        home.path,
        home.name,
        user.enterprise_id,
    )


def test_period_is_a_local_calendar_month() -> None:
    period = period_of(MONTH, NOW, BEIJING)
    assert period.start == datetime(2026, 9, 30, 16, tzinfo=UTC)
    assert period.end == datetime(2026, 10, 31, 16, tzinfo=UTC)
    december = period_of("2026-12", NOW, BEIJING)
    assert december.end == datetime(2026, 12, 31, 16, tzinfo=UTC)
    # Default: the month it is now in Beijing (16:30 UTC on the 31st is already the 1st there).
    assert period_of("", datetime(2026, 10, 31, 16, 30, tzinfo=UTC), BEIJING).month == "2026-11"


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "abc", "1999-01", "2026-00", "2026-10-01"])
def test_bad_month_is_refused(month: str) -> None:
    with pytest.raises(AppError) as refused:
        period_of(month, NOW, BEIJING)
    assert refused.value.code == "validation_failed"


def row_of(db: Session, username: str, unit_code: str) -> Row:
    report = risk_report(db, principal(db, username), period_of(MONTH, NOW, BEIJING))
    target = unit(db, unit_code).id
    return next(row for row in report.rows if row.unit_id == target)


def test_numbers_on_known_data(db: Session) -> None:
    clear_plan(db)
    before = row_of(db, "district", STREET)
    due_unchecked = add_enterprise(db, GRID, "报表应检未检", industry="hazardous_chemicals")
    set_profile(db, due_unchecked, "red", beijing(2026, 10, 10))
    checked = add_enterprise(db, GRID, "报表已检", industry="metallurgy")
    set_profile(db, checked, "orange", beijing(2026, 12, 15))  # moved on by the inspection
    add_inspection(db, checked, beijing(2026, 10, 20, 9))
    add_inspection(db, checked, beijing(2026, 10, 21, 9))  # twice: still one enterprise done
    later = add_enterprise(db, GRID, "报表下月到期", industry="metallurgy")
    set_profile(db, later, "yellow", beijing(2026, 11, 1, 0, 30))  # after the period's end
    add_inspection(db, later, beijing(2026, 10, 31, 23, 59), kind="self_check")  # not counted
    add_inspection(db, later, beijing(2026, 11, 1, 0, 1))  # next month
    ungraded = add_enterprise(db, GRID, "报表未评级", industry="other")
    # Hazards: the month's edges are Beijing midnights.
    add_hazard(db, ungraded, reported_at=beijing(2026, 10, 1, 0, 0))
    add_hazard(db, ungraded, reported_at=beijing(2026, 9, 30, 23, 59))
    add_hazard(db, ungraded, reported_at=beijing(2026, 10, 31, 23, 59))
    add_hazard(
        db,
        ungraded,
        state="closed",
        reported_at=beijing(2026, 9, 1),
        closed_at=beijing(2026, 10, 15),
    )
    add_hazard(
        db,
        ungraded,
        state="closed",
        reported_at=beijing(2026, 10, 2),
        closed_at=beijing(2026, 11, 1, 0, 30),
    )
    after = row_of(db, "district", STREET)

    def delta(name: str) -> int:
        return int(getattr(after, name) - getattr(before, name))

    assert {c: after.colours[c] - before.colours[c] for c in COLOURS} == {
        "red": 1,
        "orange": 1,
        "yellow": 1,
        "blue": 0,
        "none": 1,
    }
    assert {i: after.industries[i] - before.industries[i] for i in INDUSTRIES} == {
        "hazardous_chemicals": 1,
        "metallurgy": 2,
        "dust_explosion": 0,
        "aluminium_processing": 0,
        "other": 1,
    }
    assert after.enterprises - before.enterprises == 4
    assert delta("planned") == 2  # due_unchecked, checked
    assert delta("done") == 1  # checked
    assert delta("hazards_found") == 3  # Oct 1 00:00, Oct 31 23:59, Oct 2
    assert delta("hazards_closed") == 1  # Oct 15


def test_scope(db: Session) -> None:
    district = risk_report(db, principal(db, "district"), period_of(MONTH, NOW, BEIJING))
    streets = {
        u.id
        for u in db.execute(select(Unit).where(Unit.parent_id == unit(db, "420107").id)).scalars()
    }
    assert {row.unit_id for row in district.rows} == streets
    grid = risk_report(db, principal(db, "inspector"), period_of(MONTH, NOW, BEIJING))
    assert [row.unit_id for row in grid.rows] == [unit(db, GRID).id]
    city = risk_report(db, principal(db, "city"), period_of(MONTH, NOW, BEIJING))
    assert len(city.rows) == 13  # the districts
    assert city.total.enterprises >= district.total.enterprises > 0
    for name in ("enterprise", "responder"):
        with pytest.raises(AppError) as refused:
            risk_report(db, principal(db, name), period_of(MONTH, NOW, BEIJING))
        assert refused.value.code == "forbidden"


def html_table(text: str) -> list[list[str]]:
    body = text.split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [[html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row, re.S)] for row in rows]


def test_page_csv_and_xlsx_agree(client: TestClient[Any], db: Session) -> None:
    enterprise = add_enterprise(db, GRID, "导出测试=SUM(A1)", industry="dust_explosion")
    set_profile(db, enterprise, "red", beijing(2026, 10, 3))
    add_hazard(db, enterprise, reported_at=beijing(2026, 10, 9))
    sign_in(client, "district")
    page = client.get("/reports/risk", params={"month": MONTH})
    assert page.status_code == 200
    shown = html_table(page.text)
    assert len(shown) == 1 + len(
        db.execute(select(Unit).where(Unit.parent_id == unit(db, "420107").id)).all()
    )

    exported = client.get("/reports/risk.csv", params={"month": MONTH})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert 'filename="risk-report-2026-10.csv"' in exported.headers["content-disposition"]
    assert exported.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert table[0][0] in ("单位", "Unit")
    assert len(table[0]) == len(table[1])
    assert table[1:] == shown

    workbook = client.get("/reports/risk.xlsx", params={"month": MONTH})
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    assert sheet is not None
    cells = [[str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    assert cells[0] == table[0]
    assert cells[1:] == shown
    # The total row adds up the units in every format.
    totals = [int(v) for v in shown[-1][1:]]
    assert totals == [sum(int(r[i]) for r in shown[:-1]) for i in range(1, len(shown[0]))]
    street = next(r for r in shown if r[0] == "红卫路街道")
    assert int(street[1]) > 0
    assert int(street[-2]) >= 1


def test_report_for_other_roles(client: TestClient[Any]) -> None:
    sign_in(client, "enterprise")
    assert client.get("/reports/risk").status_code == 403
    assert client.get("/reports/risk.csv").status_code == 403


def test_bad_month_in_the_url(client: TestClient[Any]) -> None:
    sign_in(client, "district")
    assert client.get("/reports/risk.xlsx", params={"month": "2026-13"}).status_code == 422


def test_exports_never_write_a_formula() -> None:
    head = ["单位", "企业数"]
    rows: list[list[Any]] = [['=HYPERLINK("x")', 3], ["-1+1", 0], ["红卫路街道", 2]]
    text = to_csv(head, rows).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text)))[1:] == [
        ['\'=HYPERLINK("x")', "3"],
        ["'-1+1", "0"],
        ["红卫路街道", "2"],
    ]
    sheet = load_workbook(io.BytesIO(to_xlsx("2026-10", head, rows))).active
    assert sheet is not None
    assert sheet["A2"].value == '\'=HYPERLINK("x")'
    assert sheet["A2"].data_type == "s"
    assert sheet["B2"].value == 3
