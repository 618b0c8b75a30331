"""Targeted warnings (预警信息定向发布): what a city or district officer sent, to whom, and who has
acknowledged it (确认收到). The history lives in `event` rows like everything else."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class WarningLevel(StrEnum):
    """The four colours of Chinese warning signals, mildest first (蓝 黄 橙 红)."""

    BLUE = "blue"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"


class WarningState(StrEnum):
    SENT = "sent"
    CANCELLED = "cancelled"  # withdrawn as a false alarm (撤销): see cancelled_at and the reason


class AckVia(StrEnum):
    """How an acknowledgement reached us."""

    PAGE = "page"  # the warning's page or the inbox, online
    OFFLINE = "offline"  # the phone's outbox, synced later
    NOTIFICATION = "notification"  # the notification's own button


def _values(kind: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in kind)


class SafetyWarning(SQLModel, table=True):
    """One warning as sent. `targeting` keeps the criteria as given (see
    backend/warnings/targeting.py), so the audience can be explained afterwards."""

    __tablename__ = "safety_warning"
    __table_args__ = (
        CheckConstraint(f"level IN ({_values(WarningLevel)})", name="ck_safety_warning_level"),
        CheckConstraint(f"state IN ({_values(WarningState)})", name="ck_safety_warning_state"),
        Index(
            "ix_safety_warning_unit_path",
            "unit_path",
            postgresql_ops={"unit_path": "varchar_pattern_ops"},
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    title: str = Field(max_length=200)
    level: str = Field(max_length=16)
    body: str = Field(sa_column=Column(Text, nullable=False))
    instructions: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    valid_until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sender_id: int = Field(foreign_key="app_user.id", index=True)
    # The sender's unit: who may manage the warning, and the area every recipient lies in.
    unit_path: str = Field(max_length=400)
    targeting: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    recipients: int = Field(default=0)
    sent_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    state: str = Field(default=WarningState.SENT, max_length=16)
    # Set once, by the one conditional UPDATE that cancels (backend/warnings/services.py cancel).
    cancelled_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    cancelled_by: int | None = Field(default=None, foreign_key="app_user.id")
    cancel_reason: str | None = Field(default=None, max_length=200)


class WarningRecipient(SQLModel, table=True):
    """One person a warning went to. Acknowledged once: the first acknowledgement wins."""

    __tablename__ = "warning_recipient"
    __table_args__ = (
        CheckConstraint(
            f"ack_via IS NULL OR ack_via IN ({_values(AckVia)})",
            name="ck_warning_recipient_ack_via",
        ),
    )

    warning_id: str = Field(
        sa_column=Column(
            String(36), ForeignKey("safety_warning.id"), primary_key=True, nullable=False
        )
    )
    user_id: int = Field(foreign_key="app_user.id", primary_key=True, index=True)
    # The recipient's unit when it was sent, for acknowledgement rates per unit.
    unit_path: str = Field(max_length=400)
    notified_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    renotified: int = Field(default=0)
    acknowledged_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    ack_via: str | None = Field(default=None, max_length=16)
