"""`warning.ack`: acknowledging a warning from a phone's outbox, sent when there is a network
(from the page offline, or from the notification's button). The same service as the page."""

from __future__ import annotations

from typing import Any

from backend.hazards.rules import is_uuid
from backend.models import AckVia
from backend.offline.mutations import BackendContext, registry
from backend.tasks.services import Origin
from backend.warnings import services
from sync import Mutation, Rejected
from sync.registry import Plan


@registry.register("warning.ack")
def acknowledge(context: Any, mutation: Mutation) -> Plan:
    assert isinstance(context, BackendContext)
    warning_id = mutation.args.get("warning_id")
    if not is_uuid(warning_id):
        raise Rejected("validation_failed", fields={"warning_id": "id"})
    via = AckVia.NOTIFICATION if mutation.args.get("via") == "notification" else AckVia.OFFLINE
    # When the phone says it was acknowledged (within reason: see believed_time).
    at, _ = Origin(now=context.now, claimed_at=mutation.at).timing()
    writes = services.acknowledge(
        context.lookups.session, context.principal, str(warning_id), via, at
    )
    return Plan(writes, {"warning_id": str(warning_id).lower()})
