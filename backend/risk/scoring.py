"""The risk score (风险评分), as a pure function over plain facts; weights come from a versioned
TOML file (`weights.toml`, or GRIDSAFE_RISK_WEIGHTS).

score = inherent risk of the industry
      + open hazards (general and major, each capped)
      + overdue rectifications (capped)
      + round(failed share of official inspections in the window × fail_ratio)
      + enforcement decisions in the window, by kind (capped)
      + accidents in the window, by level, plus deaths (capped)

The colour is the highest band the score reaches (red ≥ colours.red, orange ≥ colours.orange,
yellow ≥ colours.yellow, else blue), raised by floors: an open major hazard (重大隐患) makes the
enterprise red, and an accident of a floored level keeps at least its colour for the window.
Every term that adds points, or sets a floor, is one entry of the factor list the page shows.

Standard library only: the settings check imports this module at start-up."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

# Worst first. Equal to backend.models.RiskColour's values (a test keeps them equal).
COLOURS = ("red", "orange", "yellow", "blue")
RANK = {colour: len(COLOURS) - index for index, colour in enumerate(COLOURS)}
ENFORCEMENT_KINDS = ("warning", "fine", "order", "suspension", "licence_revoked", "other")
ACCIDENT_LEVELS = ("general", "larger", "major", "especially_major")
DEFAULT_WEIGHTS = Path(__file__).with_name("weights.toml")


@dataclass(frozen=True)
class Weights:
    version: int
    bands: Mapping[str, int]  # red/orange/yellow: lowest score of the band
    industry: Mapping[str, int]
    hazards: Mapping[str, Any]
    overdue: Mapping[str, int]
    inspections: Mapping[str, int]
    enforcement: Mapping[str, int]
    accidents: Mapping[str, Any]

    def window_start(self, now: datetime) -> Windows:
        """Where each look-back window starts (months and years counted as 30 and 365 days)."""
        return Windows(
            inspections=now - timedelta(days=self.inspections["window_days"]),
            enforcement=(now - timedelta(days=30 * self.enforcement["window_months"])).date(),
            accidents=(now - timedelta(days=365 * self.accidents["window_years"])).date(),
        )


@dataclass(frozen=True)
class Windows:
    inspections: datetime
    enforcement: date
    accidents: date


@dataclass(frozen=True)
class Facts:
    """What is known of one enterprise, already cut to the weights' windows."""

    industry: str
    open_general: int = 0
    open_major: int = 0
    overdue: int = 0
    inspections: int = 0  # official inspections in the window
    failed_inspections: int = 0  # of which at least one checklist item failed
    enforcement: Mapping[str, int] = field(default_factory=dict)  # kind -> decisions
    accidents: Mapping[str, int] = field(default_factory=dict)  # level -> accidents
    deaths: int = 0


@dataclass(frozen=True)
class Scored:
    score: int
    colour: str
    factors: list[dict[str, Any]]


def _factor(name: str, points: int, **detail: Any) -> dict[str, Any]:
    return {"factor": name, "points": points, "detail": detail}


def colour_of_score(score: int, bands: Mapping[str, int]) -> str:
    for colour in COLOURS[:-1]:
        if score >= bands[colour]:
            return colour
    return COLOURS[-1]


def worse(a: str, b: str) -> str:
    return a if RANK[a] >= RANK[b] else b


def score(facts: Facts, weights: Weights) -> Scored:
    factors = [
        _factor("industry", weights.industry.get(facts.industry, 0), industry=facts.industry)
    ]
    floor = COLOURS[-1]
    h = weights.hazards
    if facts.open_general:
        points = min(facts.open_general * h["general"], h["general_cap"])
        factors.append(_factor("open_general_hazards", points, count=facts.open_general))
    if facts.open_major:
        points = min(facts.open_major * h["major"], h["major_cap"])
        factors.append(
            _factor("open_major_hazards", points, count=facts.open_major, floor=h["major_floor"])
        )
        floor = worse(floor, h["major_floor"])
    if facts.overdue:
        points = min(facts.overdue * weights.overdue["each"], weights.overdue["cap"])
        factors.append(_factor("overdue_rectifications", points, count=facts.overdue))
    if facts.failed_inspections and facts.inspections:
        ratio = facts.failed_inspections / facts.inspections
        points = round(ratio * weights.inspections["fail_ratio"])
        factors.append(
            _factor(
                "failed_inspections",
                points,
                failed=facts.failed_inspections,
                inspections=facts.inspections,
                days=weights.inspections["window_days"],
            )
        )
    decisions = {kind: n for kind, n in sorted(facts.enforcement.items()) if n}
    if decisions:
        raw = sum(weights.enforcement.get(kind, 0) * n for kind, n in decisions.items())
        factors.append(
            _factor(
                "enforcement",
                min(raw, weights.enforcement["cap"]),
                kinds=decisions,
                months=weights.enforcement["window_months"],
            )
        )
    accidents = {level: n for level, n in sorted(facts.accidents.items()) if n}
    if accidents:
        a = weights.accidents
        raw = sum(a.get(level, 0) * n for level, n in accidents.items()) + a["per_death"] * max(
            facts.deaths, 0
        )
        floors = [a["floor"][level] for level in accidents if level in a["floor"]]
        detail: dict[str, Any] = {"levels": accidents, "deaths": facts.deaths}
        detail["years"] = a["window_years"]
        if floors:
            detail["floor"] = max(floors, key=RANK.__getitem__)
            floor = worse(floor, detail["floor"])
        factors.append(_factor("accidents", min(raw, a["cap"]), **detail))
    total = sum(item["points"] for item in factors)
    return Scored(total, worse(colour_of_score(total, weights.bands), floor), factors)


