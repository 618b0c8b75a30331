"""A sent warning can be cancelled (撤销): who, when and why, and the state 'cancelled'

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 21:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
UTC = backend.models.base.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("safety_warning", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_at", UTC(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cancelled_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", AutoString(length=200), nullable=True))
        batch_op.create_foreign_key(
            "fk_safety_warning_cancelled_by", "app_user", ["cancelled_by"], ["id"]
        )
        batch_op.drop_constraint("ck_safety_warning_state", type_="check")
        batch_op.create_check_constraint(
            "ck_safety_warning_state", "state IN ('sent', 'cancelled')"
        )


def downgrade() -> None:
    # The old constraint knows only 'sent': a cancelled warning goes back to looking sent, its
    # cancellation kept only in the event rows.
    op.execute("UPDATE safety_warning SET state = 'sent' WHERE state = 'cancelled'")
    with op.batch_alter_table("safety_warning", schema=None) as batch_op:
        batch_op.drop_constraint("ck_safety_warning_state", type_="check")
        batch_op.create_check_constraint("ck_safety_warning_state", "state IN ('sent')")
        batch_op.drop_constraint("fk_safety_warning_cancelled_by", type_="foreignkey")
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancelled_by")
        batch_op.drop_column("cancelled_at")
