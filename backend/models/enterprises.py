"""Enterprises under supervision (企业) and the key points inside them (关键点位)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class Industry(StrEnum):
    HAZARDOUS_CHEMICALS = "hazardous_chemicals"  # 危化
    METALLURGY = "metallurgy"  # 冶金
    DUST_EXPLOSION = "dust_explosion"  # 粉尘涉爆
    ALUMINIUM_PROCESSING = "aluminium_processing"  # 铝加工
    OTHER = "other"  # 其他


_INDUSTRY_VALUES = ", ".join(f"'{industry.value}'" for industry in Industry)


class Enterprise(SQLModel, table=True):
    __tablename__ = "enterprise"
    __table_args__ = (
        CheckConstraint(f"industry IN ({_INDUSTRY_VALUES})", name="ck_enterprise_industry"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    credit_code: str = Field(max_length=18, unique=True)  # 统一社会信用代码
    industry: str = Field(max_length=32, index=True)
    address: str = Field(default="", max_length=300)
    latitude: float | None = Field(default=None)
    longitude: float | None = Field(default=None)
    grid_id: int = Field(foreign_key="unit.id", index=True)
    contact_name: str = Field(default="", max_length=100)
    contact_phone: str = Field(default="", max_length=32)
    active: bool = Field(default=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class KeyPoint(SQLModel, table=True):
    """A tank, a dust collector, a warehouse: a place inside an enterprise with its own code."""

    __tablename__ = "key_point"

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    name: str = Field(max_length=200)
    kind: str = Field(default="", max_length=64)
    description: str = Field(default="", max_length=1000)
    latitude: float | None = Field(default=None)
    longitude: float | None = Field(default=None)
    active: bool = Field(default=True)
