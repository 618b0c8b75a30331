"""The apply loop: each mutation of a client at most once, in id order, refusals never block."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Protocol

from sync.protocol import ClientState, Mutation, Outcome, Processed, PushResult, Status, Write
from sync.registry import HandlerContext, MutationRegistry, Rejected, RetryLater


class SyncStore(Protocol):
    """Storage for the engine; the caller holds one transaction around a whole batch."""

    # Whether a batch may be planned before the client is locked (see `apply_batch`): worth it
    # where taking the lock shuts every other writer out until the commit (SQLite).
    plans_before_lock: bool

    def peek_client(self, client_id: str) -> ClientState:
        """The client's state as it is now, without locking it; a new client reads as counter 0,
        owned by the caller."""

    def lock_client(self, client_id: str) -> ClientState:
        """Create the client's row if new, and lock it until the transaction ends, so parallel
        pushes of one client are applied one after the other."""

    def processed(self, client_id: str, ids: Sequence[int]) -> dict[int, Processed]:
        """What was recorded for these mutation ids of the client."""

    def save(
        self,
        client: ClientState,
        writes: Sequence[Write],
        processed: Sequence[Processed],
        last_mutation_id: int,
    ) -> None:
        """Store the handlers' writes, the processed mutations and the client's new counter."""


ErrorReporter = Callable[[Mutation, BaseException], None]


class StalePlan(Exception):
    """The client's counter moved between planning the batch and locking the client (a push of
    the same client got in between: a second tab, a retry racing its original). Nothing may be
    stored: the caller rolls back and applies the batch again with `lock_first=True`."""


class BatchAborted(Exception):
    """A handler failed in a way that left the caller's transaction unusable (PostgreSQL aborts
    it at the first failed statement). Nothing of the batch may be stored now: the caller rolls
    back and applies the batch again with `mutation_id` among the refused."""

    def __init__(self, mutation_id: int) -> None:
        super().__init__(mutation_id)
        self.mutation_id = mutation_id


def _never(_error: BaseException) -> bool:
    return False


def _replay(mutation: Mutation, known: Processed | None) -> Outcome:
    if known is None:
        # Below the counter yet never seen: the phone skipped it and sends it late. Applying it
        # now would break the order, so it is refused for the user to redo.
        return Outcome(mutation.id, Status.REJECTED, "sync.out_of_order")
    if not mutation.matches(known.digest):
        return Outcome(mutation.id, Status.CONFLICT, "sync.id_reused")
    return Outcome(mutation.id, Status.DUPLICATE, known.code, result=known.result)


def apply_batch(
    store: SyncStore,
    registry: MutationRegistry,
    context: HandlerContext,
    mutations: Iterable[Mutation],
    report_error: ErrorReporter,
    *,
    refused: Collection[int] = (),
    aborts: Callable[[BaseException], bool] = _never,
    lock_first: bool = False,
) -> PushResult:
    """Apply a batch. Outcomes come back in id order, one per distinct mutation id.

    `aborts(error)`: whether a handler's error broke the transaction (then `BatchAborted` is
    raised); `refused`: mutations whose handler did that on an earlier try, now refused as
    `internal_error` without running it again. A savepoint per mutation would cost two round
    trips each on PostgreSQL; this costs nothing until a handler fails.

    Where the store `plans_before_lock`, a batch of plans-only mutations is planned from the
    client's counter as read without a lock, and the lock is taken only to store the plan: on
    SQLite, where the lock is the database's one write slot, the next push plans while this one
    writes. The counter read under the lock must be the one planned from, else `StalePlan`;
    `lock_first` plans under the lock, as every other batch is."""
    ordered: dict[int, Mutation] = {}
    for mutation in sorted(mutations, key=lambda m: m.id):
        ordered.setdefault(mutation.id, mutation)
    plan_first = (
        not lock_first
        and store.plans_before_lock
        and all(registry.plans_only(m.name) for m in ordered.values())
    )
    read = store.peek_client if plan_first else store.lock_client
    client = read(context.client_id)
    known = store.processed(client.client_id, [i for i in ordered if i <= client.last_mutation_id])

    last = client.last_mutation_id
    outcomes: list[Outcome] = []
    writes: list[Write] = []
    processed: list[Processed] = []
    pending = list(ordered.values())
    for position, mutation in enumerate(pending):
        if mutation.id <= last:
            outcomes.append(_replay(mutation, known.get(mutation.id)))
            continue
        planned: list[Write] = []
        try:
            if mutation.id in refused:
                outcome = Outcome(mutation.id, Status.REJECTED, "internal_error")
            else:
                outcome, planned = _apply_one(registry, context, mutation, report_error, aborts)
        except RetryLater:
            outcomes += [Outcome(m.id, Status.RETRY, "sync.retry") for m in pending[position:]]
            break
        writes += planned
        outcomes.append(outcome)
        processed.append(
            Processed(
                mutation.id, outcome.status, mutation.fingerprint(), outcome.code, outcome.result
            )
        )
        last = mutation.id
    if plan_first and store.lock_client(client.client_id) != client:
        raise StalePlan()
    store.save(client, writes, processed, last)
    return PushResult(outcomes, last)


def _apply_one(
    registry: MutationRegistry,
    context: HandlerContext,
    mutation: Mutation,
    report_error: ErrorReporter,
    aborts: Callable[[BaseException], bool],
) -> tuple[Outcome, list[Write]]:
    handler = registry.handler(mutation.name)
    if handler is None:
        return Outcome(
            mutation.id, Status.REJECTED, "sync.unknown_mutation", {"name": mutation.name}
        ), []
    try:
        plan = handler(context, mutation)
    except Rejected as refusal:
        return Outcome(mutation.id, Status.REJECTED, refusal.code, refusal.params), []
    except RetryLater:
        raise
    except Exception as error:
        # A handler bug must not block everything behind it for ever: the mutation is refused
        # (the phone keeps it for the user) and the error goes to the operators.
        report_error(mutation, error)
        if aborts(error):
            raise BatchAborted(mutation.id) from error
        return Outcome(mutation.id, Status.REJECTED, "internal_error"), []
    return Outcome(mutation.id, Status.APPLIED, result=plan.result), plan.writes
