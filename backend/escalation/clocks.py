"""The escalation clocks the closed loop starts and stops, and the policy that times them.
Kept free of notifications so the sync hot path (a report) can use it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from backend.escalation.policy import DEFAULTS, Clock, Policy
from backend.models import EscalationPolicy, Role, Severity, Tier

# The role told at each tier when no duty roster covers the moment.
TIER_ROLE = {
    Tier.STREET: Role.STREET_DISPATCHER,
    Tier.DISTRICT: Role.DISTRICT_OFFICER,
    Tier.CITY: Role.CITY_OFFICER,
}
_DEPTH = {Tier.CITY: 1, Tier.DISTRICT: 2, Tier.STREET: 3}
MAJOR_RULE = "major:district"


def tier_path(unit_path: str, tier: Tier) -> str:
    """The unit of a tier above a hazard: '/420100/420107/420107001/…/' → '/420100/420107/'."""
    parts = [part for part in unit_path.split("/") if part]
    return "/" + "/".join(parts[: _DEPTH[tier]]) + "/"


def tier_of_path(path: str) -> Tier:
    """The tier a unit path stands for (a grid's path counts as its street's)."""
    depth = len([part for part in path.split("/") if part])
    return next((tier for tier, d in _DEPTH.items() if d == depth), Tier.STREET)


def tier_of_unit_level(level: str) -> Tier | None:
    return {"street": Tier.STREET, "district": Tier.DISTRICT, "city": Tier.CITY}.get(level)


# ---- policies ---------------------------------------------------------------------------------


def _as_policy(row: Any) -> Policy:
    """A policy from an `EscalationPolicy` or a row of `_ACTIVE` (the same attribute names)."""
    return Policy(
        row.id,
        timedelta(minutes=row.accept_minutes),
        timedelta(hours=row.rectify_hours),
        timedelta(minutes=row.renotify_minutes),
        Policy.parse_tiers(row.tiers),
    )


# Built once and read as plain rows: every sync batch with a report loads the active policies,
# and loading them as ORM objects cost a fifth of a one-report push's database time.
_POLICY = EscalationPolicy.__table__.c  # type: ignore[attr-defined]
_ACTIVE = select(
    _POLICY.id,
    _POLICY.severity,
    _POLICY.category,
    _POLICY.version,
    _POLICY.accept_minutes,
    _POLICY.rectify_hours,
    _POLICY.renotify_minutes,
    _POLICY.tiers,
).where(_POLICY.active.is_(True))


class Policies:
    """The active policies, loaded once (per batch or sweep), and old versions by id."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._active: list[Any] | None = None
        self._by_id: dict[int, Policy] = {}

    def _load_active(self) -> list[Any]:
        if self._active is None:
            self._active = list(self.session.execute(_ACTIVE))
        return self._active

    def for_hazard(self, severity: str, category: str) -> Policy:
        """The most specific active policy (severity and category, then severity, then category,
        then the catch-all); built-in defaults where none is written."""
        best: tuple[int, int, Any] | None = None
        for row in self._load_active():
            if row.severity not in ("*", severity) or row.category not in ("*", category):
                continue
            rank = (row.severity != "*") * 2 + (row.category != "*")
            if best is None or (rank, row.version) > best[:2]:
                best = (rank, row.version, row)
        if best is None:
            return DEFAULTS[Severity(severity)]
        row = best[2]
        policy = self._by_id.get(row.id)
        if policy is None:
            policy = self._by_id[row.id] = _as_policy(row)
        return policy

    def by_id(self, ids: Iterable[int]) -> Mapping[int, Policy]:
        wanted = {i for i in ids if i not in self._by_id}
        if wanted:
            for row in self.session.execute(
                select(EscalationPolicy).where(EscalationPolicy.id.in_(wanted))
            ).scalars():
                assert row.id is not None
                self._by_id[row.id] = _as_policy(row)
        return self._by_id


def starting_values(policy: Policy, severity: str, now: datetime) -> dict[str, Any]:
    """The escalation columns of a new report: the street holds it, the accept clock runs; a
    major hazard is due at once, so the next sweep tells the district (挂牌督办)."""
    major = severity == Severity.MAJOR
    return {
        "tier": Tier.STREET.value,
        "policy_id": policy.id,
        "due_at": now if major else now + policy.accept,
        "due_kind": Clock.ACCEPT.value,
        "fired": [],
        "supervised": major,
        "suspended": False,
    }


def accept_clock(due_at: datetime) -> dict[str, Any]:
    return {"due_at": due_at, "due_kind": Clock.ACCEPT.value}


def rectify_clock(due_at: datetime) -> dict[str, Any]:
    return {"due_at": due_at, "due_kind": Clock.RECTIFY.value}


def stopped() -> dict[str, Any]:
    return {"due_at": None, "due_kind": ""}
