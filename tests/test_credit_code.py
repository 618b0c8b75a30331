"""The unified social credit code check (GB 32100-2015)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.enterprises import credit_code
from backend.enterprises.fields import parse_enterprise
from backend.validation import WUHAN

# Codes of real, well-known companies, as printed on their business licences.
REAL_CODES = ["914403001922038216", "9144030071526726XG", "91330100716105852F"]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code: str) -> None:
    assert credit_code.problem(code) is None


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("91440300192203821", "credit_code.length"),
        ("9144030019220382160", "credit_code.length"),
        ("", "credit_code.length"),
        ("91440300192203821I", "credit_code.characters"),  # I is never used
        ("9144030019220382O6", "credit_code.characters"),  # nor O
        ("91A40300192203821Q", "credit_code.division"),
        ("914403001922038217", "credit_code.check"),  # last character changed
        ("914403001922038261", "credit_code.check"),  # two characters swapped
    ],
)
def test_bad_codes_name_their_problem(code: str, problem: str) -> None:
    assert credit_code.problem(code) == problem


body = st.tuples(
    st.text(alphabet=credit_code.ALPHABET, min_size=2, max_size=2),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.text(alphabet=credit_code.ALPHABET, min_size=9, max_size=9),
).map("".join)


@given(body, st.sampled_from(credit_code.ALPHABET))
def test_exactly_one_check_character_fits(first17: str, last: str) -> None:
    expected = credit_code.check_character(first17)
    assert credit_code.is_valid(first17 + last) == (last == expected)


def test_form_fields_normalise_and_report_every_problem() -> None:
    fields, errors = parse_enterprise(
        {"name": " 武汉测试化工有限公司 ", "credit_code": "9144030071526726xg", "industry": "危化"},
        WUHAN,
    )
    assert errors == {}
    assert fields is not None
    assert fields.credit_code == "9144030071526726XG"
    assert fields.industry.value == "hazardous_chemicals"
    assert fields.name == "武汉测试化工有限公司"

    fields, errors = parse_enterprise(
        {
            "name": "",
            "credit_code": "914403001922038217",
            "industry": "mining",
            "latitude": "91",
            "longitude": "",
        },
        WUHAN,
    )
    assert fields is None
    assert errors == {
        "name": "required",
        "credit_code": "credit_code.check",
        "industry": "industry",
        "latitude": "coordinate",
    }
