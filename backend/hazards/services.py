"""Reporting a hazard and checking in: planned as rows, so the sync engine can store a whole batch
set-based, and the plain form stores one the same way."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import Session, col

from backend.auth.policy import (
    Principal,
    can_check_in,
    can_report_hazard,
    sees_enterprise,
    sees_unit,
)
from backend.db import planned_for_values
from backend.escalation.clocks import Policies, starting_values
from backend.escalation.policy import Policy
from backend.hazards.rules import ReportFields, believed_time
from backend.models import CheckIn, Enterprise, Hazard, HazardState, KeyPoint, Unit, UnitLevel
from backend.offline import changes
from backend.offline.entities import hazard_data
from backend.risk import services as risk
from backend.validation import is_id
from sync import Rejected, Write

# A check-in farther than this from the enterprise's recorded position is flagged (not refused).
FAR_CHECK_IN_METRES = 500.0


@dataclass(frozen=True)
class Place:
    enterprise_id: int | None
    grid_id: int
    unit_path: str
    latitude: float | None = None
    longitude: float | None = None


# A push's lookups, built once: building and cache-keying a statement cost more than running it.
_PLACES = (
    select(
        col(Enterprise.id),
        col(Enterprise.grid_id),
        col(Unit.path),
        col(Enterprise.latitude),
        col(Enterprise.longitude),
    )
    .join(Unit, col(Unit.id) == col(Enterprise.grid_id))
    .where(
        col(Enterprise.id).in_(bindparam("ids", expanding=True)),
        col(Enterprise.active).is_(True),
    )
)
_HAZARD_IDS = select(col(Hazard.id)).where(col(Hazard.id).in_(bindparam("ids", expanding=True)))
_CHECK_IN_IDS = select(col(CheckIn.id)).where(col(CheckIn.id).in_(bindparam("ids", expanding=True)))


class Lookups:
    """Per-batch cache of what the rules need from the database, fetched set-based up front."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.enterprises: dict[int, Place] = {}
        self.existing_hazards: set[str] = set()
        self.existing_check_ins: set[str] = set()
        self.policies = Policies(session)
        self._policy_for: dict[tuple[str, str], Policy] = {}

    def prefetch(
        self,
        enterprise_ids: Iterable[int],
        hazard_ids: Iterable[str],
        check_in_ids: Iterable[str] = (),
    ) -> None:
        # Ids the database cannot hold name nothing; binding one would fail the whole batch.
        wanted = {i for i in enterprise_ids if is_id(i) and i not in self.enterprises}
        connection = self.session.connection()
        # Lookups by lists of ids in tables that grow: planned for these ids (backend/db.py).
        with planned_for_values(connection):
            if wanted:
                for row in connection.execute(_PLACES, {"ids": list(wanted)}):
                    self.enterprises[row.id] = Place(
                        row.id, row.grid_id, row.path, row.latitude, row.longitude
                    )
            ids = list(set(hazard_ids))
            if ids:
                found = connection.execute(_HAZARD_IDS, {"ids": ids}).scalars()
                self.existing_hazards.update(found)
            ids = list(set(check_in_ids))
            if ids:
                found = connection.execute(_CHECK_IN_IDS, {"ids": ids}).scalars()
                self.existing_check_ins.update(found)

    def policy_for(self, severity: str, category: str) -> Policy:
        """The escalation policy of a new report, chosen once per kind in a batch: choosing it
        walks every active policy and builds a Policy, a fifth of a report's planning time."""
        key = (severity, category)
        policy = self._policy_for.get(key)
        if policy is None:
            policy = self._policy_for[key] = self.policies.for_hazard(severity, category)
        return policy

    def enterprise(self, enterprise_id: int) -> Place | None:
        if enterprise_id not in self.enterprises:
            self.prefetch([enterprise_id], [])
        return self.enterprises.get(enterprise_id)

    def grid(self, grid_id: int) -> Place | None:
        if not is_id(grid_id):
            return None
        row = self.session.execute(select(Unit.path, Unit.level).where(Unit.id == grid_id)).first()
        if row is None or row.level != UnitLevel.GRID:
            return None
        return Place(None, grid_id, row.path)

    def key_point_of(self, key_point_id: int) -> int | None:
        if not is_id(key_point_id):
            return None
        return self.session.execute(
            select(KeyPoint.enterprise_id).where(KeyPoint.id == key_point_id)
        ).scalar()


