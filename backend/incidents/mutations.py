"""The incident mutations a phone may send offline: an incident task done with a note, and a
protection target checked. Accept and decline are the loop's `task.accept` / `task.decline`."""

from __future__ import annotations

from typing import Any

from backend.incidents import responder
from backend.offline.mutations import BackendContext, registry
from backend.tasks.mutations import _origin, _text, _uuid
from backend.validation import is_id
from sync import Mutation, Rejected
from sync.registry import Plan


@registry.register("incident.task_done")
def task_done(context: Any, mutation: Mutation) -> Plan:
    assert isinstance(context, BackendContext)
    task_id = _uuid(mutation.args, "task_id")
    note = _text(mutation.args, "note")
    origin = _origin(context, mutation)
    writes = responder.done(context.lookups.session, context.principal, task_id, note, origin)
    return Plan(writes, {"task_id": task_id})


@registry.register("incident.target_check")
def target_check(context: Any, mutation: Mutation) -> Plan:
    assert isinstance(context, BackendContext)
    incident_id = _uuid(mutation.args, "incident_id")
    target = mutation.args.get("target_id")
    if not isinstance(target, int) or not is_id(target):
        raise Rejected("validation_failed", fields={"target_id": "id"})
    note = _text(mutation.args, "note")
    origin = _origin(context, mutation)
    writes = responder.check_target(
        context.lookups.session, context.principal, incident_id, target, note, origin
    )
    return Plan(writes, {"incident_id": incident_id, "target_id": target})
