"""Inspections on a real database (SQLite and PostgreSQL): versioned checklists per industry,
recording every result in one transaction, failed items offering a pre-filled hazard report,
scope (inspectors in their area, enterprise officers on their own enterprise), and history."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlmodel import Session

from backend.app import create_app
from backend.auth.policy import Principal, inspection_kind
from backend.demo.checklists import CHECKLISTS, seed_checklists
from backend.i18n import Translator
from backend.inspections.services import current_checklist, items_of, publish_template
from backend.models import (
    ChecklistItem,
    ChecklistTemplate,
    Enterprise,
    Event,
    Industry,
    Inspection,
    InspectionPhoto,
    InspectionResult,
    Role,
    User,
)
from backend.settings import Settings
from tests.conftest import csrf_token, enterprise_in, post_form, sign_in

# The phone's outbox entries, as tests/sync/test_inspection_sync.py sends them. Imported from
# where they are defined: that module imports this one, so importing it here would be circular.
from tests.sync.conftest import check_in, new_client_id, push, statuses
from tests.sync.test_inspection_record import recording

BASE = "http://testserver.local"
HONGWEILU_GRID = "420107001001"  # the inspector's grid; the enterprise officer's enterprise is here
DAZHI_GRID = "420102001001"  # inspector2's grid, in another district

Clients = Callable[[str], TestClient[Litestar]]


@pytest.fixture
def clients(settings: Settings) -> Iterator[Clients]:
    """One phone per person, each with its own app instance and cookies."""
    with ExitStack() as stack:

        def make(username: str) -> TestClient[Litestar]:
            client = stack.enter_context(TestClient(create_app(settings), base_url=BASE))
            sign_in(client, username)
            return client

        yield make


def attribute(html: str, name: str) -> list[str]:
    return re.findall(rf'{name}="([^"]*)"', html)


def answers(db: Session, industry: str, results: dict[int, str] | None = None) -> dict[str, str]:
    """A complete checklist form: every item passes unless `results` says otherwise (by position)."""
    checklist = current_checklist(db, industry)
    form = {"template_id": str(checklist.template.id)}
    for item in checklist.items:
        form[f"result_{item.id}"] = (results or {}).get(item.position, "pass")
        form[f"note_{item.id}"] = ""
    return form


def inspections(db: Session) -> list[Inspection]:
    db.expire_all()
    return list(db.execute(select(Inspection)).scalars())


def user_id(db: Session, username: str) -> int:
    found = db.execute(select(User.id).where(User.username == username)).scalar_one()
    return int(found)


HONGWEILU_PATH = "/420100/420107/420107001/420107001001/"
JIANGAN_PATH = "/420100/420102/420102001/420102001001/"


def person(role: Role, unit_path: str, enterprise_id: int | None = None) -> Principal:
    return Principal(1, "u", "U", role, 1, unit_path, "unit", enterprise_id)


@pytest.mark.parametrize(
    ("who", "enterprise_id", "path", "expected"),
    [
        (person(Role.GRID_INSPECTOR, HONGWEILU_PATH), 7, HONGWEILU_PATH, "inspection"),
        (person(Role.GRID_INSPECTOR, HONGWEILU_PATH), 7, JIANGAN_PATH, None),
        (
            person(Role.STREET_DISPATCHER, "/420100/420107/420107001/"),
            7,
            HONGWEILU_PATH,
            "inspection",
        ),
        (person(Role.CITY_OFFICER, "/420100/"), 7, HONGWEILU_PATH, None),  # oversees, not inspects
        (person(Role.ENTERPRISE_OFFICER, HONGWEILU_PATH, 7), 7, HONGWEILU_PATH, "self_check"),
        (person(Role.ENTERPRISE_OFFICER, HONGWEILU_PATH, 7), 8, HONGWEILU_PATH, None),
    ],
)
def test_who_runs_which_inspection(
    who: Principal, enterprise_id: int, path: str, expected: str | None
) -> None:
    assert inspection_kind(who, enterprise_id, path) == expected


def test_every_industry_has_an_active_versioned_checklist(db: Session) -> None:
    for industry in Industry:
        checklist = current_checklist(db, industry.value)
        assert checklist.template.version == 1
        assert 6 <= len(checklist.items) <= 10
        assert [item.position for item in checklist.items] == list(
            range(1, len(checklist.items) + 1)
        )
        assert all(item.text_zh and item.text_en for item in checklist.items)
    assert set(CHECKLISTS) == set(Industry)
    # Seeding again, or a database seeded before checklists existed, adds nothing twice.
    assert seed_checklists(db) == 0


def test_the_inspector_records_an_inspection_with_every_result(
    clients: Clients, db: Session
) -> None:
    inspector = clients("inspector")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    form_page = inspector.get(f"/enterprises/{enterprise.id}/inspect")
    assert form_page.status_code == 200
    assert attribute(form_page.text, "data-inspection-kind") == ["inspection"]
    checklist = current_checklist(db, enterprise.industry)
    assert attribute(form_page.text, "data-item") == [str(item.id) for item in checklist.items]

    form = answers(db, enterprise.industry, {1: "fail", 2: "na"})
    form[f"note_{checklist.items[0].id}"] = "裂缝约20厘米"
    response = post_form(inspector, f"/enterprises/{enterprise.id}/inspect", form)
    assert response.status_code == 303
    [inspection] = inspections(db)
    assert response.headers["location"] == f"/inspections/{inspection.id}"
    assert inspection.inspector_id == user_id(db, "inspector")
    assert inspection.kind == "inspection"
    assert inspection.template_version == 1
    results = {
        row.item_id: (row.result, row.note)
        for row in db.execute(select(InspectionResult)).scalars()
    }
    assert len(results) == len(checklist.items)
    assert results[checklist.items[0].id or 0] == ("fail", "裂缝约20厘米")
    assert results[checklist.items[1].id or 0] == ("na", "")
    event = db.execute(select(Event).where(Event.action == "inspection.recorded")).scalar_one()
    assert event.entity_id == inspection.id


def test_a_failed_item_offers_a_pre_filled_hazard_report(clients: Clients, db: Session) -> None:
    inspector = clients("inspector")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    checklist = current_checklist(db, enterprise.industry)
    failed = checklist.items[2]
    form = {**answers(db, enterprise.industry, {3: "fail"}), f"note_{failed.id}": "leak"}
    post_form(inspector, f"/enterprises/{enterprise.id}/inspect", form)
    [inspection] = inspections(db)
    detail = inspector.get(f"/inspections/{inspection.id}")
    assert detail.status_code == 200
    assert attribute(detail.text, "data-report-link") == [str(failed.id)]
    [link] = [
        href.replace("&amp;", "&")
        for href in attribute(detail.text, "href")
        if href.startswith("/hazards/new?")
    ]
    query = {key: values[0] for key, values in parse_qs(urlsplit(link).query).items()}
    assert query["enterprise_id"] == str(enterprise.id)
    assert query["category"] == failed.category
    assert query["severity"] == failed.severity
    assert failed.code in query["description"]
    assert "leak" in query["description"]

    report_form = inspector.get(link)
    assert report_form.status_code == 200
    assert f'<option value="{failed.category}" selected>' in report_form.text
    assert f'value="{failed.severity}" checked' in report_form.text
    # Unknown values in the link are dropped, not trusted.
    odd = inspector.get("/hazards/new?category=nope&severity=huge&enterprise_id=x1")
    assert odd.status_code == 200
    assert "selected>" not in odd.text.split('name="category"')[1].split("</select>")[0]


def test_a_new_version_supersedes_and_leaves_old_inspections_alone(
    clients: Clients, db: Session
) -> None:
    inspector = clients("inspector")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    old = current_checklist(db, enterprise.industry)
    stale_form = answers(db, enterprise.industry)
    post_form(inspector, f"/enterprises/{enterprise.id}/inspect", stale_form)

    items = [(i.code, i.text_zh, i.text_en, i.category, i.severity) for i in old.items[:-1]]
    items.append(("NEW-01", "新增检查项", "A new item", "other", "general"))
    publish_template(db, enterprise.industry, "新版", "New version", items)
    db.commit()

    new = current_checklist(db, enterprise.industry)
    assert new.template.version == 2
    assert db.get(ChecklistTemplate, old.template.id).active is False  # type: ignore[union-attr]
    assert [i.id for i in items_of(db, old.template.id or 0)] == [i.id for i in old.items]

    # A form opened on the old version is refused rather than recorded against the new one.
    refused = post_form(inspector, f"/enterprises/{enterprise.id}/inspect", stale_form)
    assert refused.status_code == 422
    response = post_form(
        inspector, f"/enterprises/{enterprise.id}/inspect", answers(db, enterprise.industry)
    )
    assert response.status_code == 303
    by_version = {i.template_version: i for i in inspections(db)}
    assert set(by_version) == {1, 2}
    first = by_version[1]
    assert first.template_id == old.template.id
    old_items = {i.id for i in old.items}
    first_items = set(
        db.execute(
            select(InspectionResult.item_id).where(InspectionResult.inspection_id == first.id)
        ).scalars()
    )
    assert first_items == old_items
    detail = inspector.get(f"/inspections/{first.id}")
    assert attribute(detail.text, "data-template-version") == ["1"]
    assert sorted(attribute(detail.text, "data-item")) == sorted(str(i) for i in old_items)


def test_bad_input_gives_422_and_changes_nothing(clients: Clients, db: Session) -> None:
    inspector = clients("inspector")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    url = f"/enterprises/{enterprise.id}/inspect"
    good = answers(db, enterprise.industry)
    first_item = next(key for key in good if key.startswith("result_"))
    other = current_checklist(
        db, next(i.value for i in Industry if i.value != enterprise.industry)
    ).items[0]
    events = db.execute(select(func.count()).select_from(Event)).scalar_one()
    bad_forms = [
        {k: v for k, v in good.items() if k != first_item},  # an item left unanswered
        {**good, first_item: "maybe"},  # not a result
        {**good, f"result_{other.id}": "pass"},  # an item of another checklist
        {**good, "result_999999": "fail"},  # an unknown item
        {**good, "template_id": "999999"},
        {**good, "check_in_id": str(uuid.uuid4())},  # not this inspector's check-in
        {**good, f"note_{first_item.removeprefix('result_')}": "x" * 1001},
    ]
    for bad in bad_forms:
        response = post_form(inspector, url, bad)
        assert response.status_code == 422, bad
        assert attribute(response.text, "data-error-code") == ["validation_failed"]
    unanswered = post_form(inspector, url, bad_forms[0])
    assert attribute(unanswered.text, "data-field-error") == [first_item]
    assert inspections(db) == []
    assert db.execute(select(func.count()).select_from(InspectionResult)).scalar_one() == 0
    assert db.execute(select(func.count()).select_from(Event)).scalar_one() == events


def test_the_inspection_follows_a_check_in(clients: Clients, db: Session) -> None:
    inspector = clients("inspector")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    check_in_id = str(uuid.uuid4())
    done = post_form(
        inspector, "/check-ins", {"id": check_in_id, "enterprise_id": str(enterprise.id)}
    )
    assert done.status_code == 303
    form_page = inspector.get(f"/enterprises/{enterprise.id}/inspect?check_in={check_in_id}")
    assert f'name="check_in_id" value="{check_in_id}"' in form_page.text
    form = {**answers(db, enterprise.industry), "check_in_id": check_in_id}
    assert post_form(inspector, f"/enterprises/{enterprise.id}/inspect", form).status_code == 303
    [inspection] = inspections(db)
    assert inspection.check_in_id == check_in_id


def test_scope_inspectors_in_their_area_officers_on_their_own_enterprise(
    clients: Clients, db: Session
) -> None:
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    outsider = clients("inspector2")
    assert outsider.get(f"/enterprises/{enterprise.id}/inspect").status_code == 404
    refused = post_form(
        outsider, f"/enterprises/{enterprise.id}/inspect", answers(db, enterprise.industry)
    )
    assert refused.status_code == 404
    assert outsider.get(f"/enterprises/{enterprise.id}/inspections").status_code == 404

    officer = clients("enterprise")
    own_id = db.execute(
        select(User.enterprise_id).where(User.username == "enterprise")
    ).scalar_one()
    own = db.get(Enterprise, own_id)
    assert own is not None
    other = db.execute(
        select(Enterprise).where(Enterprise.grid_id == own.grid_id, Enterprise.id != own.id)
    ).scalars().first() or enterprise_in(db, DAZHI_GRID)
    assert officer.get(f"/enterprises/{other.id}/inspect").status_code == 404
    refused = post_form(officer, f"/enterprises/{other.id}/inspect", answers(db, other.industry))
    assert refused.status_code == 404
    form_page = officer.get(f"/enterprises/{own.id}/inspect")
    assert attribute(form_page.text, "data-inspection-kind") == ["self_check"]
    done = post_form(officer, f"/enterprises/{own.id}/inspect", answers(db, own.industry))
    assert done.status_code == 303
    [inspection] = inspections(db)
    assert (inspection.kind, inspection.enterprise_id) == ("self_check", own.id)
    assert inspections(db)[0].inspector_id == user_id(db, "enterprise")
    # The other inspector cannot open it either.
    assert outsider.get(f"/inspections/{inspection.id}").status_code == 404


def test_history_per_enterprise_and_per_inspector(clients: Clients, db: Session) -> None:
    inspector = clients("inspector")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    detail = inspector.get(f"/enterprises/{enterprise.id}")
    assert f"/enterprises/{enterprise.id}/inspect" in attribute(detail.text, "href")
    post_form(
        inspector,
        f"/enterprises/{enterprise.id}/inspect",
        answers(db, enterprise.industry, {1: "fail"}),
    )
    [inspection] = inspections(db)
    for url in (f"/enterprises/{enterprise.id}/inspections", "/inspections"):
        page = inspector.get(url)
        assert page.status_code == 200, url
        assert attribute(page.text, "data-inspection") == [inspection.id], url
    assert attribute(clients("inspector2").get("/inspections").text, "data-inspection") == []
    assert db.execute(select(func.count()).select_from(ChecklistItem)).scalar_one() > 0


def jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), colour).save(out, "JPEG")
    return out.getvalue()


def test_photos_are_kept_per_item_and_seen_within_scope(clients: Clients, db: Session) -> None:
    inspector = clients("inspector")
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    url = f"/enterprises/{enterprise.id}/inspect"
    item = current_checklist(db, enterprise.industry).items[0]
    form = {**answers(db, enterprise.industry, {1: "fail"}), "_csrf_token": csrf_token(inspector)}
    not_image = [(f"photo_{item.id}", ("a.jpg", b"not an image", "image/jpeg"))]
    refused = inspector.post(url, data=form, files=not_image, follow_redirects=False)
    assert refused.status_code == 415
    out = io.BytesIO()
    Image.new("1", (8000, 8000), 1).save(out, "PNG")
    huge = [(f"photo_{item.id}", ("big.png", out.getvalue(), "image/png"))]
    refused = inspector.post(url, data=form, files=huge, follow_redirects=False)
    assert refused.status_code == 413  # the form again, saying why
    assert 'data-error-code="photo_too_large_pixels"' in refused.text
    unknown_item = [("photo_999999", ("a.jpg", jpeg((0, 200, 0)), "image/jpeg"))]
    refused = inspector.post(url, data=form, files=unknown_item, follow_redirects=False)
    assert refused.status_code == 422
    assert inspections(db) == []
    assert db.execute(select(func.count()).select_from(InspectionPhoto)).scalar_one() == 0
    images = [
        (f"photo_{item.id}", ("a.jpg", jpeg((200, 0, 0)), "image/jpeg")),
        (f"photo_{item.id}", ("b.jpg", jpeg((0, 0, 200)), "image/jpeg")),
    ]
    response = inspector.post(url, data=form, files=images, follow_redirects=False)
    assert response.status_code == 303
    [inspection] = inspections(db)
    photos = db.execute(select(InspectionPhoto)).scalars().all()
    assert {(p.inspection_id, p.item_id) for p in photos} == {(inspection.id, item.id)}
    assert len(photos) == 2
    detail = inspector.get(f"/inspections/{inspection.id}")
    assert sorted(attribute(detail.text, "data-photo")) == sorted(p.sha256 for p in photos)
    for photo in photos:
        assert inspector.get(f"/api/v1/photos/{photo.sha256}").status_code == 200
        assert clients("inspector2").get(f"/api/v1/photos/{photo.sha256}").status_code == 404


def test_signing_in_returns_to_the_whole_address_query_included(
    settings: Settings, db: Session
) -> None:
    """A signed-out person opening a link with a query (a check-in's checklist, a pre-filled
    report) signs in and lands on that very link, not on its bare path."""
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    wanted = f"/enterprises/{enterprise.id}/inspect?check_in=abc&x=%C3%A9"
    with TestClient(create_app(settings), base_url=BASE) as client:
        redirect = client.get(wanted, follow_redirects=False)
        assert redirect.status_code == 303
        target = urlsplit(redirect.headers["location"])
        assert target.path == "/signin"
        [next_] = parse_qs(target.query)["next"]
        assert next_ == wanted
        # htmx asking for a fragment is sent the same way.
        fragment = client.get(wanted, headers={"hx-request": "true"}, follow_redirects=False)
        assert fragment.headers["hx-redirect"] == redirect.headers["location"]
        page = client.get(redirect.headers["location"])
        assert f'name="next" value="{wanted.replace("&", "&amp;")}"' in page.text
        signed = client.post(
            "/signin",
            data={
                "username": "inspector",
                "password": "gridsafe-demo",
                "next": next_,
                "_csrf_token": csrf_token(client),
            },
            follow_redirects=False,
        )
        assert (signed.status_code, signed.headers["location"]) == (303, wanted)
        assert client.get(wanted).status_code == 200


@pytest.mark.parametrize(
    ("username", "shown"),
    [
        ("inspector", True),
        ("dispatcher", True),
        ("district", True),
        ("enterprise", True),
        ("city", False),
        ("admin", False),
    ],
)
def test_the_nav_links_to_the_inspection_history_for_those_who_inspect(
    clients: Clients, username: str, shown: bool
) -> None:
    home = clients(username).get("/")
    assert ('href="/inspections"' in home.text) is shown


@pytest.mark.parametrize(
    ("language", "words"), [("zh", "到场签到未送达服务器"), ("en", "never reached the server")]
)
def test_the_page_says_when_the_check_in_an_inspection_followed_never_arrived(
    clients: Clients, db: Session, language: str, words: str
) -> None:
    """A phone's inspection whose check-in the server refused is kept without the link (see
    tests/sync/test_inspection_sync.py); its page names that check-in, so a reviewer does not
    take the missing link for an inspection done without arriving. One linked to a stored
    check-in, or sent with none, says nothing of the kind."""
    enterprise = enterprise_in(db, HONGWEILU_GRID)
    inspector = clients("inspector")
    inspector.cookies.set("gs_lang", language)
    refused = check_in(1, enterprise_in(db, DAZHI_GRID).id or 0)  # outside the inspector's area
    missing = refused["args"]["id"]
    unlinked = recording(2, db, enterprise, check_in_id=missing)
    plain = recording(3, db, enterprise)
    arrived = check_in(4, enterprise.id or 0)
    linked = recording(5, db, enterprise, check_in_id=arrived["args"]["id"])
    client_id = new_client_id()
    body = push(inspector, client_id, [refused, unlinked, plain, arrived])
    assert statuses(body) == {
        1: ("rejected", "check_in.out_of_scope"),
        2: ("applied", ""),
        3: ("applied", ""),
        4: ("applied", ""),
    }
    # In the check-in's own batch it would be answered retry (see test_inspection_sync.py).
    assert statuses(push(inspector, client_id, [linked])) == {5: ("applied", "")}

    page = inspector.get(f"/inspections/{unlinked['args']['id']}")
    assert page.status_code == 200
    assert attribute(page.text, "data-check-in-missing") == [missing]
    assert Translator(language)("inspections.check_in_missing", check_in=missing) in page.text
    assert words in page.text
    for other in (linked, plain):
        page = inspector.get(f"/inspections/{other['args']['id']}")
        assert page.status_code == 200
        assert attribute(page.text, "data-check-in-missing") == []
        assert words not in page.text
    db.expire_all()
    stored = db.get(Inspection, linked["args"]["id"])
    assert stored is not None
    assert stored.check_in_id == arrived["args"]["id"]
