"""The escalation policy as a pure function: given a policy, where a hazard stands and the time,
what is due. No database, no clock: the sweep and the tests call it alike.

A timed hazard has one deadline (`due_at`) on one clock (`accept`: nobody has accepted it yet;
`rectify`: accepted, not yet put right). When the deadline passes, the hazard moves up to the
next tier of the policy that has somebody to tell, skipping (and recording) tiers with nobody;
each rule — a clock reaching a tier — fires at most once per hazard. At the top, or when every
tier above is empty, the current tier is told again every `renotify` interval instead."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from backend.models import TIERS, Severity, Tier


class Clock(StrEnum):
    ACCEPT = "accept"
    RECTIFY = "rectify"


@dataclass(frozen=True)
class Policy:
    id: int | None
    accept: timedelta
    rectify: timedelta
    renotify: timedelta
    tiers: tuple[Tier, ...] = TIERS

    @classmethod
    def parse_tiers(cls, text: str) -> tuple[Tier, ...]:
        """'street,district,city' → tiers, in climbing order; anything else is refused."""
        names = [name.strip() for name in text.split(",") if name.strip()]
        tiers = tuple(Tier(name) for name in names)
        order = [TIERS.index(tier) for tier in tiers]
        if not tiers or order != sorted(set(order)):
            raise ValueError("tiers must climb street → district → city without repeats")
        return tiers


# Used where no policy has been written yet (and as the demo's city default).
DEFAULTS: dict[Severity, Policy] = {
    Severity.GENERAL: Policy(None, timedelta(hours=2), timedelta(days=7), timedelta(hours=4)),
    Severity.MAJOR: Policy(None, timedelta(minutes=30), timedelta(days=30), timedelta(hours=1)),
}


@dataclass(frozen=True)
class Standing:
    """Where a hazard stands, as far as escalation cares."""

    tier: Tier
    clock: Clock | None
    due_at: datetime | None
    fired: frozenset[str] = frozenset()
    suspended: bool = False


@dataclass(frozen=True)
class Step:
    """What the sweep must do for one hazard."""

    escalate_to: Tier | None  # None: no move (renotify the current tier)
    skipped: tuple[Tier, ...]  # tiers passed over because nobody there could be told
    reason: str  # "accept_overdue" or "rectify_overdue"
    rule: str | None  # the rule that fired ("accept:district"), None for a renotification
    next_due: datetime
    fired: frozenset[str] = field(default_factory=frozenset)


def rule_name(clock: Clock, tier: Tier) -> str:
    return f"{clock.value}:{tier.value}"


def due(
    policy: Policy, standing: Standing, now: datetime, staffed: Collection[Tier]
) -> Step | None:
    """The step due now, or None. `staffed`: the tiers where someone can be told right now."""
    if standing.suspended or standing.clock is None or standing.due_at is None:
        return None
    if now < standing.due_at:
        return None
    reason = f"{standing.clock.value}_overdue"
    above = (
        policy.tiers[policy.tiers.index(standing.tier) + 1 :]
        if standing.tier in policy.tiers
        else ()
    )
    skipped: list[Tier] = []
    passed: frozenset[str] = frozenset()
    for tier in above:
        rule = rule_name(standing.clock, tier)
        if rule in standing.fired:
            continue  # this clock already reached that tier once; never twice
        if tier not in staffed:
            # Recorded once: a skipped tier counts as reached, so it is not skipped again
            # on every renotification.
            skipped.append(tier)
            passed = passed | {rule}
            continue
        # The new tier gets a fresh window of the same clock to act in.
        window = policy.accept if standing.clock is Clock.ACCEPT else policy.renotify
        return Step(
            escalate_to=tier,
            skipped=tuple(skipped),
            reason=reason,
            rule=rule,
            next_due=now + window,
            fired=standing.fired | passed | {rule},
        )
    return Step(
        escalate_to=None,
        skipped=tuple(skipped),
        reason=reason,
        rule=None,
        next_due=now + policy.renotify,
        fired=standing.fired | passed,
    )
