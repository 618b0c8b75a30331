"""The mutations phones may send, registered with the sync engine, and the context they run in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.auth.policy import Principal
from backend.codes.scanned import judge_scanned, note_scanned
from backend.hazards.rules import is_id, is_uuid, optional_float, parse_report
from backend.hazards.services import Lookups, plan_check_in, plan_report
from sync import Mutation, MutationRegistry, Rejected
from sync.registry import Plan

registry = MutationRegistry()


@dataclass
class BackendContext:
    """What handlers get: the signed-in principal and lookups prefetched set-based for the batch."""

    client_id: str
    now: datetime
    principal: Principal
    lookups: Lookups
    device: str = ""
    batch: Sequence[Mutation] = ()
    _prefetched: bool = False

    def prefetch(self) -> None:
        """One query for every enterprise and hazard id the batch names, instead of one per mutation.
        Done on the first handler call, after the engine has locked the client."""
        if self._prefetched:
            return
        self._prefetched = True
        enterprise_ids: list[int] = []
        hazard_ids: list[str] = []
        check_in_ids: list[str] = []
        for mutation in self.batch:
            value = mutation.args.get("enterprise_id")
            if is_id(value):
                enterprise_ids.append(value)
            if not is_uuid(mutation.args.get("id")):
                continue
            if mutation.name == "hazard.report":
                hazard_ids.append(mutation.args["id"].lower())
            elif mutation.name == "inspection.check_in":
                check_in_ids.append(mutation.args["id"].lower())
        self.lookups.prefetch(enterprise_ids, hazard_ids, check_in_ids)


def _context(context: Any) -> BackendContext:
    assert isinstance(context, BackendContext)
    context.prefetch()
    return context


@registry.register("hazard.report")
def report_hazard(context: Any, mutation: Mutation) -> Plan:
    ctx = _context(context)
    fields, errors = parse_report(mutation.args)
    if fields is None:
        raise Rejected("validation_failed", fields=errors)
    writes = plan_report(
        ctx.lookups,
        ctx.principal,
        fields,
        mutation.at,
        ctx.now,
        ctx.client_id,
        mutation.id,
        ctx.device,
    )
    return Plan(writes, {"hazard_id": fields.id})


@registry.register("inspection.check_in")
def check_in(context: Any, mutation: Mutation) -> Plan:
    ctx = _context(context)
    args = mutation.args
    enterprise_id = args.get("enterprise_id")
    scanned = None
    if args.get("code") is not None:
        # Scanned offline: the server judges the code now; it names the enterprise.
        scanned = judge_scanned(ctx.lookups.session, args["code"])
        if enterprise_id is not None and enterprise_id != scanned.enterprise_id:
            raise Rejected("validation_failed", fields={"enterprise_id": "invalid"})
        enterprise_id = scanned.enterprise_id
    if not is_uuid(args.get("id")) or not is_id(enterprise_id):
        raise Rejected("validation_failed")
    position = []
    for key, low, high in (
        ("latitude", -90, 90),
        ("longitude", -180, 180),
        ("accuracy_m", 0, 1_000_000),
    ):
        value, ok = optional_float(args.get(key), low, high)
        if not ok:
            raise Rejected("validation_failed", fields={key: "coordinate"})
        position.append(value)
    writes = plan_check_in(
        ctx.lookups,
        ctx.principal,
        str(args["id"]).lower(),
        enterprise_id,
        (position[0], position[1], position[2]),
        mutation.at,
        ctx.now,
        ctx.client_id,
        mutation.id,
    )
    if scanned is not None:
        note_scanned(writes, scanned)
    return Plan(writes, {"check_in_id": str(args["id"]).lower()})
