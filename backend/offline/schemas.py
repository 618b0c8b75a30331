"""The sync API's shapes, as documented in the OpenAPI schema.

msgspec structs rather than pydantic models: a push carries up to 500 mutations and a pull up to
5,000 changes, and msgspec converts and encodes them in C (about five times faster here) while
Litestar documents them the same way. The JSON on the wire is unchanged."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct, field

MAX_BATCH = 500


class MutationIn(Struct):
    id: Annotated[
        int, Meta(gt=0, lt=2**62, description="Strictly increasing per client; gaps are allowed.")
    ]
    name: Annotated[str, Meta(max_length=64, description="hazard.report, inspection.check_in, …")]
    args: dict[str, Any]
    at: Annotated[
        datetime,
        Meta(description="When the user did it, by the phone's clock (with time zone)."),
    ]


class PushIn(Struct):
    client_id: Annotated[
        str,
        Meta(min_length=36, max_length=36, description="UUID of the installed browser profile."),
    ]
    mutations: Annotated[list[MutationIn], Meta(max_length=MAX_BATCH)]


class OutcomeOut(Struct):
    id: int
    status: Literal["applied", "duplicate", "rejected", "conflict", "retry"]
    code: str = ""
    message: str = ""
    fields: Annotated[dict[str, str], Meta(description="Field name -> translated message.")] = (
        field(default_factory=dict)
    )
    result: dict[str, Any] = field(default_factory=dict)


class PushOut(Struct):
    results: list[OutcomeOut]
    last_mutation_id: int


class ChangeOut(Struct):
    entity: str
    id: str
    op: Literal["upsert", "remove"]
    data: dict[str, Any]


class PullOut(Struct):
    changes: list[ChangeOut]
    cursor: Annotated[str, Meta(description="Opaque; send it back as ?cursor= next time.")]
    more: Annotated[bool, Meta(description="More changes are waiting: pull again at once.")]
    reset: Annotated[
        bool, Meta(description="This is a full snapshot: drop what the phone kept and store this.")
    ]
    last_mutation_id: Annotated[
        int, Meta(description="The last mutation id the server has processed for this client.")
    ]
