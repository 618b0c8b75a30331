"""What phones store of each entity: one serialisation, used by the change log and by snapshots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from backend.models import Enterprise, Hazard, KeyPoint, RiskProfile, Unit


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def enterprise_data(
    enterprise: Enterprise, grid: Unit, risk: RiskProfile | Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`risk`: its risk profile (row or mapping), None when not yet graded; the phone's list of
    due inspections reads the colour and dates from here."""
    if isinstance(risk, RiskProfile):
        profile: Mapping[str, Any] = {
            "colour": risk.colour,
            "score": risk.score,
            "last_inspected_at": risk.last_inspected_at,
            "inspection_due_at": risk.inspection_due_at,
        }
    else:
        profile = risk or {}
    return {
        "id": enterprise.id,
        "name": enterprise.name,
        "credit_code": enterprise.credit_code,
        "industry": enterprise.industry,
        "address": enterprise.address,
        "latitude": enterprise.latitude,
        "longitude": enterprise.longitude,
        "grid_id": grid.id,
        "grid_name": grid.name,
        "contact_name": enterprise.contact_name,
        "contact_phone": enterprise.contact_phone,
        "risk_colour": profile.get("colour"),
        "risk_score": profile.get("score"),
        "last_inspected_at": _iso(profile.get("last_inspected_at")),
        "inspection_due_at": _iso(profile.get("inspection_due_at")),
    }


def key_point_data(point: KeyPoint) -> dict[str, Any]:
    return {
        "id": point.id,
        "enterprise_id": point.enterprise_id,
        "name": point.name,
        "kind": point.kind,
    }


def hazard_data(hazard: Hazard | dict[str, Any], photos: Sequence[str]) -> dict[str, Any]:
    row = hazard if isinstance(hazard, dict) else hazard.model_dump()
    return {
        "id": row["id"],
        "enterprise_id": row["enterprise_id"],
        "key_point_id": row["key_point_id"],
        "grid_id": row["grid_id"],
        "severity": row["severity"],
        "category": row["category"],
        "description": row["description"],
        "state": row["state"],
        "latitude": row["latitude"],
        "longitude": row["longitude"],
        "reported_by": row["reported_by"],
        "reported_at": row["reported_at"].isoformat(),
        "photos": list(photos),
    }
