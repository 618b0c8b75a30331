"""The closed loop's sync mutations: what a phone may do offline and send later. Each runs the
same service as the page, inside the sync batch's transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from backend.hazards.rules import MAX_PHOTOS, SHA256, is_uuid, optional_float
from backend.offline.mutations import BackendContext, registry
from backend.tasks import services
from backend.tasks.services import Evidence, Origin
from sync import Mutation, Rejected
from sync.registry import Plan


def position_of(args: Mapping[str, Any]) -> tuple[float | None, float | None, float | None]:
    """An optional GPS fix; a malformed one is refused rather than recorded wrong."""
    values = []
    for key, low, high in (
        ("latitude", -90, 90),
        ("longitude", -180, 180),
        ("accuracy_m", 0, 1_000_000),
    ):
        value, ok = optional_float(args.get(key), low, high)
        if not ok:
            raise Rejected("validation_failed", fields={key: "coordinate"})
        values.append(value)
    return values[0], values[1], values[2]


def _origin(ctx: BackendContext, mutation: Mutation) -> Origin:
    return Origin(
        now=ctx.now,
        claimed_at=mutation.at,
        device=ctx.device,
        client_id=ctx.client_id,
        mutation_id=mutation.id,
        position=position_of(mutation.args),
    )


def _text(args: dict[str, Any], key: str) -> str:
    value = args.get(key, "")
    if not isinstance(value, str):
        raise Rejected("validation_failed", fields={key: "text"})
    return value


def _uuid(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not is_uuid(value):
        raise Rejected("validation_failed", fields={key: "id"})
    return str(value).lower()


def _run(
    context: Any,
    mutation: Mutation,
    body: Callable[[BackendContext, Origin], Any],
    result: dict[str, Any],
) -> Plan:
    assert isinstance(context, BackendContext)
    writes = body(context, _origin(context, mutation))
    return Plan(list(writes), result)


@registry.register("task.accept")
def accept(context: Any, mutation: Mutation) -> Plan:
    task_id = _uuid(mutation.args, "task_id")
    return _run(
        context,
        mutation,
        lambda ctx, origin: services.accept(ctx.lookups.session, ctx.principal, task_id, origin),
        {"task_id": task_id},
    )


@registry.register("task.decline")
def decline(context: Any, mutation: Mutation) -> Plan:
    task_id = _uuid(mutation.args, "task_id")
    reason = _text(mutation.args, "reason")
    return _run(
        context,
        mutation,
        lambda ctx, origin: services.decline(
            ctx.lookups.session, ctx.principal, task_id, reason, origin
        ),
        {"task_id": task_id},
    )


@registry.register("hazard.rectify")
def rectify(context: Any, mutation: Mutation) -> Plan:
    args = mutation.args
    hazard_id = _uuid(args, "hazard_id")
    photos = args.get("photos", [])
    if (
        not isinstance(photos, list)
        or len(photos) > MAX_PHOTOS
        or not all(isinstance(sha, str) and SHA256.match(sha) for sha in photos)
    ):
        raise Rejected("validation_failed", fields={"photos": "photos"})
    evidence = Evidence(_uuid(args, "id"), _text(args, "note"), tuple(dict.fromkeys(photos)))
    return _run(
        context,
        mutation,
        lambda ctx, origin: services.rectify(
            ctx.lookups.session, ctx.principal, hazard_id, evidence, origin
        ),
        {"hazard_id": hazard_id, "rectification_id": evidence.id},
    )


@registry.register("hazard.verify")
def verify(context: Any, mutation: Mutation) -> Plan:
    hazard_id = _uuid(mutation.args, "hazard_id")
    note = _text(mutation.args, "note")
    return _run(
        context,
        mutation,
        lambda ctx, origin: services.verify(
            ctx.lookups.session, ctx.principal, hazard_id, note, origin
        ),
        {"hazard_id": hazard_id},
    )


@registry.register("hazard.return")
def send_back(context: Any, mutation: Mutation) -> Plan:
    hazard_id = _uuid(mutation.args, "hazard_id")
    reason = _text(mutation.args, "reason")
    return _run(
        context,
        mutation,
        lambda ctx, origin: services.send_back(
            ctx.lookups.session, ctx.principal, hazard_id, reason, origin
        ),
        {"hazard_id": hazard_id},
    )
