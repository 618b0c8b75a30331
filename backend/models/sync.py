"""Bookkeeping of the offline sync: clients, processed mutations, and the change log pulls read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from backend.models.base import BigId, UTCDateTime, utcnow


class SyncClient(SQLModel, table=True):
    """One installed browser profile; its row is locked while a batch of it is applied."""

    __tablename__ = "sync_client"

    client_id: str = Field(primary_key=True, max_length=36)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    last_mutation_id: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_push_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class SyncMutation(SQLModel, table=True):
    """Every processed mutation, for ever: the primary key is the last guard of "at most once"."""

    __tablename__ = "sync_mutation"

    client_id: str = Field(primary_key=True, max_length=36)
    mutation_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    name: str = Field(max_length=64)
    status: str = Field(max_length=16)
    code: str = Field(default="", max_length=64)
    digest: str = Field(max_length=64)
    # What an applied mutation answered (None when it said nothing more than `applied`): a
    # replay is answered `duplicate` with it, so a phone whose first answer was lost on the way
    # still learns it (an inspection's `check_in_missing`, say).
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    processed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Change(SQLModel, table=True):
    """The change log: one row per visible change, with the data the phone stores.

    `txid` is the writing transaction's id on PostgreSQL (0 on SQLite): pulls read only below
    the oldest running transaction, so a row committed late is never skipped."""

    __tablename__ = "change"
    __table_args__ = (
        Index("ix_change_position", "txid", "id"),
        Index(
            "ix_change_unit_path", "unit_path", postgresql_ops={"unit_path": "varchar_pattern_ops"}
        ),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    txid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    op: str = Field(max_length=8)
    unit_path: str = Field(max_length=400)
    enterprise_id: int | None = Field(default=None, index=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
