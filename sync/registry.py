"""Mutation handlers, registered by name by the application."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sync.protocol import Mutation, Write


class Rejected(Exception):
    """The rules refuse this mutation; `code` is a stable error code the phone can translate."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class RetryLater(Exception):
    """A temporary failure: nothing of this batch from here on is applied; the phone sends it again."""


class HandlerContext(Protocol):
    """What a handler may ask of the application while planning its writes."""

    @property
    def client_id(self) -> str: ...

    @property
    def now(self) -> datetime: ...


@dataclass
class Plan:
    writes: list[Write] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[HandlerContext, Mutation], Plan]


class MutationRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._plans_only: set[str] = set()

    def register(self, name: str, *, plans_only: bool = False) -> Callable[[Handler], Handler]:
        """`plans_only`: the handler reads and returns its writes in the plan, and writes
        nothing itself; a batch of such mutations may be planned before the client is locked
        (see `apply_batch`)."""

        def decorator(handler: Handler) -> Handler:
            if name in self._handlers:
                raise ValueError(f"mutation {name!r} is registered twice")
            self._handlers[name] = handler
            if plans_only:
                self._plans_only.add(name)
            return handler

        return decorator

    def handler(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def plans_only(self, name: str) -> bool:
        return name in self._plans_only

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._handlers)
