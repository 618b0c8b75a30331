"""Grid boundaries for the risk map

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 13:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A GeoJSON Polygon geometry per unit (grids first); nullable, drawn by the risk map.
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("boundary", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.drop_column("boundary")
