"""Contingency plans, protection targets and incidents

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 13:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.models.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
UTC = backend.models.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "contingency_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", S(length=200), nullable=False),
        sa.Column("incident_types", sa.JSON(), nullable=False),
        sa.Column("base_radius_m", sa.Integer(), nullable=False),
        sa.Column("radius_per_level_m", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "plan_role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("key", S(length=64), nullable=False),
        sa.Column("title", S(length=100), nullable=False),
        sa.Column("unit_level", S(length=16), nullable=False),
        sa.Column("position", S(length=32), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["contingency_plan.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "key", name="uq_plan_role_key"),
    )
    with op.batch_alter_table("plan_role", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_role_plan_id"), ["plan_id"], unique=False)
    op.create_table(
        "plan_task_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("title", S(length=200), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("manual", sa.Text(), nullable=False),
        sa.Column("risk_tips", sa.Text(), nullable=False),
        sa.Column("accept_minutes", sa.Integer(), nullable=False),
        sa.Column("complete_minutes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["contingency_plan.id"]),
        sa.ForeignKeyConstraint(["role_id"], ["plan_role.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plan_task_template", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plan_task_template_plan_id"), ["plan_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_plan_task_template_role_id"), ["role_id"], unique=False
        )
    op.create_table(
        "plan_target_kind",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("kind", S(length=32), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["contingency_plan.id"]),
        sa.PrimaryKeyConstraint("plan_id", "kind"),
    )
    op.create_table(
        "protection_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", S(length=32), nullable=False),
        sa.Column("name", S(length=200), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("address", S(length=300), nullable=False),
        sa.Column("unit_path", S(length=400), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "name", name="uq_protection_target_kind_name"),
    )
    with op.batch_alter_table("protection_target", schema=None) as batch_op:
        batch_op.create_index(
            "ix_protection_target_position", ["latitude", "longitude"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_protection_target_unit_path"), ["unit_path"], unique=False
        )
    op.create_table(
        "incident",
        sa.Column("id", S(length=36), nullable=False),
        sa.Column("incident_type", S(length=32), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("scale", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reported_by", sa.Integer(), nullable=False),
        sa.Column("unit_path", S(length=400), nullable=False),
        sa.Column("state", S(length=16), nullable=False),
        sa.Column("radius_m", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", UTC(timezone=True), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('draft', 'confirmed', 'closed')", name="ck_incident_state"),
        sa.ForeignKeyConstraint(["confirmed_by"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["plan_id"], ["contingency_plan.id"]),
        sa.ForeignKeyConstraint(["reported_by"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_type_created", ["incident_type", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_incident_unit_path"), ["unit_path"], unique=False)
    op.create_table(
        "incident_task",
        sa.Column("id", S(length=36), nullable=False),
        sa.Column("incident_id", S(length=36), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=True),
        sa.Column("role_title", S(length=100), nullable=False),
        sa.Column("title", S(length=200), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("manual", sa.Text(), nullable=False),
        sa.Column("risk_tips", sa.Text(), nullable=False),
        sa.Column("people", sa.JSON(), nullable=False),
        sa.Column("accept_minutes", sa.Integer(), nullable=False),
        sa.Column("complete_minutes", sa.Integer(), nullable=False),
        sa.Column("dropped", sa.Boolean(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("tier", S(length=16), nullable=False),
        sa.Column("due_at", UTC(timezone=True), nullable=True),
        sa.Column("fired", sa.JSON(), nullable=False),
        sa.Column("done_note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.ForeignKeyConstraint(["role_id"], ["plan_role.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incident_task", schema=None) as batch_op:
        batch_op.create_index("ix_incident_task_due", ["due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_incident_task_incident_id"), ["incident_id"], unique=False
        )
    op.create_table(
        "target_check",
        sa.Column("incident_id", S(length=36), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("note", S(length=500), nullable=False),
        sa.Column("at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.ForeignKeyConstraint(["target_id"], ["protection_target.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("incident_id", "target_id"),
    )
    # A task is a hazard's or an incident's: hazard_id may now be empty.
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.alter_column("hazard_id", existing_type=sa.String(length=36), nullable=True)
        batch_op.add_column(sa.Column("incident_id", S(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_task_incident_id"), ["incident_id"], unique=False)
        batch_op.create_foreign_key("fk_task_incident_id", "incident", ["incident_id"], ["id"])


def downgrade() -> None:
    # Incident tasks cannot live without their incident (and hazard_id NOT NULL again).
    op.execute(
        "DELETE FROM task_offer WHERE task_id IN (SELECT id FROM task WHERE incident_id IS NOT NULL)"
    )
    op.execute("DELETE FROM task WHERE incident_id IS NOT NULL")
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_constraint("fk_task_incident_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_task_incident_id"))
        batch_op.drop_column("incident_id")
        batch_op.alter_column("hazard_id", existing_type=sa.String(length=36), nullable=False)
    op.drop_table("target_check")
    with op.batch_alter_table("incident_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_task_incident_id"))
        batch_op.drop_index("ix_incident_task_due")
    op.drop_table("incident_task")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_unit_path"))
        batch_op.drop_index("ix_incident_type_created")
    op.drop_table("incident")
    with op.batch_alter_table("protection_target", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_protection_target_unit_path"))
        batch_op.drop_index("ix_protection_target_position")
    op.drop_table("protection_target")
    op.drop_table("plan_target_kind")
    with op.batch_alter_table("plan_task_template", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_task_template_role_id"))
        batch_op.drop_index(batch_op.f("ix_plan_task_template_plan_id"))
    op.drop_table("plan_task_template")
    with op.batch_alter_table("plan_role", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_role_plan_id"))
    op.drop_table("plan_role")
    op.drop_table("contingency_plan")
