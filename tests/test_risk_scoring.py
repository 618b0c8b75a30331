"""The scoring, table-driven: every factor moves the colour up when it appears and back down when
it goes; the floors; the weights file and the intervals setting are checked."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backend.models import RiskColour
from backend.risk.scoring import (
    COLOURS,
    Facts,
    inspection_due,
    load_weights,
    moved_by,
    parse_intervals,
    score,
)
from backend.settings import ConfigurationError, Settings

W = load_weights()
METAL = Facts("metallurgy")  # 35: yellow
OTHER = Facts("other")  # 5: blue

# (factor, calm facts, troubled facts, calm colour, troubled colour)
MOVES = [
    ("industry", Facts("other"), Facts("hazardous_chemicals"), "blue", "yellow"),
    ("open_general_hazards", METAL, replace(METAL, open_general=3), "yellow", "orange"),
    ("open_major_hazards", OTHER, replace(OTHER, open_major=1), "blue", "red"),
    ("overdue_rectifications", METAL, replace(METAL, overdue=2), "yellow", "orange"),
    (
        "failed_inspections",
        replace(METAL, inspections=4),
        replace(METAL, inspections=4, failed_inspections=4),
        "yellow",
        "orange",
    ),
    ("enforcement", METAL, replace(METAL, enforcement={"suspension": 1}), "yellow", "orange"),
    ("accidents", OTHER, replace(OTHER, accidents={"general": 2}), "blue", "yellow"),
    ("accidents", OTHER, replace(OTHER, accidents={"larger": 1}), "blue", "orange"),
    ("accidents", OTHER, replace(OTHER, accidents={"major": 1}), "blue", "red"),
]


@pytest.mark.parametrize(("factor", "calm", "troubled", "low", "high"), MOVES)
def test_every_factor_moves_the_colour_both_ways(
    factor: str, calm: Facts, troubled: Facts, low: str, high: str
) -> None:
    up, down = score(troubled, W), score(calm, W)
    assert (down.colour, up.colour) == (low, high)
    assert up.score > down.score
    assert factor in {f["factor"] for f in up.factors}
    moved = {m["factor"] for m in moved_by(down.factors, up.factors)}
    assert factor in moved
    assert {m["factor"] for m in moved_by(up.factors, down.factors)} == moved


@pytest.mark.parametrize(
    ("facts", "points", "colour"),
    [
        (Facts("unknown_industry"), 0, "blue"),
        (Facts("hazardous_chemicals", open_general=10), 60, "orange"),  # capped at 20
        (Facts("hazardous_chemicals", open_general=10, overdue=9), 90, "red"),  # 30 cap
        (Facts("other", inspections=3, failed_inspections=1), 12, "blue"),  # 20 × 1/3 → 7
        (Facts("other", failed_inspections=2), 5, "blue"),  # no inspections: no ratio
        (Facts("other", enforcement={"licence_revoked": 2}), 35, "yellow"),  # capped at 30
        (Facts("other", accidents={"general": 1}, deaths=1), 30, "yellow"),
        (Facts("other", accidents={"especially_major": 2}, deaths=10), 85, "red"),
        # Floors raise the colour whatever the score: an open major hazard is red.
        (Facts("other", open_major=1), 35, "red"),
    ],
)
def test_points_caps_and_floors(facts: Facts, points: int, colour: str) -> None:
    scored = score(facts, W)
    assert (scored.score, scored.colour) == (points, colour)
    assert scored.score == sum(f["points"] for f in scored.factors)


def test_colours_match_the_model() -> None:
    assert tuple(c.value for c in RiskColour) == COLOURS


def test_the_next_inspection_follows_the_colour() -> None:
    intervals = parse_intervals("red=30,orange=90,yellow=180,blue=365")
    now = datetime(2026, 11, 25, tzinfo=UTC)
    last = now - timedelta(days=40)
    assert inspection_due("red", last, now, intervals) == last + timedelta(days=30)
    assert inspection_due("blue", last, now, intervals) == last + timedelta(days=365)
    assert inspection_due("red", None, now, intervals) == now


@pytest.mark.parametrize(
    "text",
    [
        "",
        "red=30",
        "red=30,orange=90,yellow=180,blue=0",
        "red=x,orange=1,yellow=1,blue=1",
        "pink=1",
    ],
)
def test_bad_intervals_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="GRIDSAFE_INSPECTION_INTERVALS"):
        parse_intervals(text)


def test_a_weights_file_is_checked(tmp_path: Path) -> None:
    shipped = (Path(__file__).parent.parent / "backend/risk/weights.toml").read_text()
    good = tmp_path / "w.toml"
    good.write_text(
        shipped.replace("version = 1", "version = 2").replace("major = 30", "major = 31")
    )
    assert load_weights(good).version == 2
    for broken in (
        shipped.replace("red = 70", "red = 40"),  # bands out of order
        shipped.replace('major_floor = "red"', 'major_floor = "pink"'),
        shipped.replace("each = 10", "each = -1"),
        "version = 1",
    ):
        bad = tmp_path / "bad.toml"
        bad.write_text(broken)
        with pytest.raises(ValueError, match="risk weights"):
            load_weights(bad)
    with pytest.raises(ValueError, match="cannot read"):
        load_weights(tmp_path / "missing.toml")


def test_settings_refuse_bad_risk_configuration(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="GRIDSAFE_INSPECTION_INTERVALS"):
        Settings(data_dir=tmp_path, inspection_intervals="red=30")
    with pytest.raises(ConfigurationError, match="risk weights"):
        Settings(data_dir=tmp_path, risk_weights=str(tmp_path / "none.toml"))
    assert Settings(data_dir=tmp_path).inspection_intervals.startswith("red=30")
