"""An inspection's photo may arrive after the inspection, as a hazard's may: inspection_photo
no longer refers to photo

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString


def _table(with_photo_key: bool) -> sa.Table:
    """inspection_photo as 0004 made it, with or without its key to photo (SQLite rebuilds the
    table from this: the key had no name to drop it by)."""
    keys: list[sa.ForeignKeyConstraint] = [
        sa.ForeignKeyConstraint(["inspection_id"], ["inspection.id"]),
        sa.ForeignKeyConstraint(["item_id"], ["checklist_item.id"]),
    ]
    if with_photo_key:
        keys.append(sa.ForeignKeyConstraint(["sha256"], ["photo.sha256"]))
    return sa.Table(
        "inspection_photo",
        sa.MetaData(),
        sa.Column("inspection_id", AutoString(length=36), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("sha256", AutoString(length=64), nullable=False),
        *keys,
        sa.PrimaryKeyConstraint("inspection_id", "item_id", "sha256"),
        sa.Index("ix_inspection_photo_sha256", "sha256"),
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("inspection_photo_sha256_fkey", "inspection_photo", type_="foreignkey")
        return
    with op.batch_alter_table(
        "inspection_photo", recreate="always", copy_from=_table(with_photo_key=False)
    ):
        pass


def downgrade() -> None:
    # Links whose photo never arrived cannot stay under the key: they go, as 0004 would refuse them.
    op.execute("DELETE FROM inspection_photo WHERE sha256 NOT IN (SELECT sha256 FROM photo)")
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(
            "inspection_photo_sha256_fkey", "inspection_photo", "photo", ["sha256"], ["sha256"]
        )
        return
    with op.batch_alter_table(
        "inspection_photo", recreate="always", copy_from=_table(with_photo_key=True)
    ):
        pass
