"""`inspection.record`: a checklist inspection done on the phone and sent through the outbox,
applied at most once under the page's own rules (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlmodel import Session

from backend.inspections.services import current_checklist, publish_template
from backend.models import (
    ChecklistItem,
    Enterprise,
    Event,
    Hazard,
    Industry,
    Inspection,
    InspectionPhoto,
    InspectionResult,
    User,
)
from tests.conftest import csrf_token, enterprise_in, post_form, sign_in, sign_in_http
from tests.sync.conftest import (
    JIANGAN_GRID,
    QINGSHAN_GRID,
    check_in,
    extra_client,
    iso,
    new_client_id,
    push,
    statuses,
)

STORED = (Inspection, InspectionResult, InspectionPhoto, Event)


def recording(
    mutation_id: int,
    db: Session,
    enterprise: Enterprise,
    *,
    inspection_id: str | None = None,
    results: dict[int, str] | None = None,
    notes: dict[int, str] | None = None,
    photos: dict[int, list[str]] | None = None,
    at: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An `inspection.record` outbox entry answering the enterprise's current checklist: every
    item passes unless `results` says otherwise (by position), as the phone's form sends it."""
    checklist = current_checklist(db, enterprise.industry)
    entries = []
    for item in checklist.items:
        entry: dict[str, Any] = {
            "item_id": item.id,
            "result": (results or {}).get(item.position, "pass"),
            "note": (notes or {}).get(item.position, ""),
        }
        if (photos or {}).get(item.position):
            entry["photos"] = (photos or {})[item.position]
        entries.append(entry)
    args: dict[str, Any] = {
        "id": inspection_id or str(uuid.uuid4()),
        "enterprise_id": enterprise.id,
        "template_id": checklist.template.id,
        "template_version": checklist.template.version,
        "started_at": iso((at or datetime.now(UTC)) - timedelta(minutes=20)),
        "results": entries,
        "photos": [sha for names in (photos or {}).values() for sha in names],
        **extra,
    }
    return {"id": mutation_id, "name": "inspection.record", "args": args, "at": iso(at)}


def counts(db: Session) -> dict[str, int]:
    db.expire_all()
    return {
        model.__name__: db.execute(select(func.count()).select_from(model)).scalar_one()
        for model in STORED
    }


def answer(body: dict[str, Any], mutation_id: int) -> dict[str, Any]:
    [found] = [item for item in body["results"] if item["id"] == mutation_id]
    return dict(found)


def jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), colour).save(out, "JPEG")
    return out.getvalue()


