"""Validation of a hazard report's fields: pure, shared by the sync mutation and the plain form."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from backend.models import HazardCategory, Severity

MAX_PHOTOS = 9
MAX_DESCRIPTION = 2000
# Enterprise, key point and unit ids are INTEGER columns: a larger number names nothing, and
# binding it would make the database refuse the statement (and with it the whole batch).
MAX_ID = 2**31 - 1
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
    except (TypeError, ValueError):
        return None, False
    return number, is_id(number)


def is_id(value: Any) -> bool:
    """A positive database id (never a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def optional_float(value: Any, low: float, high: float) -> tuple[float | None, bool]:
    if value in (None, ""):
        return None, True
    if isinstance(value, bool):
        return None, False
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None, False
    return number, low <= number <= high


def is_uuid(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def parse_report(raw: Mapping[str, Any]) -> tuple[ReportFields | None, dict[str, str]]:
    """Clean fields, or None and {field: message key} for every problem found."""
    errors: dict[str, str] = {}
    hazard_id = raw.get("id")
    if not is_uuid(hazard_id):
        errors["id"] = "invalid"
    severity = str(raw.get("severity") or "")
    if severity not in Severity.__members__.values():
        errors["severity"] = "hazard.severity"
    category = str(raw.get("category") or "")
    if category not in HazardCategory.__members__.values():
        errors["category"] = "hazard.category"
    # PostgreSQL text cannot hold NUL: keeping one would fail the whole batch, for ever.
    description = str(raw.get("description") or "").replace("\x00", "").strip()
    if not description:
        errors["description"] = "required"
    elif len(description) > MAX_DESCRIPTION:
        errors["description"] = "too_long"
    numbers: dict[str, Any] = {}
    for key in ("enterprise_id", "key_point_id", "grid_id"):
        numbers[key], ok = _optional_int(raw.get(key))
        if not ok:
            errors[key] = "invalid"
    for key, low, high in (
        ("latitude", -90, 90),
        ("longitude", -180, 180),
        ("accuracy_m", 0, 1_000_000),
    ):
        numbers[key], ok = optional_float(raw.get(key), low, high)
        if not ok:
            errors[key] = "coordinate" if key != "accuracy_m" else "invalid"
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
    if errors:
        return None, errors
    return (
        ReportFields(
            id=str(hazard_id).lower(),
            severity=Severity(severity),
            category=HazardCategory(category),
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
