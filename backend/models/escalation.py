"""Three-tier escalation (street → district → city): versioned policies, the duty roster (值班表)
and approvals from the tier above (台账). The escalation state itself lives on the hazard row."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class Tier(StrEnum):
    STREET = "street"  # 街道
    DISTRICT = "district"  # 区
    CITY = "city"  # 市


TIERS = (Tier.STREET, Tier.DISTRICT, Tier.CITY)


class EscalationPolicy(SQLModel, table=True):
    """How long each step may take before the next tier is told. A change is a new version; a
    hazard keeps the version it started with."""

    __tablename__ = "escalation_policy"
    __table_args__ = (
        UniqueConstraint("severity", "category", "version", name="uq_escalation_policy_version"),
        CheckConstraint("accept_minutes > 0", name="ck_escalation_policy_accept"),
        CheckConstraint("rectify_hours > 0", name="ck_escalation_policy_rectify"),
        CheckConstraint("renotify_minutes > 0", name="ck_escalation_policy_renotify"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # "*" matches any severity or category; the most specific active policy applies.
    severity: str = Field(default="*", max_length=16)
    category: str = Field(default="*", max_length=32)
    version: int = Field(default=1)
    accept_minutes: int
    rectify_hours: int
    renotify_minutes: int
    # The tiers it climbs, in order, e.g. "street,district,city".
    tiers: str = Field(default="street,district,city", max_length=64)
    active: bool = Field(default=True)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class DutyShift(SQLModel, table=True):
    """Someone on duty for a unit during a window (day and night shifts, holidays)."""

    __tablename__ = "duty_shift"
    __table_args__ = (
        Index("ix_duty_shift_unit_time", "unit_id", "starts_at", "ends_at"),
        CheckConstraint("ends_at > starts_at", name="ck_duty_shift_window"),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    user_id: int = Field(foreign_key="app_user.id", index=True)
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    note: str = Field(default="", max_length=200)


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class ApprovalKind(StrEnum):
    EXTEND = "extend"  # 延期: a later rectification deadline
    SUSPEND = "suspend"  # 挂起: timers stop until resumed (e.g. production halted for a plan)
    RETURN = "return"  # 退回: a street's dispatcher returns a report (not a hazard, not ours …)


class ApprovalRequest(SQLModel, table=True):
    """A request the tier above decides; kept whatever the answer (台账)."""

    __tablename__ = "approval_request"
    __table_args__ = (
        Index("ix_approval_request_open", "state", "unit_path"),
        CheckConstraint("kind IN ('extend', 'suspend', 'return')", name="ck_approval_request_kind"),
        CheckConstraint(
            "state IN ('pending', 'approved', 'refused')", name="ck_approval_request_state"
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    hazard_id: str = Field(foreign_key="hazard.id", index=True, max_length=36)
    # The deciding tier's unit path: its officers (and those above) see the request.
    unit_path: str = Field(max_length=400)
    kind: str = Field(max_length=16)
    reason: str = Field(max_length=500)
    until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    state: str = Field(default=ApprovalState.PENDING, max_length=16)
    requested_by: int = Field(foreign_key="app_user.id")
    requested_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")
    decided_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    decision_note: str = Field(default="", max_length=500)
