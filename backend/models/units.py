"""Administrative units as one tree: city (市) → district (区) → street (街道) → grid (网格)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index
from sqlmodel import Field, SQLModel


class UnitLevel(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    GRID = "grid"


LEVEL_ORDER = (UnitLevel.CITY, UnitLevel.DISTRICT, UnitLevel.STREET, UnitLevel.GRID)


class Unit(SQLModel, table=True):
    """A node of the tree. `path` is the materialised chain of codes, `/420100/420107/…/`,
    so everything under a unit is one indexed prefix query."""

    __tablename__ = "unit"
    __table_args__ = (
        CheckConstraint("level IN ('city', 'district', 'street', 'grid')", name="ck_unit_level"),
        Index("ix_unit_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100)
    name_en: str = Field(default="", max_length=100)
    level: str = Field(max_length=16)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    path: str = Field(max_length=400)
    active: bool = Field(default=True)
    # The unit's outline on the risk map: a GeoJSON Polygon geometry ({"type", "coordinates"},
    # longitude first). Plain JSON rather than a spatial type, so SQLite and PostgreSQL store it
    # alike; nothing queries inside it, the map only draws it.
    boundary: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
