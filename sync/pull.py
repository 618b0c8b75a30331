"""Pull: what changed since an opaque cursor, safe when writers commit out of id order."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sync.protocol import Change, PullPage


@dataclass(frozen=True)
class Cursor:
    """Position in the change log: everything up to (txid, id) has been delivered.

    `txid` is the writing transaction's id where the database has concurrent writers whose
    commits can land out of sequence order (PostgreSQL); it is 0 where writes are serial (SQLite).
    `scope` is the user's scope version: when it changes, the phone starts again from a snapshot."""

    scope: int
    txid: int
    id: int

    def encode(self) -> str:
        raw = json.dumps([1, self.scope, self.txid, self.id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        if not text:
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            version, scope, txid, change_id = json.loads(raw)
        except (ValueError, TypeError, binascii.Error):
            return None
        values = (version, scope, txid, change_id)
        if version != 1 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values
        ):
            return None
        return cls(scope, txid, change_id)


@dataclass(frozen=True)
class LoggedChange:
    txid: int
    id: int
    change: Change


class ChangeSource(Protocol):
    """The application's change log and current state, already limited to what the user may see."""

    def horizon(self) -> int | None:
        """A txid below which every transaction has finished, or None where writes are serial."""

    def newest(self) -> tuple[int, int]:
        """(txid, id) of the newest change in the log, (0, 0) when it is empty."""

    def changes_after(
        self, txid: int, change_id: int, horizon: int | None, limit: int
    ) -> Sequence[LoggedChange]:
        """Changes after (txid, id), below the horizon when there is one, in (txid, id) order."""

    def snapshot(self) -> Sequence[Change]:
        """The current state of everything the user may see."""


def pull(
    source: ChangeSource, scope: int, cursor_text: str | None, limit: int, last_mutation_id: int
) -> PullPage:
    """One page of changes. A missing, foreign or stale-scope cursor starts over from a snapshot."""
    cursor = Cursor.decode(cursor_text)
    # Positions are read before the data, so whatever commits meanwhile is delivered next time
    # (perhaps twice, which is harmless: changes are idempotent upserts and removals).
    horizon = source.horizon()
    if cursor is None or cursor.scope != scope:
        txid, change_id = (horizon, 0) if horizon is not None else source.newest()
        snapshot = list(source.snapshot())
        return PullPage(
            snapshot, Cursor(scope, txid, change_id).encode(), False, True, last_mutation_id
        )
    rows = list(source.changes_after(cursor.txid, cursor.id, horizon, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    end = (cursor.txid, cursor.id)
    if rows:
        end = (rows[-1].txid, rows[-1].id)
    if not more and horizon is not None:
        # Everything below the horizon has been delivered; nothing can commit below it any more.
        end = max(end, (horizon, 0))
    return PullPage(
        [row.change for row in rows], Cursor(scope, *end).encode(), more, False, last_mutation_id
    )
