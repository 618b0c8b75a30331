"""Inspections (检查): versioned checklist templates per industry, and the inspections run on them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class InspectionKind(StrEnum):
    INSPECTION = "inspection"  # 检查: a grid inspector or street officer
    SELF_CHECK = "self_check"  # 企业自查: the enterprise's own safety officer


class ItemResult(StrEnum):
    PASS = "pass"  # noqa: S105 (合格: a checklist answer, not a password)
    FAIL = "fail"  # 不合格
    NOT_APPLICABLE = "na"  # 不适用


class ChecklistTemplate(SQLModel, table=True):
    """One version of an industry's checklist. A change is a new version, never an edit, so an
    inspection keeps the items it was run on."""

    __tablename__ = "checklist_template"
    __table_args__ = (
        UniqueConstraint("industry", "version", name="uq_checklist_template_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    industry: str = Field(max_length=32, index=True)
    version: int
    title_zh: str = Field(max_length=200)
    title_en: str = Field(max_length=200)
    active: bool = Field(default=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class ChecklistItem(SQLModel, table=True):
    __tablename__ = "checklist_item"
    __table_args__ = (UniqueConstraint("template_id", "code", name="uq_checklist_item_code"),)

    id: int | None = Field(default=None, primary_key=True)
    template_id: int = Field(foreign_key="checklist_template.id", index=True)
    position: int
    code: str = Field(max_length=32)
    text_zh: str = Field(max_length=500)
    text_en: str = Field(max_length=500)
    category: str = Field(max_length=32)
    severity: str = Field(max_length=16)


class Inspection(SQLModel, table=True):
    """Who inspected which enterprise, when, on which checklist version (and after which check-in)."""

    __tablename__ = "inspection"
    __table_args__ = (
        CheckConstraint("kind IN ('inspection', 'self_check')", name="ck_inspection_kind"),
        Index(
            "ix_inspection_unit_path",
            "unit_path",
            postgresql_ops={"unit_path": "varchar_pattern_ops"},
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    inspector_id: int = Field(foreign_key="app_user.id", index=True)
    template_id: int = Field(foreign_key="checklist_template.id")
    template_version: int
    kind: str = Field(max_length=16)
    unit_path: str = Field(max_length=400)
    check_in_id: str | None = Field(default=None, foreign_key="check_in.id", max_length=36)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class InspectionResult(SQLModel, table=True):
    __tablename__ = "inspection_result"
    __table_args__ = (
        CheckConstraint("result IN ('pass', 'fail', 'na')", name="ck_inspection_result"),
    )

    inspection_id: str = Field(foreign_key="inspection.id", primary_key=True, max_length=36)
    item_id: int = Field(foreign_key="checklist_item.id", primary_key=True)
    result: str = Field(max_length=8)
    note: str = Field(default="", max_length=1000)


class InspectionPhoto(SQLModel, table=True):
    """A photo taken for one checklist item of an inspection; the bytes (in `photo`) may arrive
    before or after the inspection, as a hazard's may."""

    __tablename__ = "inspection_photo"

    inspection_id: str = Field(foreign_key="inspection.id", primary_key=True, max_length=36)
    item_id: int = Field(foreign_key="checklist_item.id", primary_key=True)
    sha256: str = Field(primary_key=True, max_length=64, index=True)
