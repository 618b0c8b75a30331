"""Enterprise onboarding from registration exports: rows, encodings, file errors, page and CLI."""

from __future__ import annotations

import csv
import io
import random
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlmodel import Session

from backend.cli import main
from backend.demo.seed import credit_code
from backend.enterprises import importing
from backend.enterprises.credit_code import ALPHABET
from backend.enterprises.importing import import_file
from backend.errors import AppError
from backend.i18n import Translator
from backend.models import Enterprise, Event, Role, Unit, User
from backend.settings import Settings
from tests.conftest import TEST_SECRET, csrf_token, sign_in

SAMPLE = Path(__file__).resolve().parent.parent / "backend" / "demo" / "enterprises-sample.csv"
ZH_HEADER = [
    "统一社会信用代码",
    "企业名称",
    "行业",
    "注册地址",
    "所属网格",
    "联系人",
    "联系电话",
    "经度",
    "纬度",
]
EN_HEADER = [
    "credit_code",
    "name",
    "industry",
    "address",
    "grid_code",
    "contact_name",
    "contact_phone",
    "longitude",
    "latitude",
]
GRID = "420107001001"
OTHER_GRID = "420107001002"


def new_code(seed: int, division: str = "420107") -> str:
    return credit_code(random.Random(f"import-test-{seed}"), division)


def wrong_check(code: str) -> str:
    return code[:17] + ALPHABET[(ALPHABET.index(code[17]) + 1) % len(ALPHABET)]


def row(code: str, name: str, grid: str = GRID, industry: str = "危化", **extra: str) -> list[str]:
    values = {
        "address": "青山区红卫路1号",
        "contact_name": "刘工",
        "contact_phone": "13800000000",
        "longitude": "114.39",
        "latitude": "30.63",
        **extra,
    }
    return [
        code,
        name,
        industry,
        values["address"],
        grid,
        values["contact_name"],
        values["contact_phone"],
        values["longitude"],
        values["latitude"],
    ]


def csv_file(
    rows: list[list[str]], header: list[str] = ZH_HEADER, encoding: str = "utf-8"
) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue().encode(encoding)


def count(db: Session, model: Any, *where: Any) -> int:
    return db.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def stored(db: Session, code: str) -> dict[str, Any] | None:
    """Read straight from the database, not from the session's identity map."""
    found = db.execute(
        select(Enterprise.__table__, Unit.code.label("grid_code"))  # type: ignore[attr-defined]
        .join(Unit, Unit.id == Enterprise.grid_id)
        .where(Enterprise.credit_code == code)
    ).one_or_none()
    return None if found is None else dict(found._mapping)


def demo_enterprise(db: Session) -> dict[str, Any]:
    code = (
        db.execute(
            select(Enterprise.credit_code)
            .join(Unit, Unit.id == Enterprise.grid_id)
            .where(Unit.code == GRID)
            .order_by(Enterprise.id)
        )
        .scalars()
        .first()
    )
    assert code is not None
    found = stored(db, code)
    assert found is not None
    return found


def import_error(db: Session, filename: str, content: bytes) -> str:
    with pytest.raises(AppError) as caught:
        import_file(db, filename, content, actor_id=None)
    return caught.value.code


# The service ------------------------------------------------------------------------------


def test_sample_file_imports_and_a_second_import_changes_nothing(db: Session) -> None:
    content = SAMPLE.read_bytes()
    first = import_file(db, SAMPLE.name, content, actor_id=None)
    assert (len(first.created), len(first.updated), len(first.rejected)) == (10, 0, 0)
    assert count(db, Event, Event.action == "enterprise.imported_created") == 10
    assert count(db, Event, Event.action == "enterprise.import") == 1
    for imported in first.created:
        found = stored(db, imported.credit_code)
        assert found is not None
        assert found["id"] == imported.enterprise_id
    enterprises, events = count(db, Enterprise), count(db, Event)
    updated_at = db.execute(select(func.max(Enterprise.updated_at))).scalar_one()

    second = import_file(db, SAMPLE.name, content, actor_id=None)
    assert (len(second.created), len(second.updated), len(second.unchanged)) == (0, 0, 10)
    assert (count(db, Enterprise), count(db, Event)) == (enterprises, events)
    assert db.execute(select(func.max(Enterprise.updated_at))).scalar_one() == updated_at


