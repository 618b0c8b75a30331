"""The one rule for text, numbers and coordinates (backend/validation.py), case by case."""

from __future__ import annotations

from typing import Any

import pytest

from backend.settings import ConfigurationError, Settings
from backend.validation import (
    MAX_ID,
    WUHAN,
    Area,
    clean_text,
    decimal,
    identifier,
    phone_fix,
    position,
    whole_number,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  大风预警 ", ("大风预警", None)),
        ("第一行\n\t第二行\r\n", ("第一行\n\t第二行", None)),
        ("a\x00b", ("a\x00b", "control_chars")),
        ("a\x0bb", ("a\x0bb", "control_chars")),
        ("a\x1fb", ("a\x1fb", "control_chars")),
        ("a\ud800b", ("a\ud800b", "control_chars")),
        ("a\ufffeb", ("a\ufffeb", "control_chars")),
        ("a\uffffb", ("a\uffffb", "control_chars")),
        ("😀 表情", ("😀 表情", None)),
        ("", ("", "required")),
        ("x" * 11, ("x" * 11, "too_long")),
        (None, ("", "required")),
    ],
)
def test_text_refuses_what_postgresql_and_xml_cannot_keep(
    value: Any, expected: tuple[str, str | None]
) -> None:
    assert clean_text(value, 10, required=True) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3),
        (" 3 ", 3),
        (3, 3),
        ("²", None),
        ("①", None),
        ("٣", None),  # an Arabic-Indic digit: int() takes it, a person typing "3" never means it
        ("-1", None),
        ("3.0", None),
        (True, None),
        ("9" * 40, None),
        (str(2**63), None),
    ],
)
def test_whole_numbers_are_ascii_digits_in_range(value: Any, expected: int | None) -> None:
    assert whole_number(value, 0, 100) == expected


def test_ids_fit_an_integer_column() -> None:
    assert identifier(str(MAX_ID)) == MAX_ID
    assert identifier(str(MAX_ID + 1)) is None
    assert identifier(9.4e24) is None
    assert identifier("0") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30.6", 30.6),
        (30.6, 30.6),
        ("-0.5", -0.5),
        (".5", 0.5),
        ("1e1", 10.0),
        ("nan", None),
        ("inf", None),
        (float("nan"), None),
        (1e400, None),
        ("3０", None),  # a full-width digit
        ("²", None),
        ("", None),
        ("1" * 40, None),
        (False, None),
    ],
)
def test_decimals_are_finite_ascii_numbers(value: Any, expected: float | None) -> None:
    assert decimal(value, -90, 90) == expected


@pytest.mark.parametrize(
    ("latitude", "longitude", "point", "errors"),
    [
        ("30.63", "114.38", (30.63, 114.38), {}),
        ("51.5074", "-0.1278", None, {"latitude": "out_of_area", "longitude": "out_of_area"}),
        ("0", "0", None, {"latitude": "out_of_area", "longitude": "out_of_area"}),
        ("91", "114.38", None, {"latitude": "coordinate"}),
        ("30.63", "", None, {"longitude": "coordinate_pair"}),
        ("", "", None, {"latitude": "required", "longitude": "required"}),
        ("30.6x", "114.38", None, {"latitude": "coordinate"}),
    ],
)
def test_a_position_lies_inside_the_area(
    latitude: str, longitude: str, point: tuple[float, float] | None, errors: dict[str, str]
) -> None:
    assert position(latitude, longitude, WUHAN) == (point, errors)


def test_a_phone_may_have_no_fix_but_not_one_elsewhere() -> None:
    assert phone_fix({}, WUHAN) == ((None, None, None), {})
    assert phone_fix({"latitude": 30.6, "longitude": 114.3, "accuracy_m": 8}, WUHAN) == (
        (30.6, 114.3, 8.0),
        {},
    )
    _, errors = phone_fix({"latitude": 51.5, "longitude": -0.12}, WUHAN)
    assert errors == {"latitude": "out_of_area", "longitude": "out_of_area"}


def test_the_area_is_a_setting(tmp_path: Any) -> None:
    assert Settings(data_dir=tmp_path).area == WUHAN
    london = Settings(data_dir=tmp_path, area="-0.6,51.2,0.4,51.8")  # type: ignore[arg-type]
    assert london.area == Area(-0.6, 51.2, 0.4, 51.8)
    assert london.area.contains(51.5074, -0.1278)
    for bad in ("1,2,3", "114,30,113,31", "a,b,c,d", "0,95,1,96"):
        with pytest.raises(ConfigurationError, match="GRIDSAFE_AREA"):
            Settings(data_dir=tmp_path, area=bad)  # type: ignore[arg-type]