def _place_for(lookups: Lookups, principal: Principal, fields: ReportFields) -> Place:
    if fields.enterprise_id is not None:
        place = lookups.enterprise(fields.enterprise_id)
        if place is None or not sees_enterprise(principal, fields.enterprise_id, place.unit_path):
            raise Rejected("hazard.enterprise_out_of_scope")
        if (
            fields.key_point_id is not None
            and lookups.key_point_of(fields.key_point_id) != fields.enterprise_id
        ):
            raise Rejected("hazard.key_point")
        return place
    assert fields.grid_id is not None
    if fields.key_point_id is not None:
        # A key point belongs to an enterprise; without one it would be stored unchecked.
        raise Rejected("hazard.key_point")
    place = lookups.grid(fields.grid_id)
    if place is None or not sees_unit(principal, place.unit_path):
        raise Rejected("hazard.grid_out_of_scope")
    return place


def plan_report(
    lookups: Lookups,
    principal: Principal,
    fields: ReportFields,
    claimed_at: datetime,
    now: datetime,
    client_id: str | None = None,
    mutation_id: int | None = None,
    device: str = "",
) -> list[Write]:
    """The rows a hazard report adds: the hazard, its photo links, its history, its change-log row."""
    if not can_report_hazard(principal):
        raise Rejected("forbidden")
    if fields.id in lookups.existing_hazards:
        raise Rejected("hazard.duplicate_id")
    place = _place_for(lookups, principal, fields)
    reported_at, synced_later = believed_time(claimed_at, now)
    severity, category = fields.severity.value, fields.category.value
    row: dict[str, Any] = {
        "id": fields.id,
        "enterprise_id": place.enterprise_id,
        "key_point_id": fields.key_point_id,
        "grid_id": place.grid_id,
        "unit_path": place.unit_path,
        "severity": severity,
        "category": category,
        "description": fields.description,
        "latitude": fields.latitude,
        "longitude": fields.longitude,
        "accuracy_m": fields.accuracy_m,
        "state": HazardState.REPORTED.value,
        "reported_by": principal.id,
        "reported_at": reported_at,
        "received_at": now,
        "client_id": client_id,
        "mutation_id": mutation_id,
        "synced_later": synced_later,
        "updated_at": now,
        **starting_values(lookups.policy_for(severity, category), severity, now),
    }
    lookups.existing_hazards.add(fields.id)
    # Marked in this transaction, rescored by a worker just after it commits (backend/risk/pending.py):
    # a sync batch costs one small insert, and the enterprises of many pushes are rescored together.
    risk.touch(lookups.session, [place.enterprise_id])
    writes = [Write("hazard", row)]
    writes += [
        Write("hazard_photo", {"hazard_id": fields.id, "sha256": sha, "position": i})
        for i, sha in enumerate(fields.photos)
    ]
    writes.append(
        changes.event(
            principal.id,
            "hazard.reported",
            "hazard",
            fields.id,
            place.unit_path,
            written_at=now,
            device=device,
            severity=severity,
            client_id=client_id,
            mutation_id=mutation_id,
            synced_later=synced_later,
            claimed_at=claimed_at.isoformat(),
        )
    )
    writes.append(
        changes.change(
            "hazard",
            fields.id,
            "upsert",
            place.unit_path,
            place.enterprise_id,
            hazard_data(row, fields.photos),
            written_at=now,
        )
    )
    return writes


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine) in metres."""
    radius = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))


def plan_check_in(
    lookups: Lookups,
    principal: Principal,
    check_in_id: str,
    enterprise_id: int,
    position: tuple[float | None, float | None, float | None],
    claimed_at: datetime,
    now: datetime,
    client_id: str | None = None,
    mutation_id: int | None = None,
) -> list[Write]:
    if not can_check_in(principal):
        raise Rejected("forbidden")
    if check_in_id in lookups.existing_check_ins:
        raise Rejected("check_in.duplicate_id")
    place = lookups.enterprise(enterprise_id)
    if place is None or not sees_enterprise(principal, enterprise_id, place.unit_path):
        raise Rejected("check_in.out_of_scope")
    latitude, longitude, accuracy = position
    distance = None
    if None not in (latitude, longitude, place.latitude, place.longitude):
        distance = round(distance_m(latitude, longitude, place.latitude, place.longitude), 1)  # type: ignore[arg-type]
    at, _ = believed_time(claimed_at, now)
    far = distance is not None and distance > FAR_CHECK_IN_METRES
    lookups.existing_check_ins.add(check_in_id)
    return [
        Write(
            "check_in",
            {
                "id": check_in_id,
                "enterprise_id": enterprise_id,
                "user_id": principal.id,
                "unit_path": place.unit_path,
                "at": at,
                "received_at": now,
                "latitude": latitude,
                "longitude": longitude,
                "accuracy_m": accuracy,
                "distance_m": distance,
                "far": far,
                "client_id": client_id,
                "mutation_id": mutation_id,
            },
        ),
        changes.event(
            principal.id,
            "inspection.checked_in",
            "enterprise",
            enterprise_id,
            place.unit_path,
            written_at=now,
            check_in=check_in_id,
            distance_m=distance,
            far=far,
        ),
    ]