def test_each_bad_row_is_rejected_with_its_code_and_good_rows_still_import(db: Session) -> None:
    good, bad_check = new_code(1), new_code(2)
    rows = [
        row(good, "武汉良好化工有限公司"),  # line 2
        row(wrong_check(bad_check), "校验位错误有限公司"),  # line 3
        row(new_code(3), "未知网格有限公司", grid="420107009999"),  # line 4
        row(new_code(4), "未知行业有限公司", industry="餐饮"),  # line 5
        row(good.lower(), "重复代码有限公司"),  # line 6: same code, differently typed
        row(new_code(5), "坐标错误有限公司", latitude="91.5"),  # line 7
        row(new_code(6), "街道不是网格有限公司", grid="420107001"),  # line 8
    ]
    events = count(db, Event)
    report = import_file(db, "mixed.csv", csv_file(rows), actor_id=None)
    assert [r.line for r in report.created] == [2]
    assert {r.line: r.errors for r in report.rejected} == {
        3: {"credit_code": "credit_code.check"},
        4: {"grid_code": "import.grid_unknown"},
        5: {"industry": "industry"},
        6: {"credit_code": "import.duplicate_code"},
        7: {"latitude": "coordinate"},
        8: {"grid_code": "import.not_a_grid"},
    }
    found = stored(db, good)
    assert found is not None
    assert found["name"] == "武汉良好化工有限公司"
    for code in (bad_check, wrong_check(bad_check), *(new_code(n) for n in (3, 4, 5, 6))):
        assert stored(db, code) is None
    # One created-event and the summary: rejected rows leave no trace.
    assert count(db, Event) == events + 2


def test_an_update_touches_only_the_fields_that_differ(db: Session) -> None:
    before = demo_enterprise(db)
    untouched = db.execute(
        select(Enterprise.id, Enterprise.updated_at).where(Enterprise.id != before["id"])
    ).all()
    values = [before[name] for name in EN_HEADER]
    values[EN_HEADER.index("contact_phone")] = "027-86660000"
    values = ["" if value is None else str(value) for value in values]
    report = import_file(db, "update.csv", csv_file([values], header=EN_HEADER), actor_id=None)
    assert [r.enterprise_id for r in report.updated] == [before["id"]]
    assert report.updated[0].changes == {"contact_phone": [before["contact_phone"], "027-86660000"]}
    after = stored(db, before["credit_code"])
    assert after is not None
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {"contact_phone", "updated_at"}
    event = db.execute(
        select(Event).where(Event.action == "enterprise.imported_updated")
    ).scalar_one()
    assert event.entity_id == str(before["id"])
    assert event.data["changes"] == {"contact_phone": [before["contact_phone"], "027-86660000"]}
    assert (
        db.execute(
            select(Enterprise.id, Enterprise.updated_at).where(Enterprise.id != before["id"])
        ).all()
        == untouched
    )


def test_a_file_without_optional_columns_keeps_their_values(db: Session) -> None:
    before = demo_enterprise(db)
    header = ["统一社会信用代码", "企业名称", "行业", "网格编码"]
    same = [before["credit_code"], before["name"], before["industry"], GRID]
    assert len(import_file(db, "a.csv", csv_file([same], header), None).unchanged) == 1
    renamed = [before["credit_code"], "武汉新名称有限公司", before["industry"], GRID]
    report = import_file(db, "b.csv", csv_file([renamed], header), None)
    assert list(report.updated[0].changes) == ["name"]
    after = stored(db, before["credit_code"])
    assert after is not None
    for key in ("address", "contact_name", "contact_phone", "latitude", "longitude"):
        assert after[key] == before[key]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_are_detected(db: Session, encoding: str) -> None:
    code = new_code(10)
    content = csv_file(
        [row(code, "武汉硚口区粉尘涉爆企业", industry="粉尘涉爆")], encoding=encoding
    )
    report = import_file(db, "导出.csv", content, None)
    assert len(report.created) == 1
    found = stored(db, code)
    assert found is not None
    assert (found["name"], found["industry"]) == ("武汉硚口区粉尘涉爆企业", "dust_explosion")


