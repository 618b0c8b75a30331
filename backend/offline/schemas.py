"""The sync API's shapes, as documented in the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

MAX_BATCH = 500


class MutationIn(BaseModel):
    id: int = Field(gt=0, lt=2**62, description="Strictly increasing per client; gaps are allowed.")
    name: str = Field(max_length=64, description="hazard.report, inspection.check_in, …")
    args: dict[str, Any]
    at: datetime = Field(description="When the user did it, by the phone's clock (with time zone).")


class PushIn(BaseModel):
    client_id: str = Field(
        min_length=36, max_length=36, description="UUID of the installed browser profile."
    )
    mutations: list[MutationIn] = Field(max_length=MAX_BATCH)


class OutcomeOut(BaseModel):
    id: int
    status: Literal["applied", "duplicate", "rejected", "conflict", "retry"]
    code: str = ""
    message: str = ""
    fields: dict[str, str] = Field(
        default_factory=dict, description="Field name -> translated message."
    )
    result: dict[str, Any] = Field(default_factory=dict)


class PushOut(BaseModel):
    results: list[OutcomeOut]
    last_mutation_id: int


class ChangeOut(BaseModel):
    entity: str
    id: str
    op: Literal["upsert", "remove"]
    data: dict[str, Any]


class PullOut(BaseModel):
    changes: list[ChangeOut]
    cursor: str = Field(description="Opaque; send it back as ?cursor= next time.")
    more: bool = Field(description="More changes are waiting: pull again at once.")
    reset: bool = Field(
        description="This is a full snapshot: drop what the phone kept and store this."
    )
    last_mutation_id: int = Field(
        description="The last mutation id the server has processed for this client."
    )
