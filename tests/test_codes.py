"""Enterprise and key-point codes on a real database (SQLite and PostgreSQL): printed codes decode
to URLs that open the right subject, verdicts reach the page, the public card leaks nothing,
scans open what each person may do, and only officers in the area print, rotate and revoke."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import select
from sqlmodel import Session

import qr
from backend.app import create_app
from backend.auth.policy import Principal, ScanView, scan_view
from backend.codes.keys import code_path, keyring_of
from backend.codes.services import resolve
from backend.models import (
    CheckIn,
    CodeKind,
    Enterprise,
    Event,
    Hazard,
    KeyPoint,
    QrCode,
    RiskProfile,
    Role,
    Unit,
    User,
    utcnow,
)
from backend.settings import ConfigurationError, Settings
from qr.decoding import read_png, read_svg
from tests.conftest import TEST_SECRET, enterprise_in, post_form, sign_in

BASE = "http://testserver.local"
HONGWEILU_GRID = "420107001001"  # the inspector's grid; the enterprise officer's enterprise is here
DAZHI_GRID = "420102001001"  # inspector2's grid, in another district
PUBLIC_FIELDS = {
    "name",
    "industry",
    "risk",
    "grid",
    "inspector_name",
    "inspector_phone",
    "report",
}

Clients = Callable[[str | None], TestClient[Litestar]]


@pytest.fixture
def clients(settings: Settings) -> Iterator[Clients]:
    """One phone per person, each with its own cookies; None is a stranger, signed in as no one.
    Each gets its own app instance (as several web processes would): test clients sharing one
    app would share its lifespan, and the first to close would end the others'."""
    with ExitStack() as stack:

        def make(username: str | None) -> TestClient[Litestar]:
            client = stack.enter_context(TestClient(create_app(settings), base_url=BASE))
            if username:
                sign_in(client, username)
            return client

        yield make