def test_xlsx_with_numeric_cells_and_a_blank_row(db: Session) -> None:
    code = new_code(20)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(ZH_HEADER)
    # Excel users type grid codes, phones and coordinates as numbers.
    sheet.append(
        [
            code,
            "武汉表格导入有限公司",
            "冶金",
            "青山区",
            420107001001,
            "王工",
            13912345678,
            114.4,
            30.6,
        ]
    )
    sheet.append([])
    sheet.append([new_code(21), "网格不存在有限公司", "冶金", "", 420199999999])
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = import_file(db, "企业名单.xlsx", buffer.getvalue(), None)
    assert [r.line for r in report.created] == [2]
    assert {r.line: r.errors for r in report.rejected} == {4: {"grid_code": "import.grid_unknown"}}
    found = stored(db, code)
    assert found is not None
    assert (found["grid_code"], found["contact_phone"]) == (GRID, "13912345678")
    assert (found["longitude"], found["latitude"]) == (114.4, 30.6)


def _zip_of(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, "hello")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "content", "code"),
    [
        ("empty.csv", b"", "import_empty"),
        ("blank.csv", b" \r\n\r\n", "import_empty"),
        ("header-only.csv", csv_file([]), "import_empty"),
        (
            "no-grid.csv",
            "统一社会信用代码,企业名称,行业\r\nX,Y,Z\r\n".encode(),
            "import_missing_columns",
        ),
        ("two-addresses.csv", csv_file([], [*ZH_HEADER, "地址"]), "import_duplicate_columns"),
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "import_unsupported"),
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "import_unsupported"),
        ("utf16.csv", "统一社会信用代码".encode("utf-16"), "import_unsupported"),
        ("report.xlsx", b"this is no workbook", "import_unsupported"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "import_unsupported"),
        ("archive.xlsx", _zip_of("readme.txt"), "import_unsupported"),
        ("huge.csv", b"x" * (importing.MAX_BYTES + 1), "import_too_large"),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_whole(
    db: Session, filename: str, content: bytes, code: str
) -> None:
    before = (count(db, Enterprise), count(db, Event))
    assert import_error(db, filename, content) == code
    assert (count(db, Enterprise), count(db, Event)) == before


def test_too_many_rows_is_refused(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importing, "MAX_ROWS", 2)
    rows = [row(new_code(n), f"企业{n}") for n in range(30, 33)]
    assert import_error(db, "many.csv", csv_file(rows)) == "import_too_large"
    assert len(import_file(db, "two.csv", csv_file(rows[:2]), None).created) == 2


def test_thousands_of_rows_in_chunks_stay_idempotent(db: Session) -> None:
    # More rows than one IN-list chunk, so a lookup that misses a chunk re-creates (and fails).
    rows = [row(new_code(1000 + n), f"批量企业{n}") for n in range(importing.CHUNK + 300)]
    content = csv_file(rows)
    assert len(import_file(db, "bulk.csv", content, None).created) == len(rows)
    again = import_file(db, "bulk.csv", content, None)
    assert (len(again.created), len(again.unchanged)) == (0, len(rows))


def test_an_actor_is_bounded_by_their_area(db: Session) -> None:
    jiang_an = db.execute(select(Unit).where(Unit.code == "420102")).scalar_one()
    actor = User(
        username="admin-jiangan",
        display_name="江岸区管理员",
        role=Role.ADMIN,
        password_hash="never-signs-in",
        unit_id=jiang_an.id,
    )
    db.add(actor)
    db.commit()
    other = demo_enterprise(db)  # in Qingshan, outside Jiang'an
    rows = [
        row(new_code(40, "420102"), "江岸区新企业", grid="420102001001"),
        row(new_code(41), "青山区新企业"),
        row(other["credit_code"], "改名企业", grid="420102001001"),
    ]
    report = import_file(db, "area.csv", csv_file(rows), actor.id)
    assert [r.line for r in report.created] == [2]
    assert {r.line: r.errors for r in report.rejected} == {
        3: {"grid_code": "grid"},
        4: {"credit_code": "credit_code.taken"},
    }
    assert stored(db, other["credit_code"]) == other
    event = db.execute(select(Event).where(Event.action == "enterprise.import")).scalar_one()
    assert (event.actor_id, event.unit_path) == (actor.id, jiang_an.path)


