"""Checklist versions, recording an inspection in one transaction, and the history lists."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, select, update
from sqlmodel import Session, col

from backend.audit import Origin, record
from backend.auth.policy import Principal, inspection_kind, sees_enterprise
from backend.enterprises.services import get_enterprise
from backend.errors import AppError
from backend.models import (
    CheckIn,
    ChecklistItem,
    ChecklistTemplate,
    Enterprise,
    Event,
    HazardCategory,
    Inspection,
    InspectionPhoto,
    InspectionResult,
    ItemResult,
    PhotoUpload,
    Severity,
    Unit,
    User,
    utcnow,
)
from backend.offline.photos import sent_by, store_photo
from backend.risk import services as risk
from backend.validation import text_problem

MAX_NOTE = 1000
MAX_PHOTOS_PER_ITEM = 3


@dataclass(frozen=True)
class Checklist:
    template: ChecklistTemplate
    items: Sequence[ChecklistItem]


def publish_template(
    session: Session,
    industry: str,
    title_zh: str,
    title_en: str,
    items: Sequence[tuple[str, str, str, str, str]],
) -> ChecklistTemplate:
    """A new version of an industry's checklist supersedes the current one; old versions stay
    untouched, so past inspections keep the items they were run on."""
    for _, _, _, category, severity in items:
        if category not in set(HazardCategory) or severity not in set(Severity):
            raise ValueError(f"bad category or severity in checklist for {industry}")
    latest = session.execute(
        select(func.max(ChecklistTemplate.version)).where(ChecklistTemplate.industry == industry)
    ).scalar_one()
    session.execute(
        update(ChecklistTemplate).where(ChecklistTemplate.industry == industry).values(active=False)
    )
    template = ChecklistTemplate(
        industry=industry,
        version=(latest or 0) + 1,
        title_zh=title_zh,
        title_en=title_en,
        active=True,
    )
    session.add(template)
    session.flush()
    for position, (code, text_zh, text_en, category, severity) in enumerate(items, start=1):
        session.add(
            ChecklistItem(
                template_id=template.id,
                position=position,
                code=code,
                text_zh=text_zh,
                text_en=text_en,
                category=category,
                severity=severity,
            )
        )
    session.flush()
    return template


def items_of(session: Session, template_id: int) -> Sequence[ChecklistItem]:
    stmt = select(ChecklistItem).where(ChecklistItem.template_id == template_id)
    return session.execute(stmt.order_by(ChecklistItem.position)).scalars().all()


def current_checklist(session: Session, industry: str) -> Checklist:
    template = (
        session.execute(
            select(ChecklistTemplate)
            .where(ChecklistTemplate.industry == industry, ChecklistTemplate.active.is_(True))
            .order_by(ChecklistTemplate.version.desc())
        )
        .scalars()
        .first()
    )
    if template is None:
        raise AppError("not_found")
    return Checklist(template, items_of(session, template.id))


def open_checklist(
    session: Session, principal: Principal, enterprise_id: int
) -> tuple[Enterprise, Unit, str, Checklist]:
    """The enterprise (404 outside the scope), the kind of inspection this person runs there
    (403 if none), and the current checklist for its industry."""
    enterprise, grid = get_enterprise(session, principal, enterprise_id)
    kind = inspection_kind(principal, enterprise_id, grid.path)
    if kind is None:
        raise AppError("forbidden")
    return enterprise, grid, kind, current_checklist(session, enterprise.industry)


def parse_results(
    form: Mapping[str, str], items: Sequence[ChecklistItem]
) -> dict[int, tuple[str, str]]:
    """Every item answered pass / fail / na, with an optional note; nothing else in the form."""
    errors: dict[str, str] = {}
    known = {str(item.id) for item in items}
    for key in form:
        prefix, _, item_id = key.partition("_")
        if prefix in {"result", "note"} and item_id not in known:
            errors[key] = "invalid"
    results: dict[int, tuple[str, str]] = {}
    choices = {result.value for result in ItemResult}
    for item in items:
        result = form.get(f"result_{item.id}", "")
        note = form.get(f"note_{item.id}", "").strip()
        if result not in choices:
            errors[f"result_{item.id}"] = "required"
        elif len(note) > MAX_NOTE:
            errors[f"note_{item.id}"] = "too_long"
        elif text_problem(note):
            errors[f"note_{item.id}"] = "control_chars"
        else:
            results[item.id or 0] = (result, note)
    if errors:
        raise AppError("validation_failed", fields=errors)
    return results


def _check_in_of(
    session: Session, principal: Principal, enterprise_id: int, check_in_id: str
) -> str | None:
    if not check_in_id:
        return None
    row = session.get(CheckIn, check_in_id.lower())
    if row is None or row.user_id != principal.id or row.enterprise_id != enterprise_id:
        raise AppError("validation_failed", fields={"check_in_id": "invalid"})
    return row.id


def _started_at(value: str, finished: datetime) -> datetime:
    """When the form was opened, as the server stamped it; anything odd falls back to the end."""
    try:
        started = datetime.fromisoformat(value)
    except ValueError:
        return finished
    if started.tzinfo is None or started > finished or (finished - started).days > 1:
        return finished
    return started


@dataclass(frozen=True)
class Answers:
    """An inspection as the inspector sent it, from the page's form or from a phone's outbox.

    `fields` are the form's text fields (template_id, started_at, check_in_id, result_<item id>,
    note_<item id>); `photos` the SHA-256 of each item's photos. `id` is the phone's id for the
    inspection, kept across retries; empty for the page, which makes one."""

    fields: Mapping[str, str]
    photos: Mapping[int, Sequence[str]]
    id: str = ""


@dataclass(frozen=True)
class Checked:
    enterprise_id: int
    grid: Unit
    kind: str
    checklist: Checklist
    results: dict[int, tuple[str, str]]
    check_in_id: str | None


def check_answers(
    session: Session, principal: Principal, enterprise_id: int, answers: Answers
) -> Checked:
    """Every rule of recording, in the order the page has always applied them; writes nothing,
    so a refusal inside a sync batch leaves the batch's transaction clean."""
    _, grid, kind, checklist = open_checklist(session, principal, enterprise_id)
    form = answers.fields
    if form.get("template_id", "") != str(checklist.template.id):
        # The checklist changed while the form was open: answers to old items are not recorded
        # against the new version.
        raise AppError("validation_failed", fields={"template_id": "invalid"})
    results = parse_results(
        {k: v for k, v in form.items() if k.startswith(("result_", "note_"))}, checklist.items
    )
    check_in_id = _check_in_of(session, principal, enterprise_id, form.get("check_in_id", ""))
    known = {item.id for item in checklist.items}
    for item_id, names in answers.photos.items():
        if item_id not in known or len(names) > MAX_PHOTOS_PER_ITEM:
            raise AppError("validation_failed", fields={f"photo_{item_id}": "invalid"})
    return Checked(enterprise_id, grid, kind, checklist, results, check_in_id)


