"""An inspection recorded on a phone and sent through the sync engine (`inspection.record`):
the arguments read into the page's form, then the page's own rules (services.check_answers),
but for one: a check-in the server never stored does not cost the inspection (see _unlinked)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend.audit import Origin
from backend.auth.policy import Principal
from backend.errors import AppError
from backend.hazards.rules import SHA256, is_uuid
from backend.inspections import services
from backend.models import CheckIn, Inspection
from backend.validation import is_id
from sync import Rejected

# More results than any checklist has items is not an inspection: refused before looking.
MAX_RESULTS = 200


def _refuse(field: str, key: str = "invalid") -> Rejected:
    return Rejected("validation_failed", fields={field: key})


def _photos(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(sha, str) and SHA256.match(sha) for sha in value
    ):
        raise _refuse(field)
    return list(dict.fromkeys(value))


def read_answers(args: Mapping[str, Any]) -> tuple[int, services.Answers]:
    """The enterprise and the answers, as the page's form would carry them. Only the shape is
    checked here; what the answers mean is the page's rule, checked by the service."""
    inspection_id, enterprise_id = args.get("id"), args.get("enterprise_id")
    if not is_uuid(inspection_id):
        raise _refuse("id")
    if not isinstance(enterprise_id, int) or not is_id(enterprise_id):
        raise _refuse("enterprise_id")
    template_id, started_at = args.get("template_id"), args.get("started_at", "")
    if not is_id(template_id):
        raise _refuse("template_id")
    check_in_id = args.get("check_in_id") or ""
    if check_in_id and not is_uuid(check_in_id):
        raise _refuse("check_in_id")
    if not isinstance(started_at, str):
        raise _refuse("started_at")
    fields = {"template_id": str(template_id), "started_at": started_at, "check_in_id": check_in_id}
    results = args.get("results")
    if not isinstance(results, list) or not results or len(results) > MAX_RESULTS:
        raise _refuse("results", "required")
    photos: dict[int, list[str]] = {}
    for entry in results:
        item_id = entry.get("item_id") if isinstance(entry, dict) else None
        if not isinstance(item_id, int) or not is_id(item_id) or f"result_{item_id}" in fields:
            raise _refuse("results")
        assert isinstance(entry, dict)  # an item id was read from it
        result, note = entry.get("result", ""), entry.get("note", "")
        if not isinstance(result, str) or not isinstance(note, str):
            raise _refuse(f"result_{item_id}")
        fields[f"result_{item_id}"], fields[f"note_{item_id}"] = result, note
        named = _photos(entry.get("photos"), f"photo_{item_id}")
        if named:
            photos[item_id] = named
    # The flat list is what the outbox uploads before it sends; it must name the same photos.
    every = {sha for names in photos.values() for sha in names}
    if "photos" in args and set(_photos(args["photos"], "photos")) != every:
        raise _refuse("photos")
    return enterprise_id, services.Answers(fields, photos, str(inspection_id).lower())


def _rejected(error: AppError) -> Rejected:
    """The page's refusal as the phone's: out of scope and a changed checklist get codes of their
    own, so the outbox can say what to do; the rest keep the page's code and fields."""
    if error.code == "not_found":
        return Rejected("inspection.out_of_scope")
    if error.fields.get("template_id") == "invalid":
        return Rejected("inspection.checklist_changed", fields={"template_id": "invalid"})
    return Rejected(error.code, fields=dict(error.fields))


def _unlinked(session: Session, answers: services.Answers) -> tuple[services.Answers, str]:
    """The answers without a check-in the server has no row of, and the id they named.

    The phone queues its check-in and the inspection together; the server may refuse the
    check-in (a replaced code, an enterprise outside the inspector's area) or never get it. The
    inspector cannot mend a check-in from the phone, so refusing the inspection for it would lose
    work that was done: it is stored unlinked and its event names the missing check-in for a
    reviewer. A stored check-in still goes through the page's rule (whose, which enterprise).
    The page keeps refusing an unknown id: its form is filled from a check-in made online."""
    named = answers.fields.get("check_in_id", "").lower()
    if not named or session.get(CheckIn, named) is not None:
        return answers, ""
    return replace(answers, fields={**answers.fields, "check_in_id": ""}), named


def record_sent(
    session: Session,
    principal: Principal,
    args: Mapping[str, Any],
    origin: Origin,
    finished_at: datetime,
    *,
    client_id: str | None = None,
    mutation_id: int | None = None,
) -> dict[str, Any]:
    """Record a phone's inspection inside the sync batch's transaction (the engine commits).
    The same inspection id twice is refused, so an inspection sent again is never stored twice;
    every refusal comes before the first write. `client_id` and `mutation_id` name the install
    and outbox entry it came from, in its event.

    Returns the phone's answer: the inspection's id; `photos_missing`, the photos it names that
    the server does not have yet (linked all the same: see services.write_inspection); and
    `check_in_missing` when the check-in it named was left out (see _unlinked)."""
    enterprise_id, answers = read_answers(args)
    if session.get(Inspection, answers.id) is not None:
        raise Rejected("inspection.duplicate_id")
    answers, check_in_missing = _unlinked(session, answers)
    try:
        checked = services.check_answers(session, principal, enterprise_id, answers)
    except AppError as error:
        raise _rejected(error) from error
    version = args.get("template_version")
    if version is not None and version != checked.checklist.template.version:
        raise Rejected("inspection.checklist_changed", fields={"template_id": "invalid"})
    sent_by: dict[str, object] = {"client_id": client_id, "mutation_id": mutation_id}
    if check_in_missing:
        sent_by["check_in_missing"] = check_in_missing
    try:
        # Two installs sending the same inspection id both pass the check above; the loser's
        # insert then waits for the winner and breaks on the key. The savepoint keeps the
        # batch's transaction usable after that (PostgreSQL aborts it otherwise), so the loser
        # gets the same answer as a later resend. One extra round trip: inspections are rare.
        with session.begin_nested():
            inspection, photos_missing = services.write_inspection(
                session, principal, checked, answers, origin, finished_at, sent_by
            )
    except IntegrityError:
        if session.get(Inspection, answers.id) is None:
            raise  # some other constraint: a bug, reported by the engine
        raise Rejected("inspection.duplicate_id") from None
    answer: dict[str, Any] = {"inspection_id": inspection.id}
    if photos_missing:
        answer["photos_missing"] = photos_missing
    if check_in_missing:
        answer["check_in_missing"] = True
    return answer