def test_a_dry_run_saves_nothing(db: Session) -> None:
    before = demo_enterprise(db)
    values = ["" if before[name] is None else str(before[name]) for name in EN_HEADER]
    values[EN_HEADER.index("name")] = "试运行新名称"
    content = csv_file([row(new_code(50), "试运行企业"), values])
    events = count(db, Event)
    report = import_file(db, "dry.csv", content, None, dry_run=True)
    assert (len(report.created), len(report.updated)) == (1, 1)
    assert report.updated[0].changes == {"name": [before["name"], "试运行新名称"]}
    assert stored(db, new_code(50)) is None
    assert stored(db, before["credit_code"]) == before
    assert count(db, Event) == events


def test_moving_an_enterprise_to_another_grid_moves_its_officers(db: Session) -> None:
    officer = db.execute(select(User).where(User.username == "enterprise")).scalar_one()
    version = officer.scope_version
    enterprise = db.get(Enterprise, officer.enterprise_id)
    assert enterprise is not None
    grids = dict(db.execute(select(Unit.code, Unit.id)).all())
    assert officer.unit_id == grids[GRID]
    content = csv_file(
        [row(enterprise.credit_code, enterprise.name, OTHER_GRID, enterprise.industry)]
    )

    checked = import_file(db, "move.csv", content, actor_id=None, dry_run=True)
    assert checked.updated[0].changes["grid_id"] == [grids[GRID], grids[OTHER_GRID]]
    db.rollback()
    unmoved = db.get(User, officer.id)
    assert unmoved is not None
    assert (unmoved.unit_id, unmoved.scope_version) == (grids[GRID], version)

    import_file(db, "move.csv", content, actor_id=None)
    db.rollback()
    moved = db.get(User, officer.id)
    assert moved is not None
    assert (moved.unit_id, moved.scope_version) == (grids[OTHER_GRID], version + 1)
    after = stored(db, enterprise.credit_code)
    assert after is not None
    assert after["grid_code"] == OTHER_GRID


# The page ---------------------------------------------------------------------------------


def upload(
    client: TestClient[Any],
    content: bytes,
    filename: str = "企业.csv",
    headers: dict[str, str] | None = None,
    **data: str,
) -> Any:
    return client.post(
        "/admin/import",
        data={"_csrf_token": csrf_token(client), **data},
        files={"file": (filename, content, "text/csv")},
        headers=headers,
        follow_redirects=False,
    )


