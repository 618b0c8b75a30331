"""The closed loop's rules, every (role, state, action) combination, as the issue specifies them:
dispatchers (street and above) assign, reassign and return reports; the people a task was offered
to accept or decline it; the holder rectifies; inspectors and officers verify or send back; a
major hazard is closed only by a second, different officer."""

from __future__ import annotations

import itertools

import pytest

from backend.i18n import LOCALES, Translator
from backend.models import HazardState, Role, Severity
from backend.tasks.rules import Action, Facts, allowed_actions, decide
from sync import Rejected

R = Role
S = HazardState
A = Action
STREET_UP = {R.STREET_DISPATCHER, R.DISTRICT_OFFICER, R.CITY_OFFICER}
FIELD = {R.STREET_RESPONDER, R.GRID_INSPECTOR, R.ENTERPRISE_OFFICER}

# Written out from the issue text, not from the code: (action, state) -> roles allowed.
SPEC: dict[tuple[Action, HazardState], set[Role]] = {
    (A.ASSIGN, S.REPORTED): STREET_UP,
    (A.ASSIGN, S.ASSIGNED): STREET_UP,  # reassign before anyone accepted
    (A.ASSIGN, S.RECTIFYING): STREET_UP,  # reassign an accepted task that is stuck
    (A.DISMISS, S.REPORTED): STREET_UP,
    (A.DISMISS, S.ASSIGNED): STREET_UP,
    (A.ACCEPT, S.ASSIGNED): FIELD,
    (A.DECLINE, S.ASSIGNED): FIELD,
    (A.RECTIFY, S.RECTIFYING): FIELD,
    (A.VERIFY, S.RECTIFIED): STREET_UP | {R.GRID_INSPECTOR},
    (A.RETURN, S.RECTIFIED): STREET_UP | {R.GRID_INSPECTOR},
    (A.VERIFY, S.CONFIRMING): STREET_UP,  # the second confirmation of a major hazard
    (A.RETURN, S.CONFIRMING): STREET_UP,
}

EXPECTED_NEXT = {
    A.ASSIGN: S.ASSIGNED,
    A.DISMISS: S.RETURNED,
    A.ACCEPT: S.RECTIFYING,
    A.DECLINE: S.ASSIGNED,
    A.RECTIFY: S.RECTIFIED,
    A.RETURN: S.RECTIFYING,
}

ME = 7
SOMEONE_ELSE = 8


@pytest.mark.parametrize(
    ("role", "state", "action"),
    list(itertools.product(list(Role), list(HazardState), list(Action))),
)
def test_every_combination(role: Role, state: HazardState, action: Action) -> None:
    # Relationships granted, so only role and state decide here; they are tested below.
    facts = Facts(
        state=state,
        severity=Severity.GENERAL,
        offered_to_actor=True,
        holds_task=True,
        verified_by=SOMEONE_ELSE,
    )
    allowed = role in SPEC.get((action, state), set())
    if allowed:
        target = decide(role, ME, action, facts)
        if action is A.VERIFY:
            assert target is S.CLOSED
        else:
            assert target is EXPECTED_NEXT[action]
    else:
        with pytest.raises(Rejected) as refusal:
            decide(role, ME, action, facts)
        may_ever = any(role in roles for (act, _), roles in SPEC.items() if act is action)
        assert refusal.value.code == ("loop.state" if may_ever else "loop.role")


def test_accepting_or_declining_needs_an_offer() -> None:
    facts = Facts(state=S.ASSIGNED, severity=Severity.GENERAL, offered_to_actor=False)
    for action in (A.ACCEPT, A.DECLINE):
        with pytest.raises(Rejected) as refusal:
            decide(R.STREET_RESPONDER, ME, action, facts)
        assert refusal.value.code == "loop.not_offered"


def test_only_the_holder_rectifies() -> None:
    facts = Facts(state=S.RECTIFYING, severity=Severity.GENERAL, holds_task=False)
    with pytest.raises(Rejected) as refusal:
        decide(R.STREET_RESPONDER, ME, A.RECTIFY, facts)
    assert refusal.value.code == "loop.not_holder"


def test_a_major_hazard_needs_two_different_verifiers() -> None:
    first = Facts(state=S.RECTIFIED, severity=Severity.MAJOR)
    assert decide(R.GRID_INSPECTOR, ME, A.VERIFY, first) is S.CONFIRMING
    second = Facts(state=S.CONFIRMING, severity=Severity.MAJOR, verified_by=ME)
    with pytest.raises(Rejected) as refusal:
        decide(R.STREET_DISPATCHER, ME, A.VERIFY, second)
    assert refusal.value.code == "loop.second_person"
    assert decide(R.STREET_DISPATCHER, SOMEONE_ELSE, A.VERIFY, second) is S.CLOSED
    general = Facts(state=S.RECTIFIED, severity=Severity.GENERAL)
    assert decide(R.GRID_INSPECTOR, ME, A.VERIFY, general) is S.CLOSED


def test_allowed_actions_lists_what_decide_lets_through() -> None:
    facts = Facts(state=S.REPORTED, severity=Severity.GENERAL)
    assert allowed_actions(R.STREET_DISPATCHER, ME, facts) == [A.ASSIGN, A.DISMISS]
    assert allowed_actions(R.STREET_RESPONDER, ME, facts) == []


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    ("code", "params"),
    [
        ("loop.role", {"action": "assign"}),
        ("loop.state", {"action": "verify", "state": "reported"}),
        ("loop.not_offered", {}),
        ("loop.not_holder", {}),
        ("loop.second_person", {}),
        ("task.taken", {"by": "张三"}),
    ],
)
def test_refusals_are_translated(locale: str, code: str, params: dict[str, str]) -> None:
    t = Translator(locale)
    assert t.has(f"errors.{code}")
    message = t(f"errors.{code}", **params)
    for value in params.values():
        assert value in message
