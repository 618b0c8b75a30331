"""Digital contingency plans (数字化预案) broken into their elements, the protection targets
(重点防护目标) they check, and incidents (突发事件) whose confirmed plan becomes tasks.

An incident's tasks are drafted as `incident_task` rows; on confirmation each becomes a `task`
(same id) with its offers, so responders answer them in the loop's inbox."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class IncidentState(StrEnum):
    DRAFT = "draft"  # 待确认: reported, plan proposed, tasks drafted
    CONFIRMED = "confirmed"  # 已确认: tasks sent
    CLOSED = "closed"  # 已结束


class Plan(SQLModel, table=True):
    """A contingency plan: which incident types it answers and how far its effects reach."""

    __tablename__ = "contingency_plan"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    # Incident type keys (backend/plans/policy.py INCIDENT_TYPES).
    incident_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Affected radius: base + per scale level above the first.
    base_radius_m: int = Field(default=500)
    radius_per_level_m: int = Field(default=500)
    version: int = Field(default=1)
    active: bool = Field(default=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class PlanRole(SQLModel, table=True):
    """A post in the plan's command structure (指挥体系), filled per incident by the people of
    `position` at the `unit_level` unit above the incident (the duty roster first)."""

    __tablename__ = "plan_role"
    __table_args__ = (UniqueConstraint("plan_id", "key", name="uq_plan_role_key"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="contingency_plan.id", index=True)
    key: str = Field(max_length=64)
    title: str = Field(max_length=100)
    unit_level: str = Field(max_length=16)
    position: str = Field(max_length=32)
    sort: int = Field(default=0)


class PlanTaskTemplate(SQLModel, table=True):
    """What a role is told to do when the plan is confirmed."""

    __tablename__ = "plan_task_template"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="contingency_plan.id", index=True)
    role_id: int = Field(foreign_key="plan_role.id", index=True)
    title: str = Field(max_length=200)
    instructions: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    manual: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    risk_tips: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    accept_minutes: int = Field(default=15)
    complete_minutes: int = Field(default=240)


class PlanTargetKind(SQLModel, table=True):
    """A kind of protection target the plan checks inside the affected radius."""

    __tablename__ = "plan_target_kind"

    plan_id: int = Field(foreign_key="contingency_plan.id", primary_key=True)
    kind: str = Field(max_length=32, primary_key=True)


class ProtectionTarget(SQLModel, table=True):
    """A point of interest to protect: a school, a hospital, … (the POI layer)."""

    __tablename__ = "protection_target"
    __table_args__ = (
        UniqueConstraint("kind", "name", name="uq_protection_target_kind_name"),
        Index("ix_protection_target_position", "latitude", "longitude"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    name: str = Field(max_length=200)
    latitude: float
    longitude: float
    address: str = Field(default="", max_length=300)
    unit_path: str = Field(max_length=400, index=True)


class Incident(SQLModel, table=True):
    __tablename__ = "incident"
    __table_args__ = (
        CheckConstraint("state IN ('draft', 'confirmed', 'closed')", name="ck_incident_state"),
        Index("ix_incident_type_created", "incident_type", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    incident_type: str = Field(max_length=32)
    latitude: float
    longitude: float
    scale: int = Field(default=1)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    reported_by: int = Field(foreign_key="app_user.id")
    unit_path: str = Field(max_length=400, index=True)
    state: str = Field(default=IncidentState.DRAFT, max_length=16)
    radius_m: int = Field(default=0)
    plan_id: int | None = Field(default=None, foreign_key="contingency_plan.id")
    confirmed_by: int | None = Field(default=None, foreign_key="app_user.id")
    confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class IncidentTask(SQLModel, table=True):
    """A drafted task (editable until confirmation); on confirmation a `task` with the same id.
    Its accept clock climbs the escalation tiers like a hazard's (tier, due_at, fired)."""

    __tablename__ = "incident_task"
    __table_args__ = (Index("ix_incident_task_due", "due_at"),)

    id: str = Field(primary_key=True, max_length=36)
    incident_id: str = Field(foreign_key="incident.id", index=True, max_length=36)
    role_id: int | None = Field(default=None, foreign_key="plan_role.id")
    role_title: str = Field(default="", max_length=100)
    title: str = Field(max_length=200)
    instructions: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    manual: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    risk_tips: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    people: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    accept_minutes: int = Field(default=15)
    complete_minutes: int = Field(default=240)
    dropped: bool = Field(default=False)
    sort: int = Field(default=0)
    tier: str = Field(default="street", max_length=16)
    due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    fired: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    done_note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class TargetCheck(SQLModel, table=True):
    """Someone checked a protection target for an incident; the first check is kept."""

    __tablename__ = "target_check"

    incident_id: str = Field(foreign_key="incident.id", primary_key=True, max_length=36)
    target_id: int = Field(foreign_key="protection_target.id", primary_key=True)
    user_id: int = Field(foreign_key="app_user.id")
    note: str = Field(default="", max_length=500)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