def counts_in(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', html)}


def test_an_administrator_imports_through_the_page(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "admin")
    form = client.get("/admin/import")
    assert form.status_code == 200
    assert 'name="file"' in form.text
    assert 'name="_csrf_token"' in form.text
    assert 'href="/admin/import"' in client.get("/admin").text
    sample = client.get("/admin/import/sample.csv")
    assert (sample.status_code, sample.content) == (200, SAMPLE.read_bytes())

    checked = upload(client, SAMPLE.read_bytes(), dry_run="true")
    assert checked.status_code == 200
    assert counts_in(checked.text) == {"created": 10, "updated": 0, "unchanged": 0, "rejected": 0}
    assert 'data-dry-run="true"' in checked.text
    assert count(db, Event, Event.action == "enterprise.import") == 0

    rows = [row(new_code(60), "页面导入企业"), row(wrong_check(new_code(61)), "坏代码企业")]
    done = upload(client, csv_file(rows, encoding="gbk"), headers={"HX-Request": "true"})
    assert done.status_code == 200
    assert "<html" not in done.text  # htmx gets only the form and the report
    assert counts_in(done.text) == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert re.search(
        r'data-line="3">.*?data-field="credit_code" data-error="credit_code.check"', done.text, re.S
    )
    assert stored(db, new_code(60)) is not None
    event = db.execute(select(Event).where(Event.action == "enterprise.import")).scalar_one()
    assert event.actor_id == db.execute(select(User.id).where(User.username == "admin")).scalar()


def test_the_page_shows_a_file_level_error(client: TestClient[Any]) -> None:
    sign_in(client, "admin")
    response = upload(client, "企业名称\r\n某企业\r\n".encode())
    assert response.status_code == 422
    assert 'data-error-code="import_missing_columns"' in response.text
    empty = upload(client, b"", filename="")
    assert empty.status_code == 422
    assert 'data-error-code="import_empty"' in empty.text


def test_only_administrators_may_import(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "inspector")
    assert client.get("/admin/import").status_code == 403
    assert upload(client, csv_file([row(new_code(70), "越权企业")])).status_code == 403
    assert stored(db, new_code(70)) is None


def test_an_upload_without_csrf_token_is_refused(client: TestClient[Any], db: Session) -> None:
    sign_in(client, "admin")
    response = client.post(
        "/admin/import",
        files={"file": ("x.csv", csv_file([row(new_code(80), "无令牌企业")]), "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert stored(db, new_code(80)) is None


# The command ------------------------------------------------------------------------------


def test_the_command_imports_checks_and_reports_rejects(
    settings: Settings, db: Session, tmp_path: Path
) -> None:
    env = {
        "GRIDSAFE_DATABASE_URL": settings.database_url,
        "GRIDSAFE_SECRET_KEY": TEST_SECRET,
        "GRIDSAFE_DATA_DIR": str(tmp_path / "cli-data"),
    }
    runner = CliRunner()
    dry = runner.invoke(main, ["import-enterprises", "--dry-run", str(SAMPLE)], env=env)
    assert dry.exit_code == 0, dry.output
    assert count(db, Event, Event.action == "enterprise.imported_created") == 0

    done = runner.invoke(main, ["import-enterprises", str(SAMPLE)], env=env)
    assert done.exit_code == 0, done.output
    assert count(db, Event, Event.action == "enterprise.imported_created") == 10

    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_file([row(new_code(90), "命令行企业"), row("", "没有代码企业")]))
    rejected = runner.invoke(main, ["import-enterprises", str(bad)], env=env)
    assert rejected.exit_code == 1
    assert "row 3" in rejected.output
    assert "credit_code=credit_code.length" in rejected.output
    assert stored(db, new_code(90)) is not None


@pytest.mark.parametrize(
    ("filename", "content", "code"),
    [
        (
            "no-grid.csv",
            csv_file([row(new_code(95), "缺列企业")[:4]], ZH_HEADER[:4]),
            "import_missing_columns",
        ),
        ("scan.pdf", b"%PDF-1.7\n%binary\n", "import_unsupported"),
        ("empty.csv", b"\r\n", "import_empty"),
    ],
)
def test_the_command_refuses_a_bad_file_with_a_message_not_a_traceback(
    settings: Settings, db: Session, tmp_path: Path, filename: str, content: bytes, code: str
) -> None:
    with pytest.raises(AppError) as caught:
        importing.read_rows(filename, content)
    assert caught.value.code == code
    path = tmp_path / filename
    path.write_bytes(content)
    env = {
        "GRIDSAFE_DATABASE_URL": settings.database_url,
        "GRIDSAFE_SECRET_KEY": TEST_SECRET,
        "GRIDSAFE_DATA_DIR": str(tmp_path / "cli-data"),
    }
    events = count(db, Event)
    result = CliRunner().invoke(main, ["import-enterprises", str(path)], env=env)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a clean refusal, not a traceback
    english = Translator("en")(f"errors.{code}", **caught.value.params)
    assert f"Error: {english}" in result.output
    assert count(db, Event) == events
