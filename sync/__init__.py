"""Offline-sync engine, independent of any web framework, ORM or broker.

Phones push mutations ({id, name, args, at}) from an outbox; the engine applies each at most
once, in order, through handlers the application registers, and hands the resulting writes to a
store the application implements. Pulls return what changed since an opaque cursor.
"""

from sync.engine import BatchAborted, StalePlan, apply_batch
from sync.protocol import (
    Change,
    ClientState,
    Mutation,
    Outcome,
    PullPage,
    PushResult,
    Status,
    Write,
)
from sync.pull import Cursor, pull
from sync.registry import HandlerContext, MutationRegistry, Rejected, RetryLater

__all__ = [
    "BatchAborted",
    "Change",
    "ClientState",
    "Cursor",
    "HandlerContext",
    "Mutation",
    "MutationRegistry",
    "Outcome",
    "PullPage",
    "PushResult",
    "Rejected",
    "RetryLater",
    "StalePlan",
    "Status",
    "Write",
    "apply_batch",
    "pull",
]
