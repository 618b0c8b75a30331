"""Web push and the in-app inbox: devices' subscriptions, notifications (通知) and their deliveries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from backend.models.base import BigId, UTCDateTime, utcnow


class Channel(StrEnum):
    WEBPUSH = "webpush"  # a browser's push service
    SECOND = "second"  # SMS / work messaging (短信 / 政务微信), see backend/push/channels.py


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting to be sent (again)
    SENDING = "sending"  # claimed by a worker until `next_attempt_at` (a lease)
    SENT = "sent"  # the push service (or second channel) took it
    FAILED = "failed"  # refused for good, or out of attempts
    GONE = "gone"  # the push service said the subscription no longer exists (404/410)
    SKIPPED = "skipped"  # no second channel is configured
    WITHDRAWN = "withdrawn"  # never to be sent: its warning was cancelled while it waited


class PushSubscription(SQLModel, table=True):
    """One browser's push subscription for one user; the endpoint is the device's address."""

    __tablename__ = "push_subscription"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    endpoint: str = Field(max_length=1000, unique=True)
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)
    device: str = Field(default="", max_length=200)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_success_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class Notification(SQLModel, table=True):
    """What one person was told, already in their language; also their inbox entry."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_created", "user_id", "created_at"),)

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    user_id: int = Field(foreign_key="app_user.id")
    kind: str = Field(max_length=64)
    title: str = Field(max_length=200)
    body: str = Field(max_length=1000)
    url: str = Field(max_length=500)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    actions: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    hazard_id: str | None = Field(default=None, foreign_key="hazard.id", max_length=36, index=True)
    # No foreign key: the task table arrives in a later migration.
    task_id: str | None = Field(default=None, max_length=36, index=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    delivered_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    seen_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    accepted_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class Delivery(SQLModel, table=True):
    """One notification on one channel (for web push: one device). Claimed with a conditional
    UPDATE, so a delivery is sent once however many times its task runs."""

    __tablename__ = "delivery"
    __table_args__ = (
        CheckConstraint("channel IN ('webpush', 'second')", name="ck_delivery_channel"),
        CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'failed', 'gone', 'skipped', 'withdrawn')",
            name="ck_delivery_state",
        ),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    notification_id: int = Field(
        sa_column=Column(BigId, ForeignKey("notification.id"), nullable=False, index=True)
    )
    channel: str = Field(max_length=16)
    subscription_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("push_subscription.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
    )
    state: str = Field(default=DeliveryState.PENDING, max_length=16)
    attempts: int = Field(default=0)
    # Pending: when it is due (the beat sweep re-queues it after that); sending: the lease's end.
    next_attempt_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True)
    )
    last_error: str = Field(default="", max_length=500)
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
