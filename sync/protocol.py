"""The sync contract as plain data: what phones send, what they get back, what stores write."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    APPLIED = "applied"  # done now
    DUPLICATE = "duplicate"  # done before; this repeat changed nothing
    REJECTED = "rejected"  # processed and refused by the rules; never retried
    CONFLICT = "conflict"  # the id was used before for a different mutation
    RETRY = "retry"  # not processed (a temporary failure); send it again


@dataclass(frozen=True)
class Mutation:
    """One outbox entry. `id` increases strictly per client; gaps are allowed."""

    id: int
    name: str
    args: dict[str, Any]
    at: datetime

    def digest(self) -> str:
        """Fingerprint of the request, to tell an identical replay from a reused id."""
        canonical = _CANONICAL.encode([self.name, self.args])
        return hashlib.sha256(canonical.encode()).hexdigest()


# Stored digests are compared with replays for ever: this encoding must never change.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Outcome:
    id: int
    status: Status
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Write:
    """A row a handler wants stored; the store decides how (set-based, in one transaction)."""

    table: str
    row: dict[str, Any]


@dataclass(frozen=True)
class Change:
    """What a pull returns: the current state of an entity, or that it left the user's view."""

    entity: str
    id: str
    op: str  # "upsert" or "remove"
    # The entity's JSON: a dict, or its JSON text where the store keeps it encoded (the change
    # log does), to be passed on as it is instead of parsed and encoded again.
    data: dict[str, Any] | str


@dataclass(frozen=True)
class ClientState:
    client_id: str
    user_id: int
    last_mutation_id: int


@dataclass(frozen=True)
class Processed:
    """What the store remembers of a mutation it processed: enough to answer a replay."""

    mutation_id: int
    status: Status
    digest: str
    code: str = ""


@dataclass(frozen=True)
class PushResult:
    outcomes: list[Outcome]
    last_mutation_id: int


@dataclass(frozen=True)
class PullPage:
    changes: list[Change]
    cursor: str
    more: bool
    reset: bool
    last_mutation_id: int
