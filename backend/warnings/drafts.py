"""The compose form read into a `Draft`, or the errors by field (message keys): pure, no database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any

from backend.models import WarningLevel
from backend.timezone import from_local_input
from backend.validation import Area, clean_text
from backend.warnings.services import Draft
from backend.warnings.targeting import parse_targeting

MAX_TITLE = 200
MAX_BODY = 4000
MAX_INSTRUCTIONS = 2000
# Why a warning was cancelled: a line for the notification and the CAP note, not a report.
MAX_REASON = 200
# A warning is about the coming hours or days; a longer one is a notice, not a warning.
MAX_VALIDITY = timedelta(days=30)


def _text(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key, "")
    return (value[0] if isinstance(value, list) and value else str(value or "")).strip()


def _check(
    errors: dict[str, str], form: Mapping[str, Any], key: str, limit: int, *, required: bool
) -> str:
    """The field's text; a problem noted under `key` (a control character has its own note)."""
    text, problem = clean_text(_text(form, key), limit, required=required)
    if problem:
        errors[key] = (
            f"fields.{problem}" if problem == "control_chars" else f"warnings.errors.{key}"
        )
    return text


def parse_draft(
    form: Mapping[str, Any], now: datetime, where: tzinfo, area: Area
) -> tuple[Draft | None, dict[str, str]]:
    """`valid_until` is wall-clock time in `where` (the deployment's zone), as the form shows;
    a "near a point" criterion lies inside `area`."""
    targeting, errors = parse_targeting(form, area)
    title = _check(errors, form, "title", MAX_TITLE, required=True)
    body = _check(errors, form, "body", MAX_BODY, required=True)
    instructions = _check(errors, form, "instructions", MAX_INSTRUCTIONS, required=False)
    level = _text(form, "level")
    if level not in set(WarningLevel):
        errors["level"] = "warnings.errors.level"
    valid_until = from_local_input(_text(form, "valid_until"), where)
    if valid_until is None:
        errors["valid_until"] = "warnings.errors.valid_until"
    elif valid_until <= now:
        errors["valid_until"] = "warnings.errors.valid_until_past"
    elif valid_until > now + MAX_VALIDITY:
        errors["valid_until"] = "warnings.errors.valid_until_far"
    if errors or valid_until is None:
        return None, errors
    return Draft(title, level, body, instructions, valid_until, targeting), {}


def parse_reason(form: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
    """The cancel form's reason: required, one short line."""
    errors: dict[str, str] = {}
    reason = " ".join(_check(errors, form, "reason", MAX_REASON, required=True).split())
    if errors:
        return None, errors
    return reason, {}
