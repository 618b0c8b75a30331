"""Appending to the event history; called by services inside their own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from backend.models import Event


@dataclass(frozen=True)
class Origin:
    """Where a change came from: who, from which device and address."""

    actor_id: int | None
    device: str = ""
    ip: str = ""


def record(
    session: Session,
    origin: Origin,
    action: str,
    entity_type: str,
    entity_id: object,
    unit_path: str = "",
    **data: Any,
) -> None:
    session.add(
        Event(
            actor_id=origin.actor_id,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            unit_path=unit_path,
            device=origin.device,
            ip=origin.ip,
            data=data,
        )
    )
