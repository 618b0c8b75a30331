"""What phones store of each entity: one serialisation, used by the change log and by snapshots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backend.models import Enterprise, Hazard, KeyPoint, Unit


def enterprise_data(enterprise: Enterprise, grid: Unit) -> dict[str, Any]:
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