def moved_by(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Which factors changed between two factor lists: [{factor, from, to}] in points."""
    before = {item["factor"]: int(item["points"]) for item in old}
    after = {item["factor"]: int(item["points"]) for item in new}
    names = [item["factor"] for item in new] + [n for n in before if n not in after]
    return [
        {"factor": name, "from": before.get(name, 0), "to": after.get(name, 0)}
        for name in names
        if before.get(name, 0) != after.get(name, 0) or (name in after) != (name in before)
    ]


def inspection_due(
    colour: str, last_inspected_at: datetime | None, now: datetime, intervals: Mapping[str, int]
) -> datetime:
    """Next inspection: the last one plus the colour's interval; due now if never inspected."""
    if last_inspected_at is None:
        return now
    return last_inspected_at + timedelta(days=intervals[colour])


def parse_intervals(text: str) -> dict[str, int]:
    """`red=30,orange=90,yellow=180,blue=365` → days per colour; every colour, each ≥ 1."""
    result: dict[str, int] = {}
    for part in text.split(","):
        name, _, days = part.partition("=")
        name = name.strip()
        if name not in COLOURS or not days.strip().isdigit() or int(days) < 1:
            raise ValueError(
                f"GRIDSAFE_INSPECTION_INTERVALS: {part.strip()!r} is not colour=days"
                " (colours red, orange, yellow, blue; days at least 1)"
            )
        result[name] = int(days)
    if set(result) != set(COLOURS):
        raise ValueError(
            "GRIDSAFE_INSPECTION_INTERVALS must give days for red, orange, yellow, blue"
        )
    return result


def _ints(section: Mapping[str, Any], keys: Sequence[str], where: str) -> dict[str, int]:
    out = {}
    for key in keys:
        value = section.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"risk weights: {where}.{key} must be a whole number ≥ 0")
        out[key] = value
    return out


def _colour(value: Any, where: str) -> str:
    if value not in COLOURS:
        raise ValueError(f"risk weights: {where} must be one of {', '.join(COLOURS)}")
    return str(value)


def weights_from(data: Mapping[str, Any]) -> Weights:
    """Check a parsed weights document; every missing or wrong value is a ValueError."""
    try:
        version = _ints(data, ["version"], "")["version"]
        bands = _ints(data["colours"], COLOURS[:-1], "colours")
        if not bands["red"] > bands["orange"] > bands["yellow"]:
            raise ValueError("risk weights: colours must be red > orange > yellow")
        # Every industry the file names, and "other" at least (an unknown industry scores 0).
        industry = _ints(data["industry"], ["other", *data["industry"]], "industry")
        hazards: dict[str, Any] = _ints(
            data["hazards"], ["general", "general_cap", "major", "major_cap"], "hazards"
        )
        hazards["major_floor"] = _colour(data["hazards"].get("major_floor"), "hazards.major_floor")
        overdue = _ints(data["overdue"], ["each", "cap"], "overdue")
        inspections = _ints(data["inspections"], ["window_days", "fail_ratio"], "inspections")
        enforcement = _ints(
            data["enforcement"], [*ENFORCEMENT_KINDS, "cap", "window_months"], "enforcement"
        )
        accidents: dict[str, Any] = _ints(
            data["accidents"], [*ACCIDENT_LEVELS, "per_death", "cap", "window_years"], "accidents"
        )
        accidents["floor"] = {
            level: _colour(value, f"accidents.floor.{level}")
            for level, value in dict(data["accidents"].get("floor", {})).items()
            if level in ACCIDENT_LEVELS
        }
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"risk weights: missing or malformed section ({error})") from None
    return Weights(version, bands, industry, hazards, overdue, inspections, enforcement, accidents)


def load_weights(path: Path | None = None) -> Weights:
    path = path or DEFAULT_WEIGHTS
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"risk weights: cannot read {path} ({error})") from None
    return weights_from(data)
