"""`parse_report` checks a well-formed report in one msgspec call and anything else field by field:
both ways must give the same answer for every input a phone or a form can send."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from backend.hazards import rules
from backend.models import HazardCategory, Severity
from backend.validation import MAX_ID, WUHAN

SHA = "ab" * 32
FIELDS = (
    "id",
    "severity",
    "category",
    "description",
    "enterprise_id",
    "key_point_id",
    "grid_id",
    "latitude",
    "longitude",
    "accuracy_m",
    "photos",
)

anything = st.one_of(
    st.none(),
    st.just(""),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([MAX_ID, MAX_ID + 1, 2**70, 91, 181, 1_000_001]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([30.5, -90.0, 180.0, 3.0, 0.0]),
    st.sampled_from([s.value for s in Severity] + [c.value for c in HazardCategory]),
    st.sampled_from(
        [
            str(uuid.uuid4()),
            str(uuid.uuid4()).upper(),
            str(uuid.uuid4()) + "\n",
            "消防通道被货物堵塞",
            " \x00 ",
            "x" * (rules.MAX_DESCRIPTION + 1),
            "12",
            "30.5",
        ]
    ),
    st.text(max_size=8),
    st.lists(st.sampled_from([SHA, SHA.upper(), SHA + "\n", "cd" * 32, 5]), max_size=11),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)

good = {
    "id": str(uuid.uuid4()),
    "severity": "major",
    "category": "fire",
    "description": " 灭火器过期 ",
    "enterprise_id": 7,
    "latitude": 30,
    "longitude": 114.3,
    "accuracy_m": 12.5,
    "photos": [SHA, SHA, "cd" * 32],
}


# Per field: the values most likely to tell the two checks apart, or anything at all.
EDGES: dict[str, st.SearchStrategy[Any]] = {
    "id": st.sampled_from(
        [str(uuid.uuid4()).upper(), str(uuid.uuid4()) + "\n", "-" * 4 + "a" * 32, 7]
    ),
    "description": st.sampled_from(
        [" \x00 ", "a\x00b", "x" * rules.MAX_DESCRIPTION, "x" * (rules.MAX_DESCRIPTION + 1), 5]
    ),
    "photos": st.lists(st.sampled_from([SHA, SHA.upper(), SHA + "\n", "cd" * 32]), max_size=10),
    "enterprise_id": st.sampled_from([None, 0, MAX_ID + 1, 3.0, "3", float("inf")]),
    "grid_id": st.sampled_from([None, 1, -1]),
    "latitude": st.sampled_from([90, 90.5, float("nan"), "30"]),
}
# A few fields changed at a time: one bad field is enough to send a report down the slow path.
changes = st.lists(
    st.sampled_from(FIELDS).flatmap(
        lambda field: st.tuples(st.just(field), st.one_of(EDGES.get(field, anything), anything))
    ),
    max_size=3,
).map(dict)


@hypothesis_settings(max_examples=1000, deadline=None)
@given(changed=changes, dropped=st.sets(st.sampled_from(FIELDS), max_size=1))
def test_the_quick_check_answers_as_the_field_by_field_one(
    changed: dict[str, Any], dropped: set[str]
) -> None:
    raw = {key: value for key, value in {**good, **changed}.items() if key not in dropped}
    assert rules.parse_report(raw, WUHAN) == rules._parse_slowly(raw, WUHAN)


def test_a_good_report_takes_the_quick_check() -> None:
    fields, errors = rules.parse_report(good, WUHAN)
    assert errors == {}
    assert fields is not None
    assert fields.severity is Severity.MAJOR
    assert fields.description == "灭火器过期"
    assert fields.latitude == 30.0
    assert fields.photos == (SHA, "cd" * 32)
    assert (fields, errors) == rules._parse_slowly(good, WUHAN)


EDGE_CASES: list[dict[str, Any]] = [
    {"id": str(uuid.uuid4()) + "\n"},
    {"id": "-" * 4 + "a" * 32},
    {"description": "x" * (rules.MAX_DESCRIPTION + 1)},
    {"description": "x" * rules.MAX_DESCRIPTION},
    {"description": " \x00 "},
    {"photos": [SHA.upper()]},
    {"photos": [SHA + "\n"]},
    {"photos": [SHA] * (rules.MAX_PHOTOS + 1)},
    {"enterprise_id": None},
    {"enterprise_id": None, "grid_id": 3},
    {"enterprise_id": float("inf")},
    {"enterprise_id": MAX_ID + 1},
    {"latitude": float("nan")},
    {"latitude": True},
]


@pytest.mark.parametrize("changed", EDGE_CASES, ids=[str(sorted(c)) for c in EDGE_CASES])
def test_edge_cases_answer_alike(changed: dict[str, Any]) -> None:
    raw = {**good, **changed}
    assert rules.parse_report(raw, WUHAN) == rules._parse_slowly(raw, WUHAN)
