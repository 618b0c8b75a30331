"""Targeted warnings and acknowledgements

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 13:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
UTC = backend.models.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "safety_warning",
        sa.Column("id", AutoString(length=36), nullable=False),
        sa.Column("title", AutoString(length=200), nullable=False),
        sa.Column("level", AutoString(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("valid_until", UTC(timezone=True), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("unit_path", AutoString(length=400), nullable=False),
        sa.Column("targeting", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent_at", UTC(timezone=True), nullable=False),
        sa.Column("state", AutoString(length=16), nullable=False),
        sa.CheckConstraint(
            "level IN ('blue', 'yellow', 'orange', 'red')", name="ck_safety_warning_level"
        ),
        sa.CheckConstraint("state IN ('sent')", name="ck_safety_warning_state"),
        sa.ForeignKeyConstraint(["sender_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("safety_warning", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safety_warning_sender_id"), ["sender_id"])
        batch_op.create_index(batch_op.f("ix_safety_warning_sent_at"), ["sent_at"])
        batch_op.create_index(
            "ix_safety_warning_unit_path",
            ["unit_path"],
            postgresql_ops={"unit_path": "varchar_pattern_ops"},
        )

    op.create_table(
        "warning_recipient",
        sa.Column("warning_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("unit_path", AutoString(length=400), nullable=False),
        sa.Column("notified_at", UTC(timezone=True), nullable=False),
        sa.Column("renotified", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", UTC(timezone=True), nullable=True),
        sa.Column("ack_via", AutoString(length=16), nullable=True),
        sa.CheckConstraint(
            "ack_via IS NULL OR ack_via IN ('page', 'offline', 'notification')",
            name="ck_warning_recipient_ack_via",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["warning_id"], ["safety_warning.id"]),
        sa.PrimaryKeyConstraint("warning_id", "user_id"),
    )
    with op.batch_alter_table("warning_recipient", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_warning_recipient_user_id"), ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("warning_recipient", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_warning_recipient_user_id"))
    op.drop_table("warning_recipient")
    with op.batch_alter_table("safety_warning", schema=None) as batch_op:
        batch_op.drop_index("ix_safety_warning_unit_path")
        batch_op.drop_index(batch_op.f("ix_safety_warning_sent_at"))
        batch_op.drop_index(batch_op.f("ix_safety_warning_sender_id"))
    op.drop_table("safety_warning")
