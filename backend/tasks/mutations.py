"""The closed loop's sync mutations: what a phone may do offline and send later. Each runs the
same service as the page, inside the sync batch's transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from backend.hazards.rules import MAX_PHOTOS, SHA256, is_uuid, optional_float
from backend.offline.mutations import BackendContext, registry
from backend.tasks import services
from backend.tasks.services import Evidence, Origin
from sync import Mutation, Rejected, Write
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


def _register_simple(
    name: str, target: str, text: str | None, operation: Callable[..., list[Write]]
) -> None:
    """A mutation naming one task or hazard (and perhaps a reason or note) that goes straight to
    the service the pages call."""

    def handler(context: Any, mutation: Mutation) -> Plan:
        assert isinstance(context, BackendContext)
        key = _uuid(mutation.args, target)
        extra = (_text(mutation.args, text),) if text else ()
        origin = _origin(context, mutation)
        writes = operation(context.lookups.session, context.principal, key, *extra, origin)
        return Plan(list(writes), {target: key})

    registry.register(name)(handler)


for _name, _target, _text_key, _operation in (
    ("task.accept", "task_id", None, services.accept),
    ("task.decline", "task_id", "reason", services.decline),
    ("hazard.verify", "hazard_id", "note", services.verify),
    ("hazard.return", "hazard_id", "reason", services.send_back),
):
    _register_simple(_name, _target, _text_key, _operation)


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
    assert isinstance(context, BackendContext)
    origin = _origin(context, mutation)
    writes = services.rectify(
        context.lookups.session, context.principal, hazard_id, evidence, origin
    )
    return Plan(writes, {"hazard_id": hazard_id, "rectification_id": evidence.id})