def write_inspection(
    session: Session,
    principal: Principal,
    checked: Checked,
    answers: Answers,
    origin: Origin,
    finished_at: datetime,
    sent_by: Mapping[str, object] | None = None,
) -> tuple[Inspection, list[str]]:
    """The inspection, its results, the links to its photos, its event, and the risk mark; not
    committed. Returns the photos named but not on the server yet: they are linked all the same
    and show once their bytes arrive (`PUT /api/v1/photos/<sha256>`), as a hazard's do.
    `sent_by` (the install's client_id and the outbox entry's mutation_id, for one sent through
    sync) goes into the event, so its history leads back to the phone as a hazard's does; so does
    `check_in_missing`, a check-in the phone named that the server never stored (see sent.py)."""
    enterprise_id, checklist = checked.enterprise_id, checked.checklist
    inspection = Inspection(
        id=answers.id or str(uuid.uuid4()),
        enterprise_id=enterprise_id,
        inspector_id=principal.id,
        template_id=checklist.template.id or 0,
        template_version=checklist.template.version,
        kind=checked.kind,
        unit_path=checked.grid.path,
        check_in_id=checked.check_in_id,
        started_at=_started_at(answers.fields.get("started_at", ""), finished_at),
        finished_at=finished_at,
    )
    session.add(inspection)
    session.flush()
    session.add_all(
        InspectionResult(inspection_id=inspection.id, item_id=item_id, result=result, note=note)
        for item_id, (result, note) in checked.results.items()
    )
    named = {sha for names in answers.photos.values() for sha in names}
    # Present means sent by this inspector: bytes another user uploaded do not show here.
    present = set(
        session.execute(
            select(PhotoUpload.sha256).where(
                PhotoUpload.sha256.in_(named), PhotoUpload.user_id == principal.id
            )
        ).scalars()
        if named
        else ()
    )
    for item_id, names in answers.photos.items():
        for sha256 in dict.fromkeys(names):
            session.merge(
                InspectionPhoto(inspection_id=inspection.id, item_id=item_id, sha256=sha256)
            )
    missing = sorted(named - present)
    failed = sum(1 for result, _ in checked.results.values() if result == ItemResult.FAIL)
    record(
        session,
        origin,
        "inspection.recorded",
        "inspection",
        inspection.id,
        checked.grid.path,
        enterprise_id=enterprise_id,
        kind=checked.kind,
        template_version=checklist.template.version,
        failed=failed,
        **({"photos_missing": missing} if missing else {}),
        **(sent_by or {}),
    )
    risk.touch(session, [enterprise_id])  # an inspection's result is a risk factor
    return inspection, missing


