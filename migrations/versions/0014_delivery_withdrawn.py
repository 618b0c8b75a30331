"""A delivery can be withdrawn (its warning was cancelled before the push left): the state
'withdrawn'

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 21:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "'pending', 'sending', 'sent', 'failed', 'gone', 'skipped'"


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_constraint("ck_delivery_state", type_="check")
        batch_op.create_check_constraint(
            "ck_delivery_state", f"state IN ({OLD_STATES}, 'withdrawn')"
        )


def downgrade() -> None:
    # The old constraint has no 'withdrawn': such a delivery was never sent and never will be,
    # which 'failed' says too; the note keeps why.
    op.execute(
        "UPDATE delivery SET state = 'failed',"
        " last_error = 'withdrawn: the warning was cancelled before it was sent'"
        " WHERE state = 'withdrawn'"
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_constraint("ck_delivery_state", type_="check")
        batch_op.create_check_constraint("ck_delivery_state", f"state IN ({OLD_STATES})")
