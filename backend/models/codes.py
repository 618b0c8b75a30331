"""The current state of each printed code (一企一码, 一点一码): version and revocation.

A subject without a row has never been rotated or revoked: version 1, valid. The token on the
poster carries the version it was printed with; `qr.verify` compares it with this row.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class CodeKind(StrEnum):
    ENTERPRISE = "enterprise"
    POINT = "point"


class QrCode(SQLModel, table=True):
    __tablename__ = "qr_code"
    __table_args__ = (
        CheckConstraint("kind IN ('enterprise', 'point')", name="ck_qr_code_kind"),
        CheckConstraint("version >= 1", name="ck_qr_code_version"),
    )

    kind: str = Field(primary_key=True, max_length=16)
    # An enterprise's or a key point's id, as `kind` says (so no foreign key).
    subject_id: int = Field(primary_key=True)
    version: int = Field(default=1)
    revoked: bool = Field(default=False)
    # When the last poster was replaced (rotated) and when the code was revoked.
    replaced_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    updated_by: int | None = Field(default=None, foreign_key="app_user.id")
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