def record_inspection(
    session: Session,
    principal: Principal,
    enterprise_id: int,
    form: Mapping[str, str],
    origin: Origin,
    photos: Mapping[int, Sequence[bytes]] | None = None,
) -> Inspection:
    """All results, photos, the inspection and its event in one transaction; a refusal changes
    nothing. `photos` maps item ids to the uploaded images for that item."""
    images = photos or {}
    names = {
        item_id: [hashlib.sha256(raw).hexdigest() for raw in raws]
        for item_id, raws in images.items()
    }
    answers = Answers(form, names)
    checked = check_answers(session, principal, enterprise_id, answers)
    for item_id, raws in images.items():
        for raw, sha256 in zip(raws, names[item_id], strict=True):
            store_photo(session, principal, sha256, raw, commit=False)
    inspection, _ = write_inspection(session, principal, checked, answers, origin, utcnow())
    session.commit()
    return inspection


@dataclass(frozen=True)
class ItemPhoto:
    sha256: str
    uploaded: bool  # False: named by a phone, its bytes not on the server yet


@dataclass(frozen=True)
class ResultRow:
    item: ChecklistItem
    result: str
    note: str
    photos: Sequence[ItemPhoto] = ()


def _checks_in_missing(session: Session, inspections: Sequence[Inspection]) -> dict[str, str]:
    """For each of these inspections whose phone named a check-in the server never stored, that
    check-in's id (see sent.py). Only the recording event knows it: the inspection row keeps no
    id of a check-in it has no row of. One query, whatever the number of inspections."""
    unlinked = [i.id for i in inspections if i.check_in_id is None]
    if not unlinked:
        return {}
    rows = session.execute(
        select(Event.entity_id, Event.data).where(
            Event.entity_type == "inspection",
            col(Event.entity_id).in_(unlinked),
            Event.action == "inspection.recorded",
        )
    ).all()
    named = {entity_id: (data or {}).get("check_in_missing") for entity_id, data in rows}
    return {entity_id: value for entity_id, value in named.items() if isinstance(value, str)}


def get_inspection(
    session: Session, principal: Principal, inspection_id: str
) -> tuple[Inspection, Enterprise, Sequence[ResultRow], str]:
    """The inspection (404 outside the scope), its enterprise, its results with their photos,
    and the check-in its phone named that never reached the server ("" if none)."""
    inspection = session.get(Inspection, inspection_id)
    if inspection is None or not sees_enterprise(
        principal, inspection.enterprise_id, inspection.unit_path
    ):
        raise AppError("not_found")
    enterprise = session.get(Enterprise, inspection.enterprise_id)
    if enterprise is None:
        raise AppError("not_found")
    rows = session.execute(
        select(ChecklistItem, InspectionResult.result, InspectionResult.note)
        .join(InspectionResult, InspectionResult.item_id == ChecklistItem.id)
        .where(InspectionResult.inspection_id == inspection_id)
        .order_by(ChecklistItem.position)
    ).all()
    photos: dict[int, list[ItemPhoto]] = {}
    for item_id, sha256, uploaded in session.execute(
        select(InspectionPhoto.item_id, InspectionPhoto.sha256, PhotoUpload.sha256)
        .outerjoin(PhotoUpload, sent_by(InspectionPhoto.sha256, literal(inspection.inspector_id)))
        .where(InspectionPhoto.inspection_id == inspection_id)
        .order_by(InspectionPhoto.sha256)
    ).all():
        photos.setdefault(item_id, []).append(ItemPhoto(sha256, uploaded is not None))
    return (
        inspection,
        enterprise,
        [
            ResultRow(item, result, note, photos.get(item.id or 0, []))
            for item, result, note in rows
        ],
        _checks_in_missing(session, [inspection]).get(inspection.id, ""),
    )


@dataclass(frozen=True)
class HistoryRow:
    inspection: Inspection
    enterprise_name: str
    inspector_name: str
    failed: int
    check_in_missing: str = ""  # the check-in its phone named that never reached the server


def _history(session: Session, *conditions: object, limit: int = 100) -> list[HistoryRow]:
    failed = (
        select(func.count())
        .where(
            InspectionResult.inspection_id == Inspection.id,
            InspectionResult.result == ItemResult.FAIL.value,
        )
        .scalar_subquery()
    )
    stmt = (
        select(Inspection, Enterprise.name, User.display_name, failed)
        .join(Enterprise, Enterprise.id == Inspection.enterprise_id)
        .join(User, User.id == Inspection.inspector_id)
        .where(*conditions)
        .order_by(Inspection.finished_at.desc())
        .limit(limit)
    )
    rows = session.execute(stmt).all()
    missing = _checks_in_missing(session, [row[0] for row in rows])
    return [
        HistoryRow(
            inspection, enterprise_name, inspector_name, failed, missing.get(inspection.id, "")
        )
        for inspection, enterprise_name, inspector_name, failed in rows
    ]


def enterprise_history(
    session: Session, principal: Principal, enterprise_id: int
) -> tuple[Enterprise, list[HistoryRow]]:
    enterprise, _ = get_enterprise(session, principal, enterprise_id)
    return enterprise, _history(session, Inspection.enterprise_id == enterprise_id)


def my_history(session: Session, principal: Principal) -> list[HistoryRow]:
    return _history(session, Inspection.inspector_id == principal.id)
