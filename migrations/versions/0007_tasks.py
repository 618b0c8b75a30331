"""Tasks: the hazard's closed loop (assign, accept, rectify, verify) and its timeline

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("hazard_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("unit_path", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("accept_by", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rectify_by", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.Integer(), nullable=False),
        sa.Column("created_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_by", sa.Integer(), nullable=True),
        sa.Column("accepted_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('offered', 'accepted', 'declined', 'cancelled', 'done')",
            name="ck_task_state",
        ),
        sa.ForeignKeyConstraint(
            ["accepted_by"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
        ),
        sa.ForeignKeyConstraint(
            ["hazard_id"],
            ["hazard.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.create_index("ix_task_accept_by", ["state", "accept_by"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_accepted_by"), ["accepted_by"], unique=False)
        batch_op.create_index("ix_task_open", ["hazard_id", "state"], unique=False)

    op.create_table(
        "rectification",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("hazard_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("task_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("synced_later", sa.Boolean(), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("mutation_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hazard_id"],
            ["hazard.id"],
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["task.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rectification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rectification_hazard_id"), ["hazard_id"], unique=False)

    op.create_table(
        "task_offer",
        sa.Column("task_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("declined_at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decline_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["task.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("task_id", "user_id"),
    )
    with op.batch_alter_table("task_offer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_offer_user_id"), ["user_id"], unique=False)

    op.create_table(
        "rectification_photo",
        sa.Column("rectification_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rectification_id"],
            ["rectification.id"],
        ),
        sa.PrimaryKeyConstraint("rectification_id", "sha256"),
    )
    with op.batch_alter_table("rectification_photo", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rectification_photo_sha256"), ["sha256"], unique=False)

    with op.batch_alter_table("hazard", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rectify_by", backend.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("verified_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("closed_at", backend.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key("fk_hazard_verified_by", "app_user", ["verified_by"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("hazard", schema=None) as batch_op:
        batch_op.drop_constraint("fk_hazard_verified_by", type_="foreignkey")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("verified_by")
        batch_op.drop_column("rectify_by")

    with op.batch_alter_table("rectification_photo", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rectification_photo_sha256"))

    op.drop_table("rectification_photo")
    with op.batch_alter_table("task_offer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_offer_user_id"))

    op.drop_table("task_offer")
    with op.batch_alter_table("rectification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rectification_hazard_id"))

    op.drop_table("rectification")
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index("ix_task_open")
        batch_op.drop_index(batch_op.f("ix_task_accepted_by"))
        batch_op.drop_index("ix_task_accept_by")

    op.drop_table("task")
