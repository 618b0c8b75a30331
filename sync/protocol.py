"""The sync contract as plain data: what phones send, what they get back, what stores write."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec


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
        """Fingerprint of the request as servers stored it before 2026-11 (64 hex digits): kept
        to recognise replays of mutations processed then."""
        canonical = _CANONICAL.encode([self.name, self.args])
        return hashlib.sha256(canonical.encode()).hexdigest()

    def fingerprint(self) -> str:
        """Fingerprint of the request, to tell an identical replay from a reused id: the one
        stored now. Keys sorted like `digest`, but encoded by msgspec in C (UTF-8, no ASCII
        escaping) and hashed with BLAKE2b: a sixth of the cost. The "2:" prefix and 62 digits
        keep it the column's 64 characters and never equal to a `digest`."""
        canonical = _SORTED.encode((self.name, self.args))
        return DIGEST_V2 + hashlib.blake2b(canonical, digest_size=31).hexdigest()

    def matches(self, stored: str) -> bool:
        """Whether a stored fingerprint (of either kind) is this request's."""
        if stored.startswith(DIGEST_V2):
            return stored == self.fingerprint()
        return stored == self.digest()


# Stored digests are compared with replays for ever: these encodings must never change.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
_SORTED = msgspec.json.Encoder(order="sorted")
DIGEST_V2 = "2:"


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
    # What an applied mutation answered, given again with `duplicate` to a replay.
    result: dict[str, Any] = field(default_factory=dict)


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
