"""A processed mutation keeps what it answered, for a replay's `duplicate`: sync_mutation.result

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Mutations processed before keep no answer: their replays say `duplicate` alone, as before.
    op.add_column("sync_mutation", sa.Column("result", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_mutation") as batch:
        batch.drop_column("result")
