"""One rule for the text, numbers and coordinates GridSafe accepts, whatever door they come in by
(a form, the JSON API, a sync mutation, an import): pure functions answering a `fields.*` code.

Why these rules:
- Text: PostgreSQL's text type cannot hold NUL, and XML 1.0 (the CAP export) cannot carry the
  other C0 controls, lone surrogates or U+FFFE/U+FFFF. Refusing them at the door keeps both
  databases storing the same thing and every stored text exportable. Tab, newline and carriage
  return are ordinary text.
- Whole numbers: `str.isdigit()` is true for "²" and "①", which `int()` refuses; only ASCII
  digits count, and an id never exceeds an INTEGER column (a larger number names nothing, and
  binding it makes the database refuse the statement).
- Decimals: finite only (JSON's 1e400 arrives as infinity, "nan" parses), ASCII only.
- Coordinates: inside the deployment's area (GRIDSAFE_AREA); a point elsewhere is a typo or a
  phone that has not found itself yet, never a place this deployment serves.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sync import Rejected

# Enterprise, unit, plan and user ids are INTEGER columns.
MAX_ID = 2**31 - 1
# What XML 1.0 and PostgreSQL text cannot carry (tab, LF and CR excepted).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
# Longer than any number a person means: float() of a 10,000-digit string is slow.
_MAX_NUMBER_TEXT = 32


def is_id(value: Any) -> bool:
    """A positive database id (never a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def text_problem(value: str) -> str | None:
    """`control_chars` when the text holds a character no database or export can keep."""
    return "control_chars" if _FORBIDDEN.search(value) else None


def without_control_chars(text: str) -> str:
    """For output that must stay well-formed (XML) whatever was stored before the rule."""
    return _FORBIDDEN.sub("", text)


def refuse_control_chars(field: str, text: str) -> None:
    """For the services whose refusals are `sync.Rejected` (a page's answer and a sync
    mutation's alike): validation_failed naming the field."""
    if _FORBIDDEN.search(text):
        raise Rejected("validation_failed", fields={field: "control_chars"})


def clean_text(value: Any, limit: int, *, required: bool = False) -> tuple[str, str | None]:
    """The text stripped, and the problem with it (`required`, `too_long`, `control_chars`)."""
    text = str(value if value is not None else "").strip()
    if _FORBIDDEN.search(text):
        return text, "control_chars"
    if required and not text:
        return text, "required"
    if len(text) > limit:
        return text, "too_long"
    return text, None


def whole_number(value: Any, low: int, high: int) -> int | None:
    """An integer typed as ASCII digits (or given as a JSON integer) within [low, high]."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value if value is not None else "").strip()
        if not text.isascii() or not text.isdecimal() or len(text) > _MAX_NUMBER_TEXT:
            return None
        number = int(text)
    return number if low <= number <= high else None


def identifier(value: Any) -> int | None:
    """A database id typed in a form or sent in JSON, or None."""
    return whole_number(value, 1, MAX_ID)


def decimal(value: Any, low: float, high: float) -> float | None:
    """A finite decimal within [low, high], typed in ASCII or given as a JSON number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value) if abs(value) < 1e308 else math.inf
    else:
        text = str(value if value is not None else "").strip()
        if len(text) > _MAX_NUMBER_TEXT or not _DECIMAL.fullmatch(text):
            return None
        number = float(text)
    return number if math.isfinite(number) and low <= number <= high else None


@dataclass(frozen=True)
class Area:
    """The bounding box the deployment serves, in degrees (WGS-84 as phones report it)."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    @classmethod
    def parse(cls, text: str) -> Area:
        """From "min_lon,min_lat,max_lon,max_lat"; ValueError saying what is wrong."""
        parts = [part.strip() for part in text.split(",")]
        numbers = [decimal(part, -180, 180) for part in parts]
        if len(parts) != 4 or None in numbers:
            raise ValueError(
                f"{text!r} is not four numbers min_lon,min_lat,max_lon,max_lat in degrees"
            )
        min_lon, min_lat, max_lon, max_lat = (float(n or 0) for n in numbers)
        if not (min_lon < max_lon and -90 <= min_lat < max_lat <= 90):
            raise ValueError(f"{text!r} is not a box: each minimum must be below its maximum")
        return cls(min_lon, min_lat, max_lon, max_lat)

    def contains(self, latitude: float, longitude: float) -> bool:
        return (
            self.min_lat <= latitude <= self.max_lat and self.min_lon <= longitude <= self.max_lon
        )

    def __str__(self) -> str:
        return f"{self.min_lon},{self.min_lat},{self.max_lon},{self.max_lat}"


def position(
    latitude: Any, longitude: Any, area: Area, *, required: bool = True
) -> tuple[tuple[float, float] | None, dict[str, str]]:
    """A point inside `area`, or the problems by field (`latitude`, `longitude`).

    Both empty is no point (an error when `required`); one without the other is
    `coordinate_pair`; a number that is no coordinate is `coordinate`; a point outside the area
    is `out_of_area` on both fields."""
    given = [
        value not in (None, "") and str(value).strip() != "" for value in (latitude, longitude)
    ]
    if not any(given):
        return None, ({"latitude": "required", "longitude": "required"} if required else {})
    lat, lon = decimal(latitude, -90, 90), decimal(longitude, -180, 180)
    errors: dict[str, str] = {}
    if given[0] and lat is None:
        errors["latitude"] = "coordinate"
    if given[1] and lon is None:
        errors["longitude"] = "coordinate"
    if not errors and not all(given):
        errors["longitude" if given[0] else "latitude"] = "coordinate_pair"
    if errors or lat is None or lon is None:
        return None, errors
    if not area.contains(lat, lon):
        return None, {"latitude": "out_of_area", "longitude": "out_of_area"}
    return (lat, lon), {}


# Wuhan municipality (113°41′–115°05′ E, 29°58′–31°22′ N) with a little margin: GRIDSAFE_AREA's
# default.
WUHAN = Area(113.68, 29.96, 115.09, 31.37)


def area_of(settings: Any) -> Area:
    """The configured area (Settings.area); the default where a session carries no settings
    (one made by a script or a test without them)."""
    area = getattr(settings, "area", None)
    return area if isinstance(area, Area) else WUHAN


Fix = tuple[float | None, float | None, float | None]


def phone_fix(raw: Mapping[str, Any], area: Area) -> tuple[Fix, dict[str, str]]:
    """Where a phone was when it checked in or reported (latitude, longitude, accuracy_m): all
    optional, as a phone may have no fix; a position outside `area` is refused."""
    point, errors = position(raw.get("latitude"), raw.get("longitude"), area, required=False)
    given = raw.get("accuracy_m")
    accuracy = None if given in (None, "") else decimal(given, 0, 1_000_000)
    if given not in (None, "") and accuracy is None:
        errors["accuracy_m"] = "invalid"
    latitude, longitude = point or (None, None)
    return (latitude, longitude, accuracy), errors
