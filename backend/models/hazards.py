"""Hazards (隐患), their photos, and check-ins (签到) at enterprises."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class Severity(StrEnum):
    GENERAL = "general"  # 一般隐患
    MAJOR = "major"  # 重大隐患


class HazardCategory(StrEnum):
    FIRE = "fire"  # 消防安全
    ELECTRICAL = "electrical"  # 用电安全
    CHEMICALS = "chemicals"  # 危化品管理
    DUST = "dust"  # 粉尘防爆
    MOLTEN_METAL = "molten_metal"  # 高温熔融金属
    SPECIAL_EQUIPMENT = "special_equipment"  # 特种设备
    CONFINED_SPACE = "confined_space"  # 有限空间
    GAS = "gas"  # 燃气
    OTHER = "other"  # 其他


class HazardState(StrEnum):
    """The closed loop (闭环): see backend/tasks/rules.py for who moves a hazard between states."""

    REPORTED = "reported"  # 已上报: waiting for the street to dispatch it
    ASSIGNED = "assigned"  # 已派发: a task is offered, nobody has accepted it yet
    RECTIFYING = "rectifying"  # 整改中: accepted, being put right
    RECTIFIED = "rectified"  # 待核查: evidence submitted, waiting for on-site verification
    CONFIRMING = "confirming"  # 待复核: a major hazard verified once, waiting for a second officer
    CLOSED = "closed"  # 已销号
    RETURNED = "returned"  # 已退回: the street sent the report back (not a hazard, duplicate …)


class Hazard(SQLModel, table=True):
    """A hazard report. The id is made on the phone (UUIDv7), so a report written offline keeps
    its identity through every retry."""

    __tablename__ = "hazard"
    __table_args__ = (
        CheckConstraint("severity IN ('general', 'major')", name="ck_hazard_severity"),
        Index(
            "ix_hazard_unit_path", "unit_path", postgresql_ops={"unit_path": "varchar_pattern_ops"}
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    enterprise_id: int | None = Field(default=None, foreign_key="enterprise.id", index=True)
    key_point_id: int | None = Field(default=None, foreign_key="key_point.id")
    grid_id: int = Field(foreign_key="unit.id", index=True)
    unit_path: str = Field(max_length=400)
    severity: str = Field(max_length=16)
    category: str = Field(max_length=32)
    description: str = Field(max_length=2000)
    latitude: float | None = Field(default=None)
    longitude: float | None = Field(default=None)
    accuracy_m: float | None = Field(default=None)
    state: str = Field(default=HazardState.REPORTED, max_length=24, index=True)
    reported_by: int = Field(foreign_key="app_user.id", index=True)
    # When the phone says it was reported (trusted only within limits), and when it arrived.
    reported_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    client_id: str | None = Field(default=None, max_length=36)
    mutation_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    synced_later: bool = Field(default=False)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    # Set by dispatch: when the rectification is due.
    rectify_by: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # A major hazard's first verifier; the second confirmation must come from someone else.
    verified_by: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("app_user.id", name="fk_hazard_verified_by"), nullable=True
        ),
    )
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Escalation (backend/escalation/): the tier that holds it now, the policy version it started
    # with, and the next deadline the sweep looks for (NULL when nothing is timed), with which
    # clock it is ("accept" or "rectify") and the rules that already fired.
    tier: str = Field(
        default="street",
        sa_column=Column(String(16), nullable=False, default="street", server_default="street"),
    )
    policy_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("escalation_policy.id", name="fk_hazard_policy"), nullable=True
        ),
    )
    due_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True)
    )
    due_kind: str = Field(
        default="", sa_column=Column(String(16), nullable=False, default="", server_default="")
    )
    fired: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, default=list, server_default=text("'[]'")),
    )
    escalated_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # 挂牌督办: a major hazard is supervised by the district until it is closed.
    supervised: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, default=False, server_default=false()),
    )
    suspended: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, default=False, server_default=false()),
    )


class HazardPhoto(SQLModel, table=True):
    """A photo named by a hazard; the bytes may arrive before or after the report."""

    __tablename__ = "hazard_photo"

    hazard_id: str = Field(foreign_key="hazard.id", primary_key=True, max_length=36)
    sha256: str = Field(primary_key=True, max_length=64, index=True)
    position: int = Field(default=0)


class Photo(SQLModel, table=True):
    """An uploaded image, re-encoded by the server; keyed by the SHA-256 of what the phone sent."""

    __tablename__ = "photo"

    sha256: str = Field(primary_key=True, max_length=64)
    content_type: str = Field(max_length=32)
    size: int
    width: int
    height: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_by: int = Field(foreign_key="app_user.id")
    uploaded_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class PhotoUpload(SQLModel, table=True):
    """Who has sent these bytes. A photo is stored once, but each uploader is recorded: a link
    from a hazard, inspection or rectification shows the photo only once its author has sent
    the bytes (backend/offline/photos.py), so naming a hash proves nothing."""

    __tablename__ = "photo_upload"

    sha256: str = Field(foreign_key="photo.sha256", primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    uploaded_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class CheckIn(SQLModel, table=True):
    """An inspector's arrival at an enterprise: when, where, and how far from it."""

    __tablename__ = "check_in"

    id: str = Field(primary_key=True, max_length=36)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    unit_path: str = Field(max_length=400)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    latitude: float | None = Field(default=None)
    longitude: float | None = Field(default=None)
    accuracy_m: float | None = Field(default=None)
    distance_m: float | None = Field(default=None)
    far: bool = Field(default=False)
    client_id: str | None = Field(default=None, max_length=36)
    mutation_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
