"""Sync endpoints: push a batch of outbox mutations, pull what changed."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import JSONBody, QueryParameter
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from backend.auth.middleware import SESSION_COOKIE
from backend.auth.policy import Principal
from backend.auth.services import principal_for_token
from backend.db import WriterTurnTimeout
from backend.errors import AppError
from backend.i18n import Translator
from backend.models import SyncClient
from backend.offline.ingest import apply_push
from backend.offline.schemas import ChangeOut, OutcomeOut, PullOut, PushIn, PushOut
from backend.offline.store import ClientBelongsToAnother, SqlChangeSource
from backend.web import device_of, translator_of
from sync import Change, Mutation, Outcome, pull

log = logging.getLogger(__name__)


def _client_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError as error:
        raise AppError("validation_failed", fields={"client_id": "invalid"}) from error


def _outcome_out(outcome: Outcome, t: Translator) -> OutcomeOut:
    if not outcome.code and not outcome.params:
        # The common answer (applied, nothing to say): no message to look up.
        return OutcomeOut(outcome.id, outcome.status.value, result=outcome.result)  # type: ignore[arg-type]
    params = dict(outcome.params)
    fields = params.pop("fields", {}) if isinstance(params.get("fields"), dict) else {}
    message = t(f"errors.{outcome.code}", **params) if outcome.code else ""
    return OutcomeOut(
        id=outcome.id,
        status=outcome.status.value,  # type: ignore[arg-type]
        code=outcome.code,
        message=message,
        fields={name: t(f"fields.{key}") for name, key in fields.items()},
        result=outcome.result,
    )


# Litestar runs a sync guard and a sync generator's clean-up each in a worker thread. Neither
# does blocking work here, so these async forms save two thread hops per push and pull.


async def _has_session_cookie(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """401 before the body is read when there is no session at all; whether the cookie names a
    live session is checked by `_signed_in` in the handler's own thread."""
    if not connection.cookies.get(SESSION_COOKIE):
        raise NotAuthorizedException()


def _signed_in(request: Request[Any, Any, Any], db: Session) -> Principal:
    """The signed-in principal, read in the handler's thread and on its connection. The
    middleware's lookup (backend/auth/middleware.py) would cost another thread hop and another
    pooled connection, with its own transaction (on PostgreSQL a ping, BEGIN and ROLLBACK), on
    every push and pull; these two routes are excluded from it and read the same row here,
    answering 401 as the `signed_in` guard does."""
    principal = principal_for_token(db, request.cookies.get(SESSION_COOKIE) or "")
    if principal is None:
        raise NotAuthorizedException()
    request.scope["user"] = principal  # the translator reads the person's language from it
    return principal


async def _session(request: Request[Any, Any, Any]) -> AsyncIterator[Session]:
    """The request's session. Making one does no I/O; the handler takes the connection in its
    own thread and ends every transaction it begins, so closing it does none either."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.close()


class SyncApi(Controller):
    path = "/api/v1/sync"
    tags = ["sync"]  # noqa: RUF012
    guards = [_has_session_cookie]  # noqa: RUF012
    opt = {"exclude_from_auth": True}  # noqa: RUF012  (signed in by `_signed_in` instead)
    dependencies = {"db": Provide(_session)}  # noqa: RUF012

    @post("/push", sync_to_thread=True, status_code=200)
    def push(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        data: JSONBody[PushIn],
    ) -> PushOut:
        """Apply a batch of outbox mutations in id order, each at most once ever.

        A repeat is answered `duplicate` and changes nothing; a refusal (`rejected`, with a code
        and a translated message) does not block the mutations behind it; `retry` means send again.
        A repeat of an applied mutation carries the result its first answer had."""
        principal = _signed_in(request, db)
        client_id = _client_id(data.client_id)
        mutations = [Mutation(m.id, m.name, m.args, m.at) for m in data.mutations]
        for mutation in mutations:
            if mutation.at.tzinfo is None:
                raise AppError("validation_failed", fields={"at": "invalid"})
        try:
            result = apply_push(db, principal, client_id, mutations, device_of(request))
        except ClientBelongsToAnother as error:
            raise AppError("sync_client_taken") from error
        except (IntegrityError, DBAPIError, WriterTurnTimeout) as error:
            # Lost a race (or the database hiccuped): nothing of the batch was stored; the phone
            # sends it again and gets each mutation's real answer then.
            log.warning(
                "sync push for client %s rolled back: %s", client_id, error.__class__.__name__
            )
            raise AppError("sync_retry") from error
        t = translator_of(request)
        return PushOut(
            results=[_outcome_out(o, t) for o in result.outcomes],
            last_mutation_id=result.last_mutation_id,
        )

    @get("/pull", sync_to_thread=True)
    def pull_changes(
        self,
        request: Request[Any, Any, Any],
        db: NamedDependency[Session],
        cursor: Annotated[str, QueryParameter(max_length=200)] = "",
        client_id: Annotated[str, QueryParameter(max_length=36)] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=5000)] = 1000,
    ) -> PullOut:
        """What changed since `cursor`, limited to what the caller may see. Without a cursor, or
        after the caller's scope changed, a full snapshot with `reset: true`."""
        principal = _signed_in(request, db)
        last = 0
        if client_id:
            row = db.execute(
                select(SyncClient.last_mutation_id).where(
                    SyncClient.client_id == _client_id(client_id),
                    SyncClient.user_id == principal.id,
                )
            ).scalar()
            last = int(row or 0)
        page = pull(SqlChangeSource(db, principal), principal.scope_version, cursor, limit, last)
        db.rollback()  # read-only: end the snapshot
        return PullOut(
            changes=[_change_out(c) for c in page.changes],
            cursor=page.cursor,
            more=page.more,
            reset=page.reset,
            last_mutation_id=page.last_mutation_id,
        )


def _change_out(change: Change) -> ChangeOut:
    # JSON text from the change log goes out as it is (msgspec writes a Raw verbatim): parsing it
    # only to encode it again was most of a pull's time.
    data = msgspec.Raw(change.data) if isinstance(change.data, str) else change.data
    return ChangeOut(change.entity, change.id, change.op, data)  # type: ignore[arg-type]
