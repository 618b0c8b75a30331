"""Risk profiles, enforcement records, accidents and the enterprises awaiting rescoring

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 13:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PATTERN_OPS = {"unit_path": "varchar_pattern_ops"}


def upgrade() -> None:
    op.create_table(
        "risk_profile",
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("unit_path", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("colour", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("scoring_version", sa.Integer(), nullable=False),
        sa.Column("computed_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("colour_since", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "last_inspected_at", backend.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "inspection_due_at", backend.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.CheckConstraint(
            "colour IN ('red', 'orange', 'yellow', 'blue')", name="ck_risk_profile_colour"
        ),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprise.id"]),
        sa.PrimaryKeyConstraint("enterprise_id"),
    )
    with op.batch_alter_table("risk_profile", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_profile_colour"), ["colour"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_risk_profile_inspection_due_at"), ["inspection_due_at"], unique=False
        )
        batch_op.create_index(
            "ix_risk_profile_unit_path",
            ["unit_path"],
            unique=False,
            postgresql_ops=_PATTERN_OPS,
        )

    op.create_table(
        "enforcement_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("unit_path", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("amount_yuan", sa.Integer(), nullable=True),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('warning', 'fine', 'order', 'suspension', 'licence_revoked', 'other')",
            name="ck_enforcement_kind",
        ),
        sa.CheckConstraint("source IN ('officer', 'import')", name="ck_enforcement_source"),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprise.id"]),
        sa.ForeignKeyConstraint(["recorded_by"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("enforcement_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enforcement_record_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(
            "ix_enforcement_record_unit_path",
            ["unit_path"],
            unique=False,
            postgresql_ops=_PATTERN_OPS,
        )

    op.create_table(
        "accident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("unit_path", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("deaths", sa.Integer(), nullable=False),
        sa.Column("injuries", sa.Integer(), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "level IN ('general', 'larger', 'major', 'especially_major')",
            name="ck_accident_level",
        ),
        sa.CheckConstraint("source IN ('officer', 'import')", name="ck_accident_source"),
        sa.CheckConstraint("deaths >= 0 AND injuries >= 0", name="ck_accident_casualties"),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprise.id"]),
        sa.ForeignKeyConstraint(["recorded_by"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("accident", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accident_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(
            "ix_accident_unit_path", ["unit_path"], unique=False, postgresql_ops=_PATTERN_OPS
        )

    op.create_table(
        "risk_pending",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("since", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("at", backend.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprise.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("risk_pending", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_risk_pending_enterprise_id"), ["enterprise_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("risk_pending", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_pending_enterprise_id"))
    op.drop_table("risk_pending")
    with op.batch_alter_table("accident", schema=None) as batch_op:
        batch_op.drop_index("ix_accident_unit_path", postgresql_ops=_PATTERN_OPS)
        batch_op.drop_index(batch_op.f("ix_accident_enterprise_id"))
    op.drop_table("accident")
    with op.batch_alter_table("enforcement_record", schema=None) as batch_op:
        batch_op.drop_index("ix_enforcement_record_unit_path", postgresql_ops=_PATTERN_OPS)
        batch_op.drop_index(batch_op.f("ix_enforcement_record_enterprise_id"))
    op.drop_table("enforcement_record")
    with op.batch_alter_table("risk_profile", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_profile_unit_path", postgresql_ops=_PATTERN_OPS)
        batch_op.drop_index(batch_op.f("ix_risk_profile_inspection_due_at"))
        batch_op.drop_index(batch_op.f("ix_risk_profile_colour"))
    op.drop_table("risk_profile")
