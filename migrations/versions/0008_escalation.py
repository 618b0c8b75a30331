"""Escalation: policies, duty roster, approvals, and the escalation state on hazards

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "duty_shift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name="ck_duty_shift_window"),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["unit.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("duty_shift", schema=None) as batch_op:
        batch_op.create_index(
            "ix_duty_shift_unit_time", ["unit_id", "starts_at", "ends_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_duty_shift_user_id"), ["user_id"], unique=False)

    op.create_table(
        "escalation_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("accept_minutes", sa.Integer(), nullable=False),
        sa.Column("rectify_hours", sa.Integer(), nullable=False),
        sa.Column("renotify_minutes", sa.Integer(), nullable=False),
        sa.Column("tiers", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("accept_minutes > 0", name="ck_escalation_policy_accept"),
        sa.CheckConstraint("rectify_hours > 0", name="ck_escalation_policy_rectify"),
        sa.CheckConstraint("renotify_minutes > 0", name="ck_escalation_policy_renotify"),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("severity", "category", "version", name="uq_escalation_policy_version"),
    )
    op.create_table(
        "approval_request",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("hazard_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("unit_path", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("until", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("requested_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.CheckConstraint(
            "kind IN ('extend', 'suspend', 'return')", name="ck_approval_request_kind"
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'approved', 'refused')", name="ck_approval_request_state"
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["hazard_id"],
            ["hazard.id"],
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("approval_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_approval_request_hazard_id"), ["hazard_id"], unique=False
        )
        batch_op.create_index("ix_approval_request_open", ["state", "unit_path"], unique=False)

    with op.batch_alter_table("hazard", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tier", sa.String(length=16), server_default="street", nullable=False)
        )
        batch_op.add_column(sa.Column("policy_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("due_at", backend.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("due_kind", sa.String(length=16), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("fired", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("escalated_at", backend.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("supervised", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("suspended", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_hazard_due_at"), ["due_at"], unique=False)
        batch_op.create_foreign_key("fk_hazard_policy", "escalation_policy", ["policy_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("hazard", schema=None) as batch_op:
        batch_op.drop_constraint("fk_hazard_policy", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_hazard_due_at"))
        batch_op.drop_column("suspended")
        batch_op.drop_column("supervised")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("fired")
        batch_op.drop_column("due_kind")
        batch_op.drop_column("due_at")
        batch_op.drop_column("policy_id")
        batch_op.drop_column("tier")

    with op.batch_alter_table("approval_request", schema=None) as batch_op:
        batch_op.drop_index("ix_approval_request_open")
        batch_op.drop_index(batch_op.f("ix_approval_request_hazard_id"))

    op.drop_table("approval_request")
    op.drop_table("escalation_policy")
    with op.batch_alter_table("duty_shift", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duty_shift_user_id"))
        batch_op.drop_index("ix_duty_shift_unit_time")

    op.drop_table("duty_shift")
