"""Public reports: problems reported by anyone who scans an enterprise's public card

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "public_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("key_point_id", sa.Integer(), nullable=True),
        sa.Column("unit_path", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("contact_phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("photo", sa.LargeBinary(), nullable=True),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("device", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("handled_by", sa.Integer(), nullable=True),
        sa.Column("handled_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dismiss_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'converted', 'dismissed')", name="ck_public_report_state"
        ),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprise.id"]),
        sa.ForeignKeyConstraint(["handled_by"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["key_point_id"], ["key_point.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("public_report", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_public_report_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_public_report_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index("ix_public_report_ip_created_at", ["ip", "created_at"], unique=False)
        batch_op.create_index(
            "ix_public_report_unit_path",
            ["unit_path"],
            unique=False,
            postgresql_ops={"unit_path": "varchar_pattern_ops"},
        )


def downgrade() -> None:
    with op.batch_alter_table("public_report", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_public_report_unit_path", postgresql_ops={"unit_path": "varchar_pattern_ops"}
        )
        batch_op.drop_index("ix_public_report_ip_created_at")
        batch_op.drop_index(batch_op.f("ix_public_report_enterprise_id"))
        batch_op.drop_index(batch_op.f("ix_public_report_created_at"))

    op.drop_table("public_report")
