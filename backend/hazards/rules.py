"""Validation of a hazard report's fields: pure, shared by the sync mutation and the plain form."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from backend.models import HazardCategory, Severity
from backend.validation import MAX_ID, Area, decimal, is_id, phone_fix, text_problem

MAX_PHOTOS = 9
MAX_DESCRIPTION = 2000
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# A phone's clock is believed within these limits; outside them the server's time is used.
CLOCK_PAST = timedelta(days=30)
CLOCK_FUTURE = timedelta(minutes=5)
# A report that arrives this long after it was made was made offline and synced later.
SYNCED_LATER_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class ReportFields:
    id: str
    severity: Severity
    category: HazardCategory
    description: str
    enterprise_id: int | None
    key_point_id: int | None
    grid_id: int | None
    latitude: float | None
    longitude: float | None
    accuracy_m: float | None
    photos: tuple[str, ...]


def _optional_int(value: Any) -> tuple[int | None, bool]:
    if value in (None, ""):
        return None, True
    if isinstance(value, bool):
        return None, False
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # JSON's 1e400 arrives as infinity
        return None, False
    return number, is_id(number)


def optional_float(value: Any, low: float, high: float) -> tuple[float | None, bool]:
    """An optional number (None or "" is none): the number, and whether it was acceptable."""
    if value in (None, ""):
        return None, True
    number = decimal(value, low, high)
    return number, number is not None


def is_uuid(value: Any) -> bool:
    """A UUID in its canonical 8-4-4-4-12 form, either case. Stricter than `uuid.UUID`, which
    also takes dashes anywhere and non-ASCII digits, and a regular expression is a fifth of its
    cost on the sync hot path."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Enum values as a dict: a membership test and the member in one lookup.
_SEVERITY = {member.value: member for member in Severity}
_CATEGORY = {member.value: member for member in HazardCategory}


Id = Annotated[int, Meta(gt=0, le=MAX_ID)]


class _Typed(msgspec.Struct):
    """A report whose every field has the type and range the rules want, as phones send them:
    checked in C in one call. Anything it refuses goes through the field-by-field checks of
    `_parse_slowly`, which also name every problem, so both give the same answer."""

    id: str
    severity: Severity
    category: HazardCategory
    description: str
    enterprise_id: Id | None = None
    key_point_id: Id | None = None
    grid_id: Id | None = None
    latitude: Annotated[float, Meta(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Meta(ge=-180, le=180)] | None = None
    accuracy_m: Annotated[float, Meta(ge=0, le=1_000_000)] | None = None
    photos: Annotated[list[str], Meta(max_length=MAX_PHOTOS)] = []


def parse_report(raw: Mapping[str, Any], area: Area) -> tuple[ReportFields | None, dict[str, str]]:
    """Clean fields, or None and {field: message key} for every problem found. Where the phone
    was is optional, but a position outside the deployment's `area` is refused."""
    try:
        typed = msgspec.convert(raw, _Typed)
    except msgspec.ValidationError:
        return _parse_slowly(raw, area)
    description = _description(typed.description)
    if (
        not is_uuid(typed.id)
        or not description
        or len(description) > MAX_DESCRIPTION
        or text_problem(description)
        or (typed.enterprise_id is None and typed.grid_id is None)
        or not all(SHA256.match(p) for p in typed.photos)
        or (typed.latitude is None) != (typed.longitude is None)
        or (
            typed.latitude is not None
            and typed.longitude is not None
            and not area.contains(typed.latitude, typed.longitude)
        )
    ):
        return _parse_slowly(raw, area)
    return (
        ReportFields(
            id=typed.id.lower(),
            severity=typed.severity,
            category=typed.category,
            description=description,
            enterprise_id=typed.enterprise_id,
            key_point_id=typed.key_point_id,
            grid_id=typed.grid_id,
            latitude=typed.latitude,
            longitude=typed.longitude,
            accuracy_m=typed.accuracy_m,
            photos=tuple(dict.fromkeys(typed.photos)),
        ),
        {},
    )


def _description(value: Any) -> str:
    return str(value or "").strip()


def _parse_slowly(raw: Mapping[str, Any], area: Area) -> tuple[ReportFields | None, dict[str, str]]:
    errors: dict[str, str] = {}
    hazard_id = raw.get("id")
    if not is_uuid(hazard_id):
        errors["id"] = "invalid"
    severity = _SEVERITY.get(str(raw.get("severity") or ""))
    if severity is None:
        errors["severity"] = "hazard.severity"
    category = _CATEGORY.get(str(raw.get("category") or ""))
    if category is None:
        errors["category"] = "hazard.category"
    description = _description(raw.get("description"))
    if not description:
        errors["description"] = "required"
    elif len(description) > MAX_DESCRIPTION:
        errors["description"] = "too_long"
    elif text_problem(description):
        # PostgreSQL text cannot hold NUL, nor the CAP export other controls.
        errors["description"] = "control_chars"
    numbers: dict[str, Any] = {}
    for key in ("enterprise_id", "key_point_id", "grid_id"):
        numbers[key], ok = _optional_int(raw.get(key))
        if not ok:
            errors[key] = "invalid"
    fix, problems = phone_fix(raw, area)
    errors.update(problems)
    numbers["latitude"], numbers["longitude"], numbers["accuracy_m"] = fix
    photos = raw.get("photos") or []
    if (
        not isinstance(photos, list | tuple)
        or len(photos) > MAX_PHOTOS
        or not all(isinstance(p, str) and SHA256.match(p) for p in photos)
    ):
        errors["photos"] = "hazard.photos"
    if (
        numbers.get("enterprise_id") is None
        and numbers.get("grid_id") is None
        and "enterprise_id" not in errors
    ):
        errors["enterprise_id"] = "hazard.where"
    if errors or severity is None or category is None:
        return None, errors
    return (
        ReportFields(
            id=str(hazard_id).lower(),
            severity=severity,
            category=category,
            description=description,
            photos=tuple(dict.fromkeys(photos)),
            **numbers,
        ),
        {},
    )


def believed_time(claimed: datetime, now: datetime) -> tuple[datetime, bool]:
    """The phone's time if plausible (else the server's), and whether it was synced later."""
    if now - CLOCK_PAST <= claimed <= now + CLOCK_FUTURE:
        return min(claimed, now), now - claimed > SYNCED_LATER_AFTER
    return now, False
