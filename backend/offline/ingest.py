"""One push, start to commit: the engine's batch in one transaction, tried again without the
mutation whose handler broke the transaction."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from backend.auth.policy import Principal
from backend.db import checkpoint, writer_turn
from backend.hazards.services import Lookups
from backend.models import utcnow
from backend.offline.mutations import BackendContext, registry
from backend.offline.store import SqlSyncStore
from sync import BatchAborted, Mutation, PushResult, StalePlan, apply_batch

log = logging.getLogger(__name__)


def _aborts(error: BaseException) -> bool:
    # A failed statement aborts a PostgreSQL transaction; on SQLite it may have rolled back too
    # (a full disk, a busy database). Either way, trying the batch again is the safe answer.
    return isinstance(error, DBAPIError)


# What may pass if tried again: PostgreSQL's SQLSTATE classes for a lost connection, a
# serialisation failure or deadlock, exhausted resources, a cancelled statement; SQLite's
# primary result codes for busy, locked, out of memory, I/O error, disk full.
_TEMPORARY_SQLSTATE = frozenset({"08", "40", "53", "57"})
_TEMPORARY_SQLITE = frozenset({5, 6, 7, 10, 13})


def _temporary(error: BaseException | None) -> bool:
    """Such an error does not refuse the mutation for ever: the whole batch answers
    `sync_retry` and the phone sends it again. A statement refused for what it is (a missing
    table, bad data, a broken constraint) fails the same way every time."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate[:2] in _TEMPORARY_SQLSTATE
    code = getattr(error.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _TEMPORARY_SQLITE
    return False


def apply_push(
    db: Session, principal: Principal, client_id: str, mutations: Sequence[Mutation], device: str
) -> PushResult:
    """Apply and commit a batch. Database errors outside handlers (a lost race, the database
    going away) reach the caller with nothing stored; so does `ClientBelongsToAnother`."""
    refused: set[int] = set()
    names = {m.id: m.name for m in mutations}
    turn = writer_turn(db.get_bind())
    lock_first = False
    while True:
        # Fresh lookups on every try: planning a report notes its id as taken.
        context = BackendContext(
            client_id, utcnow(), principal, Lookups(db), device, batch=mutations
        )
        store = SqlSyncStore(db, principal, names, turn)
        try:
            result = apply_batch(
                store,
                registry,
                context,
                mutations,
                _report_handler_error,
                refused=refused,
                aborts=_aborts,
                lock_first=lock_first,
            )
            db.commit()
        except (StalePlan, IntegrityError):
            db.rollback()
            if lock_first:
                raise
            # Planned before the lock: another push of the client got in (StalePlan), or stored
            # a row planned here (the same report id from another phone). Planned again under
            # the lock, each mutation gets its real answer (`duplicate_id`); a key broken a
            # second time is a real error.
            lock_first = True
            continue
        except BatchAborted as aborted:
            db.rollback()
            cause = aborted.__cause__
            if _temporary(cause):
                assert cause is not None
                raise cause from None  # logged with its traceback already
            # Each try refuses one more mutation, so this ends within the batch's length.
            refused.add(aborted.mutation_id)
            continue
        except BaseException:
            db.rollback()
            raise
        finally:
            store.end_turn()
        if turn is not None and turn.checkpoint_due():
            _checkpoint(db)
        return result


def _checkpoint(db: Session) -> None:
    """The push is stored and its turn given back: a checkpoint that fails changes nothing of it
    (the next one, or SQLite's own, copies the log later)."""
    try:
        checkpoint(db.connection())
    except DBAPIError as error:
        log.warning("checkpoint after a sync push failed: %s", error.__class__.__name__)
    finally:
        db.rollback()


def _report_handler_error(mutation: Mutation, error: BaseException) -> None:
    log.error(
        "sync mutation %s (%s) failed in its handler", mutation.id, mutation.name, exc_info=error
    )
