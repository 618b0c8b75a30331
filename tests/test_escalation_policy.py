"""The escalation policy, table-driven: (policy, where the hazard stands, now, who can be told)
→ what is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.escalation.policy import Clock, Policy, Standing, due
from backend.models import Tier

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
POLICY = Policy(1, timedelta(minutes=30), timedelta(days=7), timedelta(hours=1))
STREET_CITY = Policy(
    2, timedelta(minutes=30), timedelta(days=7), timedelta(hours=1), (Tier.STREET, Tier.CITY)
)
ALL = {Tier.STREET, Tier.DISTRICT, Tier.CITY}
S, D, C = Tier.STREET, Tier.DISTRICT, Tier.CITY
A, R = Clock.ACCEPT, Clock.RECTIFY


def standing(
    tier: Tier, clock: Clock | None, fired: set[str] | None = None, **kw: object
) -> Standing:
    return Standing(tier, clock, T0, frozenset(fired or set()), **kw)  # type: ignore[arg-type]


CASES = [
    # id, policy, standing, now, staffed, expected (escalate_to, skipped, rule, next_due offset, fired)
    ("not yet due", POLICY, standing(S, A), T0 - timedelta(seconds=1), ALL, None),
    (
        "accept overdue: district",
        POLICY,
        standing(S, A),
        T0,
        ALL,
        (D, (), "accept:district", timedelta(minutes=30), {"accept:district"}),
    ),
    (
        "then the city",
        POLICY,
        standing(D, A, {"accept:district"}),
        T0,
        ALL,
        (C, (), "accept:city", timedelta(minutes=30), {"accept:district", "accept:city"}),
    ),
    (
        "at the top: remind",
        POLICY,
        standing(C, A, {"accept:district", "accept:city"}),
        T0,
        ALL,
        (None, (), None, timedelta(hours=1), {"accept:district", "accept:city"}),
    ),
    (
        "nobody at the district: skipped",
        POLICY,
        standing(S, A),
        T0,
        {S, C},
        (C, (D,), "accept:city", timedelta(minutes=30), {"accept:district", "accept:city"}),
    ),
    (
        "nobody above: remind the street",
        POLICY,
        standing(S, A),
        T0,
        {S},
        (None, (D, C), None, timedelta(hours=1), {"accept:district", "accept:city"}),
    ),
    (
        "skips are recorded once",
        POLICY,
        standing(S, A, {"accept:district", "accept:city"}),
        T0,
        {S},
        (None, (), None, timedelta(hours=1), {"accept:district", "accept:city"}),
    ),
    (
        "rectify overdue: district, remind window",
        POLICY,
        standing(S, R, {"accept:district"}),
        T0,
        ALL,
        (D, (), "rectify:district", timedelta(hours=1), {"accept:district", "rectify:district"}),
    ),
    (
        "rectify clock at the district climbs to the city",
        POLICY,
        standing(D, R, {"accept:district"}),
        T0,
        ALL,
        (C, (), "rectify:city", timedelta(hours=1), {"accept:district", "rectify:city"}),
    ),
    (
        "a policy without the district",
        STREET_CITY,
        standing(S, A),
        T0,
        ALL,
        (C, (), "accept:city", timedelta(minutes=30), {"accept:city"}),
    ),
    (
        "suspended: nothing",
        POLICY,
        standing(S, A, suspended=True),
        T0 + timedelta(days=9),
        ALL,
        None,
    ),
    ("no clock: nothing", POLICY, standing(S, None), T0 + timedelta(days=9), ALL, None),
]


@pytest.mark.parametrize(
    ("policy", "where", "now", "staffed", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_due(
    policy: Policy, where: Standing, now: datetime, staffed: set[Tier], expected: object
) -> None:
    step = due(policy, where, now, staffed)
    if expected is None:
        assert step is None
        return
    assert step is not None
    to, skipped, rule, offset, fired = expected  # type: ignore[misc]
    assert (step.escalate_to, step.skipped, step.rule) == (to, skipped, rule)
    assert step.next_due == now + offset
    assert step.fired == frozenset(fired)


def test_a_rule_never_fires_twice() -> None:
    """Whatever the order of sweeps, one clock reaches each tier at most once."""
    where = standing(S, A)
    seen: list[str] = []
    now = T0
    for _ in range(6):
        step = due(POLICY, where, now, ALL)
        assert step is not None
        if step.rule:
            seen.append(step.rule)
        where = Standing(step.escalate_to or where.tier, A, step.next_due, step.fired)
        now = step.next_due
    assert seen == ["accept:district", "accept:city"]


@pytest.mark.parametrize(
    "text", ["", "city,street", "street,street", "street,county", "district,street"]
)
def test_tiers_must_climb(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        Policy.parse_tiers(text)


def test_tiers_parse() -> None:
    assert Policy.parse_tiers(" street , city ") == (S, C)
