"""Problems reported by anyone who scans an enterprise's public card (群众举报), without an account.

Anonymous input is untrusted: it is kept apart from hazards until someone in the area reads it
and either files a hazard from it or dismisses it with a reason. The reporter's phone number and
address are for the officers and the rate limit only, never shown publicly."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class PublicReportState(StrEnum):
    OPEN = "open"  # waiting for someone in the area
    CONVERTED = "converted"  # a hazard report was filed from it
    DISMISSED = "dismissed"  # read and set aside, with a reason


class PublicReportCategory(StrEnum):
    """What a passer-by can tell: fewer, plainer choices than a hazard's categories, each of
    which names the hazard category it pre-fills."""

    FIRE = "fire"  # 消防隐患（通道堵塞、灭火器缺失）
    GAS = "gas"  # 燃气异味、泄漏
    CHEMICALS = "chemicals"  # 危化品、异味、泄漏
    ELECTRICAL = "electrical"  # 私拉乱接、电线裸露
    DUST = "dust"  # 粉尘
    OTHER = "other"


class PublicReport(SQLModel, table=True):
    __tablename__ = "public_report"
    __table_args__ = (
        CheckConstraint(
            "state IN ('open', 'converted', 'dismissed')", name="ck_public_report_state"
        ),
        Index(
            "ix_public_report_unit_path",
            "unit_path",
            postgresql_ops={"unit_path": "varchar_pattern_ops"},
        ),
        Index("ix_public_report_ip_created_at", "ip", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    key_point_id: int | None = Field(default=None, foreign_key="key_point.id")
    # The enterprise's grid path when reported: the scope every list and action is bounded by.
    unit_path: str = Field(max_length=400)
    category: str = Field(max_length=32)
    description: str = Field(max_length=1000)
    contact_phone: str = Field(default="", max_length=32)
    # At most one photo, re-encoded by the server (EXIF dropped); kept here, not in `photo`,
    # which holds only what signed-in people uploaded.
    photo: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    ip: str = Field(default="", max_length=64)
    device: str = Field(default="", max_length=200)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    state: str = Field(default=PublicReportState.OPEN.value, max_length=16)
    handled_by: int | None = Field(default=None, foreign_key="app_user.id")
    handled_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    dismiss_reason: str = Field(default="", max_length=500)
