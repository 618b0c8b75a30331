"""Each uploader of a photo is recorded (photo_upload): a link shows a photo only once its author
has sent the bytes, so naming another person's hash no longer opens it

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "photo_upload",
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", backend.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["photo.sha256"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("sha256", "user_id"),
    )
    # Only the first uploader is known from before. A link made earlier to bytes another user
    # sent stays dark until its author uploads them: it cannot be told apart from the attack
    # this table closes.
    op.execute(
        "INSERT INTO photo_upload (sha256, user_id, uploaded_at) "
        "SELECT sha256, uploaded_by, uploaded_at FROM photo"
    )


def downgrade() -> None:
    op.drop_table("photo_upload")
