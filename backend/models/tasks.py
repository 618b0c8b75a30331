"""Tasks (任务): a hazard handed to responders or to its enterprise, and the evidence that it was
put right (整改). The rules for moving between states are in backend/tasks/rules.py."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Text
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class TaskState(StrEnum):
    OFFERED = "offered"  # 待接收: sent to one or more people; the first to accept takes it
    ACCEPTED = "accepted"  # 已接收
    DECLINED = "declined"  # 已拒绝: everyone it was offered to declined
    CANCELLED = "cancelled"  # 已撤回: reassigned or returned by the dispatcher
    DONE = "done"  # 已完成: the hazard was closed


_TASK_STATES = ", ".join(f"'{state.value}'" for state in TaskState)


class Task(SQLModel, table=True):
    __tablename__ = "task"
    __table_args__ = (
        CheckConstraint(f"state IN ({_TASK_STATES})", name="ck_task_state"),
        Index("ix_task_open", "hazard_id", "state"),
        Index("ix_task_accept_by", "state", "accept_by"),
    )

    id: str = Field(primary_key=True, max_length=36)
    # A hazard's task, or (hazard_id NULL) one of an incident's plan tasks (backend/incidents/).
    hazard_id: str | None = Field(default=None, foreign_key="hazard.id", max_length=36)
    incident_id: str | None = Field(
        default=None, foreign_key="incident.id", max_length=36, index=True
    )
    unit_path: str = Field(max_length=400)
    state: str = Field(default=TaskState.OFFERED, max_length=16)
    # Handed to the enterprise for rectification (any of its officers may accept) or to people.
    enterprise_id: int | None = Field(default=None, foreign_key="enterprise.id")
    instructions: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    accept_by: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    rectify_by: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    assigned_by: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    accepted_by: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    accepted_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class TaskOffer(SQLModel, table=True):
    """Who a task was offered to; a decline is kept with its reason."""

    __tablename__ = "task_offer"

    task_id: str = Field(foreign_key="task.id", primary_key=True, max_length=36)
    user_id: int = Field(foreign_key="app_user.id", primary_key=True, index=True)
    declined_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    decline_reason: str = Field(default="", max_length=500)


class Rectification(SQLModel, table=True):
    """Evidence that a hazard was put right: a note and photos, made on the phone (maybe offline)."""

    __tablename__ = "rectification"

    id: str = Field(primary_key=True, max_length=36)
    hazard_id: str = Field(foreign_key="hazard.id", index=True, max_length=36)
    task_id: str = Field(foreign_key="task.id", max_length=36)
    user_id: int = Field(foreign_key="app_user.id")
    note: str = Field(max_length=2000)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    synced_later: bool = Field(default=False)
    client_id: str | None = Field(default=None, max_length=36)
    mutation_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class RectificationPhoto(SQLModel, table=True):
    __tablename__ = "rectification_photo"

    rectification_id: str = Field(foreign_key="rectification.id", primary_key=True, max_length=36)
    sha256: str = Field(primary_key=True, max_length=64, index=True)
    position: int = Field(default=0)
