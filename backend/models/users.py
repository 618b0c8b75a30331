"""People who sign in, with their role and the unit (or enterprise) that bounds what they see."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class Role(StrEnum):
    GRID_INSPECTOR = "grid_inspector"  # 网格员
    STREET_RESPONDER = "street_responder"  # 街道处置人员
    STREET_DISPATCHER = "street_dispatcher"  # 街道调度员
    DISTRICT_OFFICER = "district_officer"  # 区级人员
    CITY_OFFICER = "city_officer"  # 市级人员
    ENTERPRISE_OFFICER = "enterprise_officer"  # 企业安全员
    ADMIN = "admin"  # 管理员


_ROLE_VALUES = ", ".join(f"'{role.value}'" for role in Role)


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(f"role IN ({_ROLE_VALUES})", name="ck_app_user_role"),
        CheckConstraint(
            "(role = 'enterprise_officer') = (enterprise_id IS NOT NULL)",
            name="ck_app_user_enterprise",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=100)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=32)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    enterprise_id: int | None = Field(default=None, foreign_key="enterprise.id", index=True)
    phone: str = Field(default="", max_length=32)
    locale: str | None = Field(default=None, max_length=8)
    active: bool = Field(default=True)
    # Bumped whenever role, unit or enterprise changes, so offline clients re-pull their scope.
    scope_version: int = Field(default=1)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
