"""The risk profile page, recording and importing enforcement decisions and accidents, scoping,
the badge on the enterprise page and the public card, and the recompute command."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from backend.cli import main
from backend.models import (
    Accident,
    CodeKind,
    EnforcementRecord,
    Enterprise,
    Event,
    RiskProfile,
)
from backend.models.push import Notification
from backend.risk.scoring import DEFAULT_WEIGHTS
from backend.settings import Settings
from tests.conftest import csrf_token, enterprise_in, post_form, sign_in
from tests.test_codes import path_for
from tests.test_risk import rescored

HONGWEILU = "420107001001"  # the demo inspector's grid (青山区)
DAZHI = "420102001001"  # 江岸区: another district


def count(db: Session, model: Any) -> int:
    db.expire_all()
    return int(db.execute(select(func.count()).select_from(model)).scalar_one())


def colour(db: Session, enterprise_id: int) -> str:
    db.expire_all()
    return str(
        db.execute(
            select(RiskProfile.colour).where(RiskProfile.enterprise_id == enterprise_id)
        ).scalar_one()
    )


def upload(client: TestClient[Any], kind: str, text: str, encoding: str = "utf-8") -> Any:
    return client.post(
        "/risk/import",
        data={"_csrf_token": csrf_token(client), "kind": kind},
        files=[("file", ("records.csv", text.encode(encoding), "text/csv"))],
        follow_redirects=False,
    )


def test_the_profile_page_explains_the_score_in_the_area_only(
    client: TestClient[Any], db: Session
) -> None:
    enterprise = enterprise_in(db, HONGWEILU)
    profile = db.get(RiskProfile, enterprise.id)
    assert profile is not None
    sign_in(client, "inspector")
    page = client.get(f"/enterprises/{enterprise.id}/risk")
    assert page.status_code == 200
    assert f'data-risk-colour="{profile.colour}"' in page.text
    assert 'data-factor="industry"' in page.text
    assert "data-form=" not in page.text  # an inspector reads, officers record
    detail = client.get(f"/enterprises/{enterprise.id}")
    assert f'data-risk-colour="{profile.colour}"' in detail.text
    assert f'href="/enterprises/{enterprise.id}/risk"' in detail.text
    sign_in(client, "inspector2")
    assert client.get(f"/enterprises/{enterprise.id}/risk").status_code == 404


def test_an_officer_records_enforcement_and_the_score_follows(
    client: TestClient[Any], db: Session
) -> None:
    enterprise = enterprise_in(db, HONGWEILU)
    url = f"/enterprises/{enterprise.id}/risk/enforcement"
    sign_in(client, "district")
    bad = post_form(
        client, url, {"decided_on": "2026-13-01", "kind": "spanking", "amount_yuan": "-5"}
    )
    assert bad.status_code == 422
    for field in ("decided_on", "kind", "amount_yuan"):
        assert f'data-field-error="{field}"' in bad.text
    future = post_form(client, url, {"decided_on": "2999-01-01", "kind": "fine"})
    assert future.status_code == 422
    assert count(db, EnforcementRecord) == 4  # the demo's, nothing more

    ok = post_form(
        client, url, {"decided_on": "2026-11-01", "kind": "suspension", "description": "停产整顿"}
    )
    assert ok.status_code == 303
    assert ok.headers["location"] == f"/enterprises/{enterprise.id}/risk"
    rescored(db)
    profile = db.get(RiskProfile, enterprise.id)
    assert profile is not None
    assert [f["points"] for f in profile.factors if f["factor"] == "enforcement"] == [20]
    recorded = db.execute(
        select(Event).where(Event.action == "risk.enforcement_recorded")
    ).scalar_one()
    assert recorded.entity_id == str(enterprise.id)
    assert "data-enforcement-records" in client.get(f"/enterprises/{enterprise.id}/risk").text


def test_an_accident_can_turn_an_enterprise_red_and_tells_the_street_and_district(
    client: TestClient[Any], db: Session
) -> None:
    enterprise = enterprise_in(db, HONGWEILU)
    assert enterprise.id is not None
    sign_in(client, "dispatcher")
    sent = post_form(
        client,
        f"/enterprises/{enterprise.id}/risk/accident",
        {"occurred_on": "2026-10-01", "level": "major", "deaths": "3", "injuries": "2"},
    )
    assert sent.status_code == 303
    rescored(db)
    assert colour(db, enterprise.id) == "red"
    assert count(db, Accident) == 3
    titles = db.execute(select(Notification.title).where(Notification.kind == "risk.red")).scalars()
    assert any(enterprise.name in title for title in titles)


def test_who_may_record(client: TestClient[Any], db: Session) -> None:
    mine, theirs = enterprise_in(db, HONGWEILU), enterprise_in(db, DAZHI)
    form = {"decided_on": "2026-11-01", "kind": "warning"}
    sign_in(client, "inspector")  # not an officer
    assert post_form(client, f"/enterprises/{mine.id}/risk/enforcement", form).status_code == 403
    sign_in(client, "district")  # 青山区 officer, enterprise in 江岸区
    assert post_form(client, f"/enterprises/{theirs.id}/risk/enforcement", form).status_code == 404
    assert client.get(f"/enterprises/{theirs.id}/risk").status_code == 404
    sign_in(client, "enterprise")
    assert post_form(client, f"/enterprises/{mine.id}/risk/enforcement", form).status_code == 403
    assert count(db, EnforcementRecord) == 4


def test_csv_import_is_all_or_nothing_with_row_errors(client: TestClient[Any], db: Session) -> None:
    mine, theirs = enterprise_in(db, HONGWEILU), enterprise_in(db, DAZHI)
    sign_in(client, "district")
    header = "统一社会信用代码,决定日期,执法类型,罚款金额,说明\n"
    bad = upload(
        client,
        "enforcement",
        header
        + f"{mine.credit_code},2026-10-01,fine,20000,超量储存\n"
        + f"{theirs.credit_code},2026-10-01,fine,1,别的区\n"
        + "911111111111111111,2026/10/01,warning,,不存在\n"
        + f"{mine.credit_code},2026-02-30,nonsense,x,\n",
    )
    assert bad.status_code == 422
    for where in ("3:credit_code", "4:credit_code", "5:decided_on", "5:kind", "5:amount_yuan"):
        assert f'data-row-error="{where}"' in bad.text
    assert 'data-row-error="2:' not in bad.text
    assert count(db, EnforcementRecord) == 4

    missing = upload(client, "accident", "统一社会信用代码,说明\n1,2\n")
    assert missing.status_code == 422
    assert 'data-error-code="import_missing_columns"' in missing.text

    good = upload(
        client,
        "accident",
        "统一社会信用代码,发生日期,事故等级,死亡人数,受伤人数\n"
        f"{mine.credit_code},2026-09-01,general,0,1\n{mine.credit_code},2026-09-02,general,0,0\n",
        encoding="gb18030",
    )
    assert good.status_code == 200
    assert 'data-imported="2"' in good.text
    assert count(db, Accident) == 4
    rescored(db)
    profile = db.get(RiskProfile, mine.id)
    assert profile is not None
    assert any(f["factor"] == "accidents" for f in profile.factors)
    sources = set(
        db.execute(select(Accident.source).where(Accident.enterprise_id == mine.id)).scalars()
    )
    assert sources == {"import"}


def test_the_public_card_shows_the_risk_colour(
    client: TestClient[Any], db: Session, settings: Settings
) -> None:
    enterprise = enterprise_in(db, HONGWEILU)
    assert enterprise.id is not None
    card = client.get(path_for(settings, CodeKind.ENTERPRISE, enterprise.id))
    assert card.status_code == 200
    assert f'data-risk-colour="{colour(db, enterprise.id)}"' in card.text


def test_the_recompute_command(settings: Settings, db: Session, monkeypatch: Any) -> None:
    monkeypatch.setenv("GRIDSAFE_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("GRIDSAFE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("GRIDSAFE_SECRET_KEY", settings.secret_key)
    enterprise = enterprise_in(db, HONGWEILU)
    assert enterprise.id is not None
    # New weights: "other" industries score 75 and turn red.
    weights = settings.data_dir / "weights.toml"
    weights.parent.mkdir(parents=True, exist_ok=True)
    shipped = DEFAULT_WEIGHTS.read_text(encoding="utf-8")
    weights.write_text(
        shipped.replace("version = 1", "version = 2").replace("other = 5", "other = 75", 1)
    )
    monkeypatch.setenv("GRIDSAFE_RISK_WEIGHTS", str(weights))
    result = CliRunner().invoke(main, ["risk", "recompute", "--batch", "50"])
    assert result.exit_code == 0, result.output
    assert "rescored 320 enterprises with weights version 2" in result.output
    db.expire_all()
    versions = set(db.execute(select(RiskProfile.scoring_version)).scalars())
    assert versions == {2}
    others = db.execute(
        select(RiskProfile.colour)
        .join(Enterprise, Enterprise.id == RiskProfile.enterprise_id)
        .where(Enterprise.industry == "other")
    ).scalars()
    assert set(others) == {"red"}