def upload(client: TestClient[Any], data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    response = client.put(
        f"/api/v1/photos/{sha}",
        content=data,
        headers={"x-csrftoken": csrf_token(client), "content-type": "image/jpeg"},
    )
    assert response.status_code == 201, response.text
    return sha


def test_recorded_once_and_a_replay_changes_nothing(client: TestClient[Any], db: Session) -> None:
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    client_id = new_client_id()
    at = datetime.now(UTC) - timedelta(hours=3)  # done offline this morning
    mutation = recording(1, db, enterprise, results={1: "fail", 2: "na"}, notes={1: "裂缝"}, at=at)
    before = counts(db)
    first = push(client, client_id, [mutation])
    assert statuses(first) == {1: ("applied", "")}
    inspection_id = mutation["args"]["id"]
    assert answer(first, 1)["result"] == {"inspection_id": inspection_id}
    after = counts(db)
    items = current_checklist(db, enterprise.industry).items
    assert {k: after[k] - before[k] for k in after} == {
        "Inspection": 1,
        "InspectionResult": len(items),
        "InspectionPhoto": 0,
        "Event": 1,
    }
    inspection = db.get(Inspection, inspection_id)
    assert inspection is not None
    inspector = db.execute(select(User).where(User.username == "inspector")).scalar_one()
    assert (inspection.inspector_id, inspection.kind, inspection.enterprise_id) == (
        inspector.id,
        "inspection",
        enterprise.id,
    )
    # Finished when the phone says, within reason; started when its form was opened.
    assert abs(inspection.finished_at - at) < timedelta(seconds=1)
    assert abs(inspection.finished_at - inspection.started_at - timedelta(minutes=20)) < timedelta(
        seconds=1
    )
    results = {
        row.item_id: (row.result, row.note)
        for row in db.execute(
            select(InspectionResult).where(InspectionResult.inspection_id == inspection_id)
        ).scalars()
    }
    assert results[items[0].id or 0] == ("fail", "裂缝")
    assert results[items[1].id or 0] == ("na", "")
    event = db.execute(
        select(Event).where(Event.action == "inspection.recorded", Event.entity_id == inspection_id)
    ).scalar_one()
    assert event.data["failed"] == 1

    # The outbox sends it again (the answer was lost): the same answer, nothing new.
    again = push(client, client_id, [mutation])
    assert statuses(again) == {1: ("duplicate", "")}
    assert counts(db) == after

    # The same inspection under another mutation id, or from another install: refused.
    reused = {**mutation, "id": 2}
    elsewhere = push(client, new_client_id(), [{**mutation, "id": 1}])
    twice = push(client, client_id, [reused])
    for body, mutation_id in ((twice, 2), (elsewhere, 1)):
        refused = answer(body, mutation_id)
        assert (refused["status"], refused["code"]) == ("rejected", "inspection.duplicate_id")
        assert refused["message"] not in ("", "inspection.duplicate_id")
    assert counts(db) == after


def test_out_of_scope_is_refused_with_a_reason_and_stores_nothing(
    client: TestClient[Any], db: Session
) -> None:
    own = enterprise_in(db, QINGSHAN_GRID)
    foreign = enterprise_in(db, JIANGAN_GRID)
    sign_in(client, "inspector")
    before = counts(db)
    body = push(
        client,
        new_client_id(),
        [recording(1, db, foreign), recording(2, db, own)],
        **{"accept-language": "en"},
    )
    # The refusal does not block the inspection behind it.
    assert statuses(body) == {1: ("rejected", "inspection.out_of_scope"), 2: ("applied", "")}
    assert "not in your area" in answer(body, 1)["message"]
    [stored] = db.execute(select(Inspection)).scalars().all()
    assert stored.enterprise_id == own.id
    after = counts(db)
    assert after["Inspection"] - before["Inspection"] == 1
    assert after["Event"] - before["Event"] == 1


def test_an_enterprise_officer_self_checks_only_their_own_enterprise(
    client: TestClient[Any], db: Session
) -> None:
    sign_in(client, "enterprise")
    own_id = db.execute(select(User.enterprise_id).where(User.username == "enterprise")).scalar()
    own = db.get(Enterprise, own_id)
    assert own is not None
    other = db.execute(select(Enterprise).where(Enterprise.id != own.id)).scalars().first()
    assert other is not None
    body = push(client, new_client_id(), [recording(1, db, other), recording(2, db, own)])
    assert statuses(body) == {1: ("rejected", "inspection.out_of_scope"), 2: ("applied", "")}
    [stored] = db.execute(select(Inspection)).scalars().all()
    assert (stored.enterprise_id, stored.kind) == (own.id, "self_check")


def _other_checklist_item(db: Session, industry: str) -> int:
    other = next(i.value for i in Industry if i.value != industry)
    return current_checklist(db, other).items[0].id or 0


def _bad(db: Session, enterprise: Enterprise, change: str) -> dict[str, Any]:
    """A recording spoiled one way; what the page refuses, the phone's mutation refuses."""
    mutation = recording(1, db, enterprise)
    args = mutation["args"]
    first = args["results"][0]
    if change == "unanswered":
        args["results"] = args["results"][1:]
    elif change == "not-a-result":
        first["result"] = "maybe"
    elif change == "other-checklist":
        args["results"].append({"item_id": _other_checklist_item(db, enterprise.industry)})
    elif change == "unknown-item":
        args["results"].append({"item_id": 999_999, "result": "fail"})
    elif change == "same-item-twice":
        args["results"].append(dict(first))
    elif change == "note-too-long":
        first["note"] = "x" * 1001
    elif change == "old-version":
        args["template_version"] += 1
    elif change == "bad-photo-hash":
        first["photos"] = ["not a hash"]
    elif change == "photos-list-differs":
        args["photos"] = ["ab" * 32]
    elif change == "too-many-photos":
        first["photos"] = [f"{n:064x}" for n in range(4)]
        args["photos"] = first["photos"]
    elif change == "no-id":
        del args["id"]
    elif change == "no-results":
        args["results"] = []
    return mutation


# A check-in the server lacks is not among them: the inspection is kept without the link
# (tests/sync/test_inspection_sync.py, with someone else's check-in, which is refused).
BAD = [
    ("unanswered", "validation_failed"),
    ("not-a-result", "validation_failed"),
    ("other-checklist", "validation_failed"),
    ("unknown-item", "validation_failed"),
    ("same-item-twice", "validation_failed"),
    ("note-too-long", "validation_failed"),
    ("old-version", "inspection.checklist_changed"),
    ("bad-photo-hash", "validation_failed"),
    ("photos-list-differs", "validation_failed"),
    ("too-many-photos", "validation_failed"),
    ("no-id", "validation_failed"),
    ("no-results", "validation_failed"),
]


@pytest.mark.parametrize(("change", "code"), BAD, ids=[change for change, _ in BAD])
def test_bad_answers_are_refused_and_store_nothing(
    client: TestClient[Any], db: Session, change: str, code: str
) -> None:
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    before = counts(db)
    good = recording(2, db, enterprise)
    body = push(client, new_client_id(), [_bad(db, enterprise, change), good])
    # Refused before anything was written: the batch goes on, on PostgreSQL too.
    assert statuses(body) == {1: ("rejected", code), 2: ("applied", "")}
    refused = answer(body, 1)
    assert refused["fields"], refused  # says which answer is wrong
    assert all(message for message in refused["fields"].values())
    after = counts(db)
    assert after["Inspection"] - before["Inspection"] == 1
    assert [i.id for i in db.execute(select(Inspection)).scalars()] == [good["args"]["id"]]


def test_a_checklist_changed_while_offline_is_refused(client: TestClient[Any], db: Session) -> None:
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    shown = recording(1, db, enterprise)  # the form the phone kept
    publish_template(
        db,
        enterprise.industry,
        "新检查表",
        "New checklist",
        [("N1", "新项目", "New item", "fire", "general")],
    )
    db.commit()
    before = counts(db)
    body = push(client, new_client_id(), [shown], **{"accept-language": "zh"})
    assert statuses(body) == {1: ("rejected", "inspection.checklist_changed")}
    assert "检查表" in answer(body, 1)["message"]
    assert counts(db) == before


def _report_links(client: TestClient[Any], inspection_id: str) -> list[str]:
    detail = client.get(f"/inspections/{inspection_id}")
    assert detail.status_code == 200
    return [
        href.replace("&amp;", "&")
        for href in re.findall(r'href="([^"]*)"', detail.text)
        if href.startswith("/hazards/new?")
    ]


def test_a_failed_item_offers_the_same_hazard_report_as_the_page(
    client: TestClient[Any], db: Session
) -> None:
    """The page does not report a failed item by itself: it offers a hazard report filled in from
    the item. An inspection sent from the phone offers exactly the same one."""
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    hazards = db.execute(select(func.count()).select_from(Hazard)).scalar_one()
    mutation = recording(1, db, enterprise, results={3: "fail"}, notes={3: "leak"})
    assert statuses(push(client, new_client_id(), [mutation])) == {1: ("applied", "")}

    checklist = current_checklist(db, enterprise.industry)
    form = {"template_id": str(checklist.template.id)}
    for item in checklist.items:
        form[f"result_{item.id}"] = "fail" if item.position == 3 else "pass"
        form[f"note_{item.id}"] = "leak" if item.position == 3 else ""
    page = post_form(client, f"/enterprises/{enterprise.id}/inspect", form)
    assert page.status_code == 303
    page_id = page.headers["location"].removeprefix("/inspections/")

    from_phone = _report_links(client, mutation["args"]["id"])
    assert len(from_phone) == 1
    failed = db.get(ChecklistItem, checklist.items[2].id)
    assert failed is not None
    assert f"category={failed.category}" in from_phone[0]
    assert from_phone == _report_links(client, page_id)
    db.expire_all()
    assert db.execute(select(func.count()).select_from(Hazard)).scalar_one() == hazards


def test_photos_uploaded_before_are_linked_to_their_item(
    client: TestClient[Any], db: Session
) -> None:
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    # What the outbox does: the photos up first, then the mutation naming them.
    red, blue = upload(client, jpeg((200, 0, 0))), upload(client, jpeg((0, 0, 200)))
    mutation = recording(1, db, enterprise, results={1: "fail"}, photos={1: [red, blue]})
    assert statuses(push(client, new_client_id(), [mutation])) == {1: ("applied", "")}
    inspection_id = mutation["args"]["id"]
    item = current_checklist(db, enterprise.industry).items[0]
    db.expire_all()
    links = db.execute(
        select(InspectionPhoto.item_id, InspectionPhoto.sha256).where(
            InspectionPhoto.inspection_id == inspection_id
        )
    ).all()
    assert sorted(links) == sorted([(item.id, red), (item.id, blue)])
    detail = client.get(f"/inspections/{inspection_id}")
    assert sorted(re.findall(r'data-photo="([^"]*)"', detail.text)) == sorted([red, blue])
    with extra_client(client) as outsider:
        sign_in_http(outsider, "inspector2")
        assert outsider.get(f"/api/v1/photos/{red}").status_code == 404


def test_a_photo_arriving_after_the_inspection_is_linked_and_shows_then(
    client: TestClient[Any], db: Session
) -> None:
    """As with a hazard's, a photo may reach the server before or after the inspection that
    names it: the link is kept, the page says the photo is not uploaded yet, and once the bytes
    arrive the page shows it, to those who may see the inspection only."""
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    green = jpeg((0, 200, 0))
    later = hashlib.sha256(green).hexdigest()
    mutation = recording(1, db, enterprise, photos={2: [later]})
    body = push(client, new_client_id(), [mutation])
    assert statuses(body) == {1: ("applied", "")}
    assert answer(body, 1)["result"]["photos_missing"] == [later]
    inspection_id = mutation["args"]["id"]
    db.expire_all()
    assert db.get(Inspection, inspection_id) is not None
    link = db.execute(select(InspectionPhoto)).scalar_one()
    assert (link.inspection_id, link.sha256) == (inspection_id, later)
    event = db.execute(select(Event).where(Event.entity_id == inspection_id)).scalar_one()
    assert event.data["photos_missing"] == [later]
    page = client.get(f"/inspections/{inspection_id}")
    assert re.findall(r'data-photo-pending="([^"]*)"', page.text) == [later]
    assert "data-photo=" not in page.text

    assert upload(client, green) == later
    page = client.get(f"/inspections/{inspection_id}")
    assert re.findall(r'data-photo="([^"]*)"', page.text) == [later]
    assert "data-photo-pending" not in page.text
    assert client.get(f"/api/v1/photos/{later}").status_code == 200
    with extra_client(client) as outsider:
        sign_in_http(outsider, "inspector2")
        assert outsider.get(f"/api/v1/photos/{later}").status_code == 404


def test_the_inspection_follows_an_offline_check_in(client: TestClient[Any], db: Session) -> None:
    enterprise = enterprise_in(db, QINGSHAN_GRID)
    sign_in(client, "inspector")
    client_id = new_client_id()
    arrived = check_in(1, enterprise.id)
    check_in_id = arrived["args"]["id"]
    inspected = recording(2, db, enterprise, check_in_id=check_in_id)
    # Both in one push: the check-in is stored with the batch, so the inspection waits for the
    # next push rather than being refused.
    first = push(client, client_id, [arrived, inspected])
    assert statuses(first) == {1: ("applied", ""), 2: ("retry", "sync.retry")}
    assert counts(db)["Inspection"] == 0
    second = push(client, client_id, [inspected])
    assert statuses(second) == {2: ("applied", "")}
    db.expire_all()
    inspection = db.get(Inspection, inspected["args"]["id"])
    assert inspection is not None
    assert inspection.check_in_id == check_in_id
