"""Public reports on a real database (SQLite and PostgreSQL): anyone holding a poster reports a
problem without an account (CSRF, honeypot, a per-address limit counted in the database, translated
field errors), nothing private reaches the public, and people working the area (scope in SQL) file
a hazard from a report or dismiss it, both recorded in the history."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image
from sqlalchemy import select
from sqlmodel import Session

from backend.app import create_app
from backend.auth.policy import Principal
from backend.codes.keys import code_path, keyring_of
from backend.models import CodeKind, Enterprise, Event, KeyPoint, PublicReport, QrCode, Role
from backend.public_reports.policy import public_report_allowed, sees_public_report
from backend.settings import Settings
from tests.conftest import csrf_token, enterprise_in, sign_in

BASE = "http://testserver.local"
HONGWEILU_GRID = "420107001001"  # the inspector's grid, in 红卫路街道 (the dispatcher's street)
DAZHI_GRID = "420102001001"  # inspector2's grid, in another district

Clients = Callable[[str | None], TestClient[Litestar]]


@pytest.fixture
def clients(settings: Settings) -> Iterator[Clients]:
    with ExitStack() as stack:

        def make(username: str | None) -> TestClient[Litestar]:
            client = stack.enter_context(TestClient(create_app(settings), base_url=BASE))
            if username:
                sign_in(client, username)
            return client

        yield make


def attribute(html: str, name: str) -> list[str]:
    return re.findall(rf'{name}="([^"]*)"', html)


def poster(settings: Settings, enterprise: Enterprise) -> str:
    return code_path(keyring_of(settings), CodeKind.ENTERPRISE, enterprise.id or 0, 1)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def send(
    client: TestClient[Litestar],
    url: str,
    photo: bytes | None = None,
    csrf: bool = True,
    **fields: str,
) -> Any:
    form = {
        "category": "fire",
        "description": "消防通道被货物堵死 exit blocked",
        "contact_phone": "",
        **fields,
    }
    if csrf:
        form["_csrf_token"] = csrf_token(client)
    files = {"photo": ("p.png", photo, "image/png")} if photo is not None else None
    return client.post(url, data=form, files=files, follow_redirects=False)


def reports(db: Session) -> list[PublicReport]:
    db.expire_all()
    return list(db.execute(select(PublicReport).order_by(PublicReport.id)).scalars())


def events(db: Session, action: str) -> list[dict[str, Any]]:
    db.expire_all()
    rows = db.execute(select(Event.data).where(Event.action == action).order_by(Event.id))
    return list(rows.scalars())


def test_anyone_reports_a_problem_from_the_public_card(
    clients: Clients, db: Session, settings: Settings
) -> None:
    stranger = clients(None)
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    path = poster(settings, enterprise)
    card = stranger.get(path)
    [link] = re.findall(r'data-field="report" href="([^"]*)"', card.text)
    assert link == f"{path}/report"
    form = stranger.get(link)
    assert form.status_code == 200
    assert 'name="_csrf_token"' in form.text
    assert "private" in form.headers["cache-control"]

    response = send(stranger, link, png(), contact_phone="138 0000 1234")
    assert (response.status_code, response.headers["location"]) == (303, f"{link}?sent=1")
    assert "data-report-sent" in stranger.get(response.headers["location"]).text
    [report] = reports(db)
    grid_path = db.execute(select(Enterprise).where(Enterprise.id == enterprise.id)).scalar_one()
    assert grid_path.id == enterprise.id
    assert (report.enterprise_id, report.category, report.state) == (enterprise.id, "fire", "open")
    assert report.description == "消防通道被货物堵死 exit blocked"
    assert report.contact_phone == "138 0000 1234"
    assert report.unit_path.endswith(f"/{HONGWEILU_GRID}/")
    assert report.ip == "testclient"
    assert report.photo is not None
    assert report.photo[:2] == b"\xff\xd8"  # re-encoded as JPEG by the server
    assert [e["enterprise_id"] for e in events(db, "public_report.received")] == [enterprise.id]

    # A key point's poster reports against its enterprise, naming the point.
    point = (
        db.execute(
            select(KeyPoint).where(KeyPoint.enterprise_id == enterprise.id).order_by(KeyPoint.id)
        )
        .scalars()
        .first()
    )
    assert point is not None
    point_path = code_path(keyring_of(settings), CodeKind.POINT, point.id or 0, 1)
    assert send(stranger, f"{point_path}/report", category="gas").status_code == 303
    latest = reports(db)[-1]
    assert (latest.enterprise_id, latest.key_point_id, latest.photo) == (
        enterprise.id,
        point.id,
        None,
    )


def test_bad_input_is_refused_with_translated_reasons_and_stores_nothing(
    clients: Clients, db: Session, settings: Settings
) -> None:
    stranger = clients(None)
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    url = f"{poster(settings, enterprise)}/report"
    for fields, field in [
        ({"category": "arson"}, "category"),
        ({"description": "坏"}, "description"),
        ({"description": "x" * 1001}, "description"),
        ({"contact_phone": "call me maybe"}, "contact_phone"),
    ]:
        response = send(stranger, url, **fields)
        assert response.status_code == 422, fields
        assert attribute(response.text, "data-field-error") == [field], fields
        assert attribute(response.text, "data-error-code") == ["validation_failed"]
    refused = send(stranger, url, b"not an image")
    assert (refused.status_code, attribute(refused.text, "data-field-error")) == (422, ["photo"])
    assert "无法识别该照片文件" in refused.text  # Chinese by default
    # Without the CSRF token: refused before anything is read.
    assert send(stranger, url, csrf=False).status_code == 403
    # A robot that fills the hidden field is thanked and dropped.
    robot = send(stranger, url, website="http://spam.example")
    assert robot.status_code == 303
    stranger.cookies.set("gs_lang", "en")
    assert "Not a phone number." in send(stranger, url, contact_phone="??").text
    assert reports(db) == []
    assert events(db, "public_report.received") == []


def test_forged_and_revoked_posters_take_no_report(
    clients: Clients, db: Session, settings: Settings
) -> None:
    stranger = clients(None)
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    path = poster(settings, enterprise)
    forged = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    assert stranger.get(f"{forged}/report").status_code == 404
    assert send(stranger, f"{forged}/report").status_code == 404
    db.add(QrCode(kind="enterprise", subject_id=enterprise.id or 0, version=1, revoked=True))
    db.commit()
    page = stranger.get(f"{path}/report")
    assert page.status_code == 410
    assert enterprise.name not in page.text
    assert send(stranger, f"{path}/report").status_code == 410
    assert reports(db) == []


def test_one_address_is_limited_per_window(db: Session, settings: Settings, tmp_path: Any) -> None:
    limited = settings.model_copy(update={"public_report_max_per_address": 2})
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    url = f"{poster(settings, enterprise)}/report"
    with TestClient(create_app(limited), base_url=BASE) as stranger:
        assert [send(stranger, url).status_code for _ in range(2)] == [303, 303]
        refused = send(stranger, url)
        assert refused.status_code == 429
        assert attribute(refused.text, "data-error-code") == ["rate_limited"]
        assert "60 分钟" in refused.text
    assert len(reports(db)) == 2


@pytest.mark.parametrize(
    ("recent", "limit", "allowed"), [(0, 5, True), (4, 5, True), (5, 5, False), (9, 5, False)]
)
def test_public_report_allowed(recent: int, limit: int, allowed: bool) -> None:
    assert public_report_allowed(recent, limit) is allowed


GRID = "/420100/420107/420107001/420107001001/"


@pytest.mark.parametrize(
    ("role", "unit_path", "enterprise_id", "sees"),
    [
        (Role.GRID_INSPECTOR, GRID, None, True),
        (Role.STREET_DISPATCHER, "/420100/420107/420107001/", None, True),
        (Role.DISTRICT_OFFICER, "/420100/420102/", None, False),
        (Role.CITY_OFFICER, "/420100/", None, True),
        (Role.ENTERPRISE_OFFICER, GRID, 7, False),  # not even about itself
    ],
)
def test_sees_public_report(
    role: Role, unit_path: str, enterprise_id: int | None, sees: bool
) -> None:
    who = Principal(1, "u", "U", role, 1, unit_path, "unit", enterprise_id)
    assert sees_public_report(who, GRID) is sees


def submitted(clients: Clients, db: Session, settings: Settings) -> PublicReport:
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    url = f"{poster(settings, enterprise)}/report"
    assert send(clients(None), url, png(), contact_phone="13800001234").status_code == 303
    return reports(db)[-1]


def test_the_area_sees_reports_and_nobody_else(
    clients: Clients, db: Session, settings: Settings
) -> None:
    report = submitted(clients, db, settings)
    for username in ("inspector", "dispatcher", "district", "city"):
        client = clients(username)
        listing = client.get("/public-reports")
        assert attribute(listing.text, "data-public-report") == [str(report.id)], username
        detail = client.get(f"/public-reports/{report.id}")
        assert detail.status_code == 200
        assert "13800001234" in detail.text  # the officers may call back
        photo = client.get(f"/public-reports/{report.id}/photo")
        assert (photo.status_code, photo.headers["content-type"]) == (200, "image/jpeg")
    outsider = clients("inspector2")
    assert attribute(outsider.get("/public-reports").text, "data-public-report") == []
    for url in (f"/public-reports/{report.id}", f"/public-reports/{report.id}/photo"):
        assert outsider.get(url).status_code == 404
    refused = outsider.post(
        f"/public-reports/{report.id}/dismiss",
        data={"reason": "x", "_csrf_token": csrf_token(outsider)},
        follow_redirects=False,
    )
    assert refused.status_code == 404
    officer = clients("enterprise")
    assert officer.get("/public-reports").status_code == 403
    assert officer.get(f"/public-reports/{report.id}").status_code == 403
    # Filtered by state; a stranger is sent to sign in, keeping the filter.
    assert (
        attribute(
            clients("inspector").get("/public-reports?state=dismissed").text, "data-public-report"
        )
        == []
    )
    stranger = clients(None).get("/public-reports?state=all", follow_redirects=False)
    assert stranger.headers["location"] == "/signin?next=/public-reports%3Fstate%3Dall"
    assert reports(db)[0].state == "open"


def test_filing_a_hazard_from_a_report(clients: Clients, db: Session, settings: Settings) -> None:
    report = submitted(clients, db, settings)
    inspector = clients("inspector")
    response = inspector.post(
        f"/public-reports/{report.id}/convert",
        data={"_csrf_token": csrf_token(inspector)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert target.path == "/hazards/new"
    assert query["enterprise_id"] == str(report.enterprise_id)
    assert query["category"] == "fire"
    assert query["description"] == f"【群众举报 #{report.id}】{report.description}"
    assert "13800001234" not in response.headers["location"]
    form = inspector.get(response.headers["location"])
    assert report.description in form.text
    [stored] = reports(db)
    assert (stored.state, stored.handled_by is not None, stored.handled_at is not None) == (
        "converted",
        True,
        True,
    )
    assert [e["enterprise_id"] for e in events(db, "public_report.converted")] == [
        report.enterprise_id
    ]
    # Handled once: a second officer acting on it is told it changed.
    again = clients("dispatcher")
    late = again.post(
        f"/public-reports/{report.id}/dismiss",
        data={"reason": "重复", "_csrf_token": csrf_token(again)},
        follow_redirects=False,
    )
    assert late.status_code == 409
    assert reports(db)[0].state == "converted"


def test_dismissing_a_report_needs_a_reason(
    clients: Clients, db: Session, settings: Settings
) -> None:
    report = submitted(clients, db, settings)
    dispatcher = clients("dispatcher")
    url = f"/public-reports/{report.id}/dismiss"
    empty = dispatcher.post(
        url, data={"reason": "  ", "_csrf_token": csrf_token(dispatcher)}, follow_redirects=False
    )
    assert (empty.status_code, attribute(empty.text, "data-field-error")) == (422, ["reason"])
    assert reports(db)[0].state == "open"
    done = dispatcher.post(
        url,
        data={"reason": "现场核实无此问题", "_csrf_token": csrf_token(dispatcher)},
        follow_redirects=False,
    )
    assert (done.status_code, done.headers["location"]) == (303, f"/public-reports/{report.id}")
    [stored] = reports(db)
    assert (stored.state, stored.dismiss_reason) == ("dismissed", "现场核实无此问题")
    assert [e["reason"] for e in events(db, "public_report.dismissed")] == ["现场核实无此问题"]
    assert "现场核实无此问题" in dispatcher.get(f"/public-reports/{report.id}").text


def test_nothing_private_reaches_the_public(
    clients: Clients, db: Session, settings: Settings
) -> None:
    report = submitted(clients, db, settings)
    enterprise = db.get(Enterprise, report.enterprise_id)
    assert enterprise is not None
    stranger = clients(None)
    path = poster(settings, enterprise)
    for page in (stranger.get(path), stranger.get(f"{path}/report")):
        assert page.status_code == 200
        for private in (
            enterprise.credit_code,
            enterprise.address,
            enterprise.contact_name,
            enterprise.contact_phone,
            report.description,
            report.contact_phone,
        ):
            assert private not in page.text
        assert "/public-reports" not in page.text