class Tags(HTMLParser):
    """Every start tag's attributes, and the text inside elements that carry data-field."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[dict[str, str]] = []
        self.fields: dict[str, str] = {}
        self._open: list[str | None] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags.append({"tag": tag, **values})
        if tag not in {"input", "img", "br", "meta", "link"}:
            self._open.append(values.get("data-field"))
            if "data-field" in values:
                self.fields[values["data-field"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag not in {"input", "img", "br", "meta", "link"} and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for name in self._open:
            if name:
                self.fields[name] += data

    def values(self, attribute: str) -> list[str]:
        return [tag[attribute] for tag in self.tags if attribute in tag]

    def text(self, field: str) -> str:
        return " ".join(self.fields.get(field, "").split())


def grid(db: Session, code: str) -> Unit:
    return db.execute(select(Unit).where(Unit.code == code)).scalar_one()


def points_of(db: Session, enterprise_id: int) -> list[KeyPoint]:
    stmt = select(KeyPoint).where(KeyPoint.enterprise_id == enterprise_id).order_by(KeyPoint.id)
    return list(db.execute(stmt).scalars())


def user(db: Session, username: str) -> User:
    return db.execute(select(User).where(User.username == username)).scalar_one()


def path_for(settings: Settings, kind: CodeKind, subject_id: int, version: int = 1) -> str:
    return code_path(keyring_of(settings), kind, subject_id, version)


def code_state(db: Session, kind: CodeKind, subject_id: int) -> QrCode | None:
    db.expire_all()
    return db.get(QrCode, (kind.value, subject_id))


def view_of(response: Any) -> tuple[int, list[str], list[str]]:
    tags = Tags(response.text)
    return response.status_code, tags.values("data-scan-view"), tags.values("data-code-status")


# --- Round trip: printed codes decode to URLs that open their subject --------------------------


def test_every_printed_code_decodes_to_a_url_that_opens_its_subject(
    clients: Clients, db: Session, settings: Settings
) -> None:
    dispatcher, stranger = clients("dispatcher"), clients(None)
    sheet_grid = grid(db, HONGWEILU_GRID)
    sheet = dispatcher.get(f"/codes/grids/{sheet_grid.id}")
    assert sheet.status_code == 200
    images = Tags(sheet.text).values("src")
    assert images, "the sheet shows no code"
    opened: set[tuple[str, int]] = set()
    for src in images:
        found = re.fullmatch(r"/codes/(enterprises|points)/(\d+)/qr\.svg\?v=1", src)
        assert found, src
        kind = CodeKind.ENTERPRISE if found.group(1) == "enterprises" else CodeKind.POINT
        subject_id = int(found.group(2))
        svg = dispatcher.get(src)
        png = dispatcher.get(src.replace("qr.svg", "qr.png"))
        assert (svg.headers["content-type"], png.headers["content-type"]) == (
            "image/svg+xml",
            "image/png",
        )
        [url] = read_png(png.content)
        assert read_svg(svg.text) == [url]
        assert url.startswith(f"{BASE}/{'e' if kind is CodeKind.ENTERPRISE else 'p'}/")
        # The server resolves the URL to the subject it was printed for...
        token = url.rsplit("/", 1)[1]
        scan = resolve(db, keyring_of(settings), kind, token)
        assert scan.verdict.status is qr.Status.VALID
        assert scan.subject is not None
        assert scan.subject.id == subject_id
        # ...and a plain phone camera opening it lands on that subject's public card.
        landing = stranger.get(url.removeprefix(BASE))
        assert landing.status_code == 200
        card = Tags(landing.text)
        if kind is CodeKind.ENTERPRISE:
            assert card.text("name") == db.get(Enterprise, subject_id).name  # type: ignore[union-attr]
        else:
            point = db.get(KeyPoint, subject_id)
            assert point is not None
            assert card.text("point_name") == point.name
            assert card.text("name") == db.get(Enterprise, point.enterprise_id).name  # type: ignore[union-attr]
        opened.add((kind.value, subject_id))
    enterprises = db.execute(
        select(Enterprise.id).where(Enterprise.grid_id == sheet_grid.id, Enterprise.active)
    ).scalars()
    expected = {("enterprise", e) for e in enterprises}
    expected |= {
        ("point", p.id)
        for enterprise_id in [e for _, e in expected]
        for p in points_of(db, enterprise_id)
        if p.id is not None
    }
    assert opened == expected


def test_codes_carry_the_configured_public_url(
    settings: Settings, db: Session, tmp_path: Path
) -> None:
    configured = Settings(
        env="dev",
        data_dir=tmp_path / "other",
        database_url=settings.database_url,
        broker_url="memory://",
        secret_key=TEST_SECRET,
        public_url="https://gridsafe.example.org/",
    )
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    with TestClient(create_app(configured), base_url=BASE) as client:
        sign_in(client, "admin")
        png = client.get(f"/codes/enterprises/{enterprise.id}/qr.png")
    assert png.headers["cache-control"] == "private, no-cache"  # no version asked for
    [url] = read_png(png.content)
    assert url == "https://gridsafe.example.org" + path_for(
        settings, CodeKind.ENTERPRISE, enterprise.id or 0
    )


# --- Verdicts: forged, rotated, revoked ----------------------------------------------------------


def test_altered_truncated_and_misplaced_tokens_are_not_valid_codes(
    clients: Clients, db: Session, settings: Settings
) -> None:
    stranger = clients(None)
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    path = path_for(settings, CodeKind.ENTERPRISE, enterprise.id or 0)
    token = path.rsplit("/", 1)[1]
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    other_secret = qr.issue(
        qr.Keyring.from_secrets("x" * 40), qr.Kind.ENTERPRISE, enterprise.id or 0
    )
    for bad in (
        f"/e/{flipped}",
        f"/e/{token[:-3]}",
        f"/e/{token}AB",
        f"/p/{token}",  # an enterprise's token under the point prefix
        f"/e/{other_secret}",
        "/e/not-a-code",
        "/e/" + "A" * 200,
    ):
        response = stranger.get(bad)
        assert response.status_code == 404, bad
        assert Tags(response.text).values("data-error-code") == ["code_invalid"], bad
        assert enterprise.name not in response.text
    assert stranger.get(path).status_code == 200


def test_rotating_and_revoking_a_code(clients: Clients, db: Session, settings: Settings) -> None:
    dispatcher, stranger = clients("dispatcher"), clients(None)
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    eid = enterprise.id or 0
    first = path_for(settings, CodeKind.ENTERPRISE, eid, 1)
    assert view_of(stranger.get(first)) == (200, ["public"], ["valid"])

    response = post_form(dispatcher, f"/codes/enterprises/{eid}/rotate", {})
    assert (response.status_code, response.headers["location"]) == (
        303,
        f"/codes/enterprises/{eid}",
    )
    state = code_state(db, CodeKind.ENTERPRISE, eid)
    assert state is not None
    assert (state.version, state.revoked, state.replaced_at is not None) == (2, False, True)
    assert state.updated_by == user(db, "dispatcher").id
    second = path_for(settings, CodeKind.ENTERPRISE, eid, 2)
    status, _, statuses = view_of(stranger.get(first))
    assert (status, statuses) == (410, ["rotated"])
    assert view_of(stranger.get(second)) == (200, ["public"], ["valid"])
    # The print sheet and the images now carry version 2.
    assert (
        f"/codes/enterprises/{eid}/qr.svg?v=2"
        in dispatcher.get(f"/codes/grids/{enterprise.grid_id}").text
    )
    [url] = read_png(dispatcher.get(f"/codes/enterprises/{eid}/qr.png?v=2").content)
    assert url == BASE + second

    assert post_form(dispatcher, f"/codes/enterprises/{eid}/revoke", {}).status_code == 303
    state = code_state(db, CodeKind.ENTERPRISE, eid)
    assert state is not None
    assert (state.version, state.revoked, state.revoked_at is not None) == (2, True, True)
    for path in (first, second):
        response = stranger.get(path)
        assert view_of(response)[::2] == (410, ["revoked"])
        assert "data-public-card" not in response.text  # a revoked code shows nothing
    image = dispatcher.get(f"/codes/enterprises/{eid}/qr.png")
    assert (image.status_code, Tags(image.text).values("data-error-code")) == (
        410,
        ["code_revoked"],
    )
    sheet = Tags(dispatcher.get(f"/codes/grids/{enterprise.grid_id}").text)
    assert str(eid) not in sheet.values("data-enterprise")
    assert sheet.values("data-revoked-count") == ["1"]
    # Revoking again changes nothing and records nothing.
    assert post_form(dispatcher, f"/codes/enterprises/{eid}/revoke", {}).status_code == 303

    # Issuing the code again: a new version, the revoked posters now read "replaced".
    assert post_form(dispatcher, f"/codes/enterprises/{eid}/rotate", {}).status_code == 303
    state = code_state(db, CodeKind.ENTERPRISE, eid)
    assert state is not None
    assert (state.version, state.revoked) == (3, False)
    assert view_of(stranger.get(second))[::2] == (410, ["rotated"])
    third = path_for(settings, CodeKind.ENTERPRISE, eid, 3)
    assert view_of(stranger.get(third))[::2] == (200, ["valid"])

    history = db.execute(
        select(Event.action, Event.data)
        .where(Event.entity_type == "enterprise", Event.entity_id == str(eid))
        .order_by(Event.id)
    ).all()
    assert [(action, data["version"]) for action, data in history] == [
        ("code.rotated", 2),
        ("code.revoked", 2),
        ("code.rotated", 3),
    ]


def test_a_key_point_code_rotates_on_its_own(
    clients: Clients, db: Session, settings: Settings
) -> None:
    dispatcher, stranger = clients("dispatcher"), clients(None)
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    point, *others = points_of(db, enterprise.id or 0)
    assert point.id is not None
    response = post_form(dispatcher, f"/codes/points/{point.id}/rotate", {})
    assert response.headers["location"] == f"/codes/enterprises/{enterprise.id}"
    assert view_of(stranger.get(path_for(settings, CodeKind.POINT, point.id)))[::2] == (
        410,
        ["rotated"],
    )
    assert view_of(stranger.get(path_for(settings, CodeKind.POINT, point.id, 2)))[0] == 200
    assert code_state(db, CodeKind.ENTERPRISE, enterprise.id or 0) is None
    for other in others:
        assert view_of(stranger.get(path_for(settings, CodeKind.POINT, other.id or 0)))[0] == 200


def test_an_enterprise_no_longer_supervised_has_no_valid_code(
    clients: Clients, db: Session, settings: Settings
) -> None:
    stranger = clients(None)
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    enterprise.active = False
    db.add(enterprise)
    db.commit()
    path = path_for(settings, CodeKind.ENTERPRISE, enterprise.id or 0)
    assert view_of(stranger.get(path))[::2] == (410, ["revoked"])


def test_server_key_rotation_keeps_old_posters_until_the_old_key_is_retired(
    settings: Settings, db: Session, tmp_path: Path
) -> None:
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    old_path = path_for(settings, CodeKind.ENTERPRISE, enterprise.id or 0)
    new_secret = "a-brand-new-server-secret-0123456789-abcdef"

    def app_with(old_keys: str) -> Litestar:
        return create_app(
            Settings(
                env="dev",
                data_dir=tmp_path / "data",
                database_url=settings.database_url,
                broker_url="memory://",
                secret_key=new_secret,
                qr_old_secret_keys=old_keys,
            )
        )

    with TestClient(app_with(f" {TEST_SECRET} , "), base_url=BASE) as client:
        assert view_of(client.get(old_path))[::2] == (200, ["valid"])
        sign_in(client, "admin")
        [url] = read_png(client.get(f"/codes/enterprises/{enterprise.id}/qr.png").content)
    assert url != BASE + old_path  # new codes are signed with the new key
    with TestClient(app_with(""), base_url=BASE) as client:
        assert client.get(old_path).status_code == 404  # retired
        assert view_of(client.get(url.removeprefix(BASE)))[::2] == (200, ["valid"])


# --- The public card -----------------------------------------------------------------------------


def test_the_public_card_shows_exactly_the_public_fields(
    clients: Clients, db: Session, settings: Settings
) -> None:
    stranger = clients(None)
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    inspector = user(db, "inspector")
    response = stranger.get(path_for(settings, CodeKind.ENTERPRISE, enterprise.id or 0))
    card = Tags(response.text)
    assert set(card.fields) == PUBLIC_FIELDS
    assert card.text("name") == enterprise.name
    assert card.text("inspector_name") == inspector.display_name
    assert card.text("inspector_phone") == inspector.phone != ""
    assert card.text("grid") == grid(db, HONGWEILU_GRID).name
    colour = db.execute(
        select(RiskProfile.colour).where(RiskProfile.enterprise_id == enterprise.id)
    ).scalar_one()
    assert [tag["data-risk-colour"] for tag in card.tags if "data-risk-colour" in tag] == [colour]
    private = [
        enterprise.credit_code,
        enterprise.address,
        enterprise.contact_name,
        enterprise.contact_phone,
        str(enterprise.latitude),
        str(enterprise.longitude),
        "data-open-hazards",
        "check-in-form",
    ]
    assert [value for value in private if value and value in response.text] == []
    assert response.headers["cache-control"] == "private, no-cache"

    # "Report a problem" opens the public report form (no account), which shows the same card
    # and nothing more, not even once someone has reported (the report is for officers only).
    path = path_for(settings, CodeKind.ENTERPRISE, enterprise.id or 0)
    assert [t["href"] for t in card.tags if t.get("data-field") == "report"] == [f"{path}/report"]
    report = {"category": "gas", "description": "闻到燃气味", "contact_phone": "13912345678"}
    sent = post_form(stranger, f"{path}/report", report)
    assert sent.status_code == 303
    for page in (stranger.get(path), stranger.get(f"{path}/report")):
        assert set(Tags(page.text).fields) == PUBLIC_FIELDS
        leaked = [*private, report["description"], report["contact_phone"]]
        assert [value for value in leaked if value and value in page.text] == []

    point = points_of(db, enterprise.id or 0)[0]
    point_card = Tags(stranger.get(path_for(settings, CodeKind.POINT, point.id or 0)).text)
    assert set(point_card.fields) == PUBLIC_FIELDS | {"point_name", "point_kind"}


def test_a_grid_without_an_inspector_says_so(
    clients: Clients, db: Session, settings: Settings
) -> None:
    stranger = clients(None)
    enterprise = enterprise_in(db, "420107001002")
    card = Tags(stranger.get(path_for(settings, CodeKind.ENTERPRISE, enterprise.id or 0)).text)
    assert set(card.fields) == PUBLIC_FIELDS - {"inspector_phone"}


# --- What a scan opens, per person ---------------------------------------------------------------


def person(role: Role, unit_path: str, enterprise_id: int | None = None) -> Principal:
    return Principal(1, "u", "U", role, 1, unit_path, "unit", enterprise_id)


INSPECTOR = person(Role.GRID_INSPECTOR, "/1/2/3/4/")
OFFICER = person(Role.ENTERPRISE_OFFICER, "/1/2/3/4/", enterprise_id=7)


@pytest.mark.parametrize(
    ("who", "enterprise_id", "grid_path", "expected"),
    [
        (None, 7, "/1/2/3/4/", ScanView.PUBLIC),
        (INSPECTOR, 7, "/1/2/3/4/", ScanView.CHECK_IN),
        (INSPECTOR, 8, "/1/2/3/5/", ScanView.PUBLIC),  # another grid
        (OFFICER, 7, "/1/2/3/4/", ScanView.SELF_INSPECTION),
        (OFFICER, 8, "/1/2/3/4/", ScanView.PUBLIC),  # a neighbour in the same grid
        (person(Role.STREET_DISPATCHER, "/1/2/3/"), 7, "/1/2/3/4/", ScanView.CHECK_IN),
        (person(Role.ADMIN, "/1/"), 7, "/1/2/3/4/", ScanView.PUBLIC),  # does not check in
    ],
)
def test_scan_view(
    who: Principal | None, enterprise_id: int, grid_path: str, expected: ScanView
) -> None:
    assert scan_view(who, enterprise_id, grid_path) is expected


def check_in_form(response: Any) -> dict[str, str]:
    [html] = re.findall(r'<form id="check-in-form".*?</form>', response.text, re.DOTALL)
    tags = Tags(html)
    form = tags.tags[0]
    assert (form["method"], form["action"], form["data-outbox"]) == (
        "post",
        "/check-ins",
        "inspection.check_in",
    )
    return {
        tag["name"]: tag.get("value", "")
        for tag in tags.tags
        if tag["tag"] == "input" and tag.get("name") and tag["name"] != "_csrf_token"
    }


def check_ins(db: Session) -> list[CheckIn]:
    db.expire_all()
    return list(db.execute(select(CheckIn).order_by(CheckIn.received_at)).scalars())


def test_an_inspector_checks_in_at_an_enterprise_of_their_grid(
    clients: Clients, db: Session, settings: Settings
) -> None:
    inspector = clients("inspector")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    assert enterprise.latitude is not None
    assert enterprise.longitude is not None
    path = path_for(settings, CodeKind.ENTERPRISE, enterprise.id or 0)
    landing = inspector.get(path)
    assert view_of(landing) == (200, ["check_in"], ["valid"])
    form = check_in_form(landing)
    assert set(form) == {"id", "enterprise_id", "latitude", "longitude", "accuracy_m", "back"}
    assert form["enterprise_id"] == str(enterprise.id)

    # Without JavaScript there is no position: recorded, no distance.
    response = post_form(inspector, "/check-ins", form)
    assert (response.status_code, response.headers["location"]) == (303, path)
    # The same form sent twice is one check-in.
    assert post_form(inspector, "/check-ins", form).status_code == 303
    [plain] = check_ins(db)
    assert (plain.id, plain.enterprise_id, plain.user_id) == (
        form["id"],
        enterprise.id,
        user(db, "inspector").id,
    )
    assert (plain.latitude, plain.distance_m, plain.far) == (None, None, False)
    assert plain.unit_path == grid(db, HONGWEILU_GRID).path
    assert Tags(inspector.get(path).text).values("data-last-check-in") == [plain.id]

    # With a position 1 km north: recorded with the distance, flagged far, not refused.
    far = check_in_form(inspector.get(path))
    far.update(latitude=str(enterprise.latitude + 0.009), longitude=str(enterprise.longitude))
    far["accuracy_m"] = "12.5"
    assert post_form(inspector, "/check-ins", far).status_code == 303
    flagged = next(c for c in check_ins(db) if c.id == far["id"])
    assert flagged.far is True
    assert flagged.distance_m is not None
    assert 950 < flagged.distance_m < 1050
    assert flagged.accuracy_m == 12.5
    events = db.execute(
        select(Event.action).where(Event.action == "inspection.checked_in")
    ).scalars()
    assert len(list(events)) == 2


def test_an_inspector_cannot_check_in_outside_their_area(
    clients: Clients, db: Session, settings: Settings
) -> None:
    outsider = clients("inspector2")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    landing = outsider.get(path_for(settings, CodeKind.ENTERPRISE, enterprise.id or 0))
    assert view_of(landing) == (200, ["public"], ["valid"])
    form = {"id": str(uuid.uuid4()), "enterprise_id": str(enterprise.id), "back": "/"}
    refused = post_form(outsider, "/check-ins", form)
    assert refused.status_code == 403
    assert Tags(refused.text).values("data-error-code") == ["check_in.out_of_scope"]
    assert check_ins(db) == []


def test_bad_check_in_fields_and_a_foreign_back_link(clients: Clients, db: Session) -> None:
    inspector = clients("inspector")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    good = {"id": str(uuid.uuid4()), "enterprise_id": str(enterprise.id)}
    for bad in ({"id": "x"}, {"enterprise_id": "abc"}, {"latitude": "91"}):
        response = post_form(inspector, "/check-ins", {**good, **bad})
        assert response.status_code == 422, bad
    assert check_ins(db) == []
    response = post_form(inspector, "/check-ins", {**good, "back": "https://evil.example/e/AA"})
    assert response.headers["location"] == f"/enterprises/{enterprise.id}"


def test_the_enterprise_officer_lands_on_self_inspection_for_their_own_code_only(
    clients: Clients, db: Session, settings: Settings
) -> None:
    officer = clients("enterprise")
    me = user(db, "enterprise")
    own = db.get(Enterprise, me.enterprise_id)
    assert own is not None
    neighbour = db.execute(
        select(Enterprise).where(Enterprise.grid_id == own.grid_id, Enterprise.id != own.id)
    ).scalars().first() or enterprise_in(db, DAZHI_GRID)
    hazards = {}
    for enterprise in (own, neighbour):
        hazard = Hazard(
            id=str(uuid.uuid4()),
            enterprise_id=enterprise.id,
            grid_id=enterprise.grid_id,
            unit_path=grid(db, HONGWEILU_GRID).path,
            severity="general",
            category="fire",
            description="灭火器过期",
            reported_by=me.id or 0,
            reported_at=utcnow(),
        )
        db.add(hazard)
        hazards[enterprise.id] = hazard.id
    db.commit()

    landing = officer.get(path_for(settings, CodeKind.ENTERPRISE, own.id or 0))
    assert view_of(landing) == (200, ["self_inspection"], ["valid"])
    assert Tags(landing.text).values("data-hazard") == [hazards[own.id]]
    point = points_of(db, own.id or 0)[0]
    assert view_of(officer.get(path_for(settings, CodeKind.POINT, point.id or 0)))[1] == [
        "self_inspection"
    ]

    other = officer.get(path_for(settings, CodeKind.ENTERPRISE, neighbour.id or 0))
    assert view_of(other) == (200, ["public"], ["valid"])
    assert hazards[neighbour.id] not in other.text
    assert set(Tags(other.text).fields) == PUBLIC_FIELDS
    # An enterprise officer does not check in, by form or otherwise.
    form = {"id": str(uuid.uuid4()), "enterprise_id": str(own.id)}
    assert post_form(officer, "/check-ins", form).status_code == 403
    assert check_ins(db) == []


# --- Printing and managing codes: officers within their area -------------------------------------


def test_the_print_sheet_lists_the_grids_enterprises_and_points(
    clients: Clients, db: Session
) -> None:
    dispatcher = clients("dispatcher")
    sheet_grid = grid(db, HONGWEILU_GRID)
    response = dispatcher.get(f"/codes/grids/{sheet_grid.id}")
    tags = Tags(response.text)
    enterprises = list(
        db.execute(
            select(Enterprise).where(Enterprise.grid_id == sheet_grid.id).order_by(Enterprise.name)
        ).scalars()
    )
    assert enterprises
    assert tags.values("data-enterprise") == [str(e.id) for e in enterprises]
    expected_points = {str(p.id) for e in enterprises for p in points_of(db, e.id or 0)}
    assert set(tags.values("data-point")) == expected_points
    print_css = dispatcher.app.state.assets.url("css/print.css")
    assert [t["href"] for t in tags.tags if t["tag"] == "link"] == [print_css]
    assert "style=" not in response.text  # the CSP allows no inline style
    inspector = user(db, "inspector")
    assert response.text.count(inspector.display_name) == len(enterprises)
    for enterprise in enterprises:
        assert enterprise.name in response.text
    index = dispatcher.get("/codes")
    assert f"/codes/grids/{sheet_grid.id}" in index.text
    assert f"/codes/grids/{grid(db, DAZHI_GRID).id}" not in index.text


def test_print_css_lays_out_a4_pages() -> None:
    css = (Path(__file__).resolve().parent.parent / "pwa/static/css/print.css").read_text()
    assert re.search(r"@page\s*{[^}]*size:\s*A4", css)
    assert "break-after: page" in css


@pytest.mark.parametrize(
    ("username", "grid_code", "grid_status", "status"),
    [
        ("admin", DAZHI_GRID, 200, 200),
        ("district", HONGWEILU_GRID, 200, 200),
        ("district", DAZHI_GRID, 404, 404),  # another district: as if it did not exist
        ("dispatcher", DAZHI_GRID, 404, 404),
        ("inspector", HONGWEILU_GRID, 403, 403),  # sees it, may not print
        ("responder", HONGWEILU_GRID, 403, 403),
        ("city", HONGWEILU_GRID, 403, 403),
        ("enterprise", HONGWEILU_GRID, 404, 403),  # sees its own enterprise, no grid
        ("enterprise", DAZHI_GRID, 404, 404),
    ],
)
def test_who_may_print_and_change_codes(
    clients: Clients, db: Session, username: str, grid_code: str, grid_status: int, status: int
) -> None:
    client = clients(username)
    sheet_grid = grid(db, grid_code)
    enterprise = enterprise_in(db, grid_code)
    point = points_of(db, enterprise.id or 0)[0]
    assert client.get(f"/codes/grids/{sheet_grid.id}").status_code == grid_status
    assert client.get(f"/codes/enterprises/{enterprise.id}").status_code == status
    for image in (f"/codes/enterprises/{enterprise.id}/qr.svg", f"/codes/points/{point.id}/qr.png"):
        assert client.get(image).status_code == status
    changed = status == 200
    for action in ("rotate", "revoke"):
        response = post_form(client, f"/codes/points/{point.id}/{action}", {})
        assert response.status_code == (303 if changed else status)
    state = code_state(db, CodeKind.POINT, point.id or 0)
    assert (state is not None and state.revoked) is changed


def test_strangers_are_sent_to_sign_in_and_changes_need_the_csrf_token(
    clients: Clients, db: Session
) -> None:
    stranger, dispatcher = clients(None), clients("dispatcher")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    for url in ("/codes", f"/codes/enterprises/{enterprise.id}/qr.png", "/scan"):
        response = stranger.get(url, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (
            303,
            f"/signin?next={url.split('?')[0]}",
        )
    response = dispatcher.post(
        f"/codes/enterprises/{enterprise.id}/rotate", data={}, follow_redirects=False
    )
    assert response.status_code == 403
    assert code_state(db, CodeKind.ENTERPRISE, enterprise.id or 0) is None


def test_a_public_url_must_be_a_web_address(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="GRIDSAFE_PUBLIC_URL"):
        Settings(data_dir=tmp_path, public_url="gridsafe.example.org")


def test_the_manage_page_shows_the_current_code_and_the_points(
    clients: Clients, db: Session
) -> None:
    dispatcher = clients("dispatcher")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    tags = Tags(dispatcher.get(f"/codes/enterprises/{enterprise.id}").text)
    assert f"/codes/enterprises/{enterprise.id}/qr.svg?v=1" in tags.values("src")
    assert set(tags.values("data-point")) == {str(p.id) for p in points_of(db, enterprise.id or 0)}
    actions = {t["action"] for t in tags.tags if t["tag"] == "form" and "action" in t}
    assert f"/codes/enterprises/{enterprise.id}/rotate" in actions
    assert f"/codes/enterprises/{enterprise.id}/revoke" in actions


# --- Scanned offline: the check-in carries the code, and the server judges it on arrival ------


def scanned_check_in(
    mutation_id: int, code: object, enterprise_id: int | None = None, **position: float
) -> dict[str, Any]:
    args: dict[str, Any] = {"id": str(uuid.uuid4()), "code": code, **position}
    if enterprise_id is not None:
        args["enterprise_id"] = enterprise_id
    at = utcnow().isoformat()
    return {"id": mutation_id, "name": "inspection.check_in", "args": args, "at": at}


def push_outcomes(client: TestClient[Litestar], *mutations: dict[str, Any]) -> list[Any]:
    response = client.post(
        "/api/v1/sync/push",
        json={"client_id": str(uuid.uuid4()), "mutations": list(mutations)},
        headers={"x-csrftoken": client.cookies.get("gs_csrf") or ""},
    )
    assert response.status_code == 200, response.text
    return [(r["status"], r["code"], r["message"]) for r in response.json()["results"]]


def test_a_check_in_scanned_offline_is_recorded_once_the_server_accepts_its_code(
    clients: Clients, db: Session, settings: Settings
) -> None:
    inspector = clients("inspector")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    eid = enterprise.id or 0
    assert enterprise.latitude is not None
    assert enterprise.longitude is not None
    point = points_of(db, eid)[0]
    near = {"latitude": enterprise.latitude + 0.001, "longitude": enterprise.longitude}
    far = {"latitude": enterprise.latitude + 0.009, "longitude": enterprise.longitude}
    outcomes = push_outcomes(
        inspector,
        scanned_check_in(1, path_for(settings, CodeKind.ENTERPRISE, eid), eid, **near),
        # A key point's code checks in at its enterprise; the phone need not name it.
        scanned_check_in(2, path_for(settings, CodeKind.POINT, point.id or 0), **far),
    )
    assert [o[:2] for o in outcomes] == [("applied", ""), ("applied", "")]
    rows = check_ins(db)
    assert [(c.enterprise_id, c.far) for c in rows] == [(eid, False), (eid, True)]
    assert rows[0].distance_m is not None
    assert 100 < rows[0].distance_m < 120
    history = db.execute(
        select(Event.data)
        .where(Event.action == "inspection.checked_in", Event.entity_id == str(eid))
        .order_by(Event.id)
    ).scalars()
    assert [(d["code"], d["key_point_id"]) for d in history] == [
        ("enterprise", None),
        ("point", point.id),
    ]


def test_a_scanned_check_in_with_a_bad_code_is_refused_with_its_reason(
    clients: Clients, db: Session, settings: Settings
) -> None:
    inspector = clients("inspector")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    eid = enterprise.id or 0
    valid = path_for(settings, CodeKind.ENTERPRISE, eid)
    altered = valid[:-1] + ("A" if valid[-1] != "A" else "B")
    other_key = code_path(
        qr.Keyring.from_secrets("another-secret-" * 3), CodeKind.ENTERPRISE, eid, 1
    )
    rotated = path_for(settings, CodeKind.ENTERPRISE, eid, 1)
    db.add(QrCode(kind="enterprise", subject_id=eid, version=2))
    point = points_of(db, eid)[0]
    db.add(QrCode(kind="point", subject_id=point.id or 0, version=1, revoked=True))
    db.commit()
    outside = enterprise_in(db, DAZHI_GRID)
    cases = [
        (altered, eid, "check_in.code_invalid"),
        (other_key, eid, "check_in.code_invalid"),
        ("/e/not-base32!", eid, "check_in.code_invalid"),
        (12345, eid, "check_in.code_invalid"),
        ("/p/" + valid[3:], eid, "check_in.code_invalid"),  # an enterprise token as a point's
        (rotated, eid, "check_in.code_rotated"),
        (path_for(settings, CodeKind.POINT, point.id or 0), None, "check_in.code_revoked"),
        # Genuine, but for an enterprise in another district: the area rule still holds.
        (path_for(settings, CodeKind.ENTERPRISE, outside.id or 0), None, "check_in.out_of_scope"),
        # A genuine code that names another enterprise than the phone said.
        (path_for(settings, CodeKind.ENTERPRISE, eid, 2), eid + 1, "validation_failed"),
    ]
    outcomes = push_outcomes(
        inspector, *(scanned_check_in(i, code, e) for i, (code, e, _) in enumerate(cases, 1))
    )
    assert [o[:2] for o in outcomes] == [("rejected", code) for _, _, code in cases]
    # Each with its message in the person's language (Chinese by default), never the key.
    messages = {o[1]: o[2] for o in outcomes}
    assert messages["check_in.code_rotated"] == "所扫海报已被新二维码替换，请扫描新海报签到。"
    assert all(m and not m.startswith(("errors.", "check_in.")) for m in messages.values())
    assert check_ins(db) == []
    # The current poster still works.
    current = scanned_check_in(99, path_for(settings, CodeKind.ENTERPRISE, eid, 2))
    assert [o[:2] for o in push_outcomes(inspector, current)] == [("applied", "")]


def test_an_inspector_cannot_check_in_outside_their_area_through_the_outbox_either(
    clients: Clients, db: Session
) -> None:
    outsider = clients("inspector2")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    plain = {
        "id": 1,
        "name": "inspection.check_in",
        "args": {"id": str(uuid.uuid4()), "enterprise_id": enterprise.id},
        "at": utcnow().isoformat(),
    }
    assert [o[:2] for o in push_outcomes(outsider, plain)] == [
        ("rejected", "check_in.out_of_scope")
    ]
    assert check_ins(db) == []


def test_the_scanner_opens_offline_and_knows_who_may_check_in(clients: Clients) -> None:
    from backend.pwa import OFFLINE_PAGES

    assert "/scan" in OFFLINE_PAGES
    panels = {}
    for username in ("inspector", "enterprise", "city"):
        tags = Tags(clients(username).get("/scan").text)
        [panel] = [t for t in tags.tags if "data-offline-scan" in t]
        panels[username] = panel["data-can-check-in"]
    assert panels == {"inspector": "true", "enterprise": "false", "city": "false"}
