"""The mutations phones may send, registered with the sync engine, and the context they run in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.audit import Origin
from backend.auth.policy import Principal
from backend.codes.scanned import judge_scanned, note_scanned
from backend.db import settings_of
from backend.hazards.rules import believed_time, is_uuid, parse_report
from backend.hazards.services import Lookups, plan_check_in, plan_report
from backend.inspections.sent import record_sent
from backend.models import CheckIn
from backend.validation import area_of, is_id, phone_fix
from sync import Mutation, MutationRegistry, Rejected, RetryLater
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


@registry.register("hazard.report", plans_only=True)
def report_hazard(context: Any, mutation: Mutation) -> Plan:
    ctx = _context(context)
    fields, errors = parse_report(mutation.args, area_of(settings_of(ctx.lookups.session)))
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


@registry.register("inspection.check_in", plans_only=True)
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
    position, errors = phone_fix(args, area_of(settings_of(ctx.lookups.session)))
    if errors:
        raise Rejected("validation_failed", fields=errors)
    writes = plan_check_in(
        ctx.lookups,
        ctx.principal,
        str(args["id"]).lower(),
        enterprise_id,
        position,
        mutation.at,
        ctx.now,
        ctx.client_id,
        mutation.id,
    )
    if scanned is not None:
        note_scanned(writes, scanned)
    return Plan(writes, {"check_in_id": str(args["id"]).lower()})


@registry.register("inspection.record")
def record_inspection(context: Any, mutation: Mutation) -> Plan:
    """A checklist inspection done on the phone (offline perhaps), under the page's rules; see
    backend/inspections/sent.py for the arguments."""
    ctx = _context(context)
    check_in_id = mutation.args.get("check_in_id")
    if (
        is_uuid(check_in_id)
        and check_in_id.lower() in ctx.lookups.existing_check_ins
        and ctx.lookups.session.get(CheckIn, check_in_id.lower()) is None
    ):
        # Checked in earlier in this very batch: that row is stored with the batch, after the
        # handlers, and the inspection refers to it. The check-in is kept; this and what follows
        # come back `retry`, and the phone's next push finds the check-in stored.
        raise RetryLater()
    finished_at, _ = believed_time(mutation.at, ctx.now)
    origin = Origin(ctx.principal.id, device=ctx.device)
    answer = record_sent(
        ctx.lookups.session,
        ctx.principal,
        mutation.args,
        origin,
        finished_at,
        client_id=ctx.client_id,
        mutation_id=mutation.id,
    )
    return Plan([], answer)
