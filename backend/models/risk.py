"""Risk grading (风险分级): each enterprise's risk profile, its enforcement record (行政执法)
and its accidents (事故). The scoring itself is `backend/risk/scoring.py`."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index
from sqlmodel import Field, SQLModel

from backend.models.base import UTCDateTime, utcnow


class RiskColour(StrEnum):
    """Worst first; the order is used for comparisons ("did it get worse?")."""

    RED = "red"  # 重大风险
    ORANGE = "orange"  # 较大风险
    YELLOW = "yellow"  # 一般风险
    BLUE = "blue"  # 低风险


RISK_COLOURS = tuple(RiskColour)


class EnforcementKind(StrEnum):
    WARNING = "warning"  # 警告
    FINE = "fine"  # 罚款
    ORDER = "order"  # 责令整改 / 责令限期改正
    SUSPENSION = "suspension"  # 责令停产停业整顿
    LICENCE_REVOKED = "licence_revoked"  # 吊销许可证
    OTHER = "other"  # 其他


class AccidentLevel(StrEnum):
    GENERAL = "general"  # 一般事故
    LARGER = "larger"  # 较大事故
    MAJOR = "major"  # 重大事故
    ESPECIALLY_MAJOR = "especially_major"  # 特别重大事故


class RecordSource(StrEnum):
    OFFICER = "officer"  # entered on the page
    IMPORT = "import"  # from a CSV file


def _values(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum)


class RiskProfile(SQLModel, table=True):
    """One row per enterprise, rewritten whenever a factor changes (backend/risk/services.py)."""

    __tablename__ = "risk_profile"
    __table_args__ = (
        CheckConstraint(f"colour IN ({_values(RiskColour)})", name="ck_risk_profile_colour"),
        Index(
            "ix_risk_profile_unit_path",
            "unit_path",
            postgresql_ops={"unit_path": "varchar_pattern_ops"},
        ),
    )

    enterprise_id: int = Field(foreign_key="enterprise.id", primary_key=True)
    # The enterprise's grid path, so profiles are scoped by prefix like everything else.
    unit_path: str = Field(max_length=400)
    score: int
    colour: str = Field(max_length=8, index=True)
    # [{"factor": str, "points": int, "detail": {...}}]: what made the score.
    factors: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    scoring_version: int
    computed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    colour_since: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_inspected_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # Last inspection + the colour's interval; computed_at when never inspected (due now).
    inspection_due_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True)
    )


class RiskPending(SQLModel, table=True):
    """An enterprise whose facts changed and which awaits rescoring by the worker
    (backend/risk/jobs.py). Written in the changing transaction, one row per transaction and
    enterprise, never updated: a writer takes no lock on another writer's or the job's row, and
    the job deletes exactly the rows it read, so a change committed while it runs stays pending.
    """

    __tablename__ = "risk_pending"

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    since: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    # The moment the change happened when it was not now (the escalation sweep runs for a given
    # time): the rescoring uses the later of it and the time it runs.
    at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class EnforcementRecord(SQLModel, table=True):
    """An administrative enforcement decision (行政执法) against an enterprise."""

    __tablename__ = "enforcement_record"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_values(EnforcementKind)})", name="ck_enforcement_kind"),
        CheckConstraint(f"source IN ({_values(RecordSource)})", name="ck_enforcement_source"),
        Index(
            "ix_enforcement_record_unit_path",
            "unit_path",
            postgresql_ops={"unit_path": "varchar_pattern_ops"},
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    unit_path: str = Field(max_length=400)
    decided_on: date
    kind: str = Field(max_length=24)
    amount_yuan: int | None = Field(default=None)
    description: str = Field(default="", max_length=1000)
    source: str = Field(default=RecordSource.OFFICER, max_length=16)
    recorded_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Accident(SQLModel, table=True):
    """A production safety accident (生产安全事故) at an enterprise."""

    __tablename__ = "accident"
    __table_args__ = (
        CheckConstraint(f"level IN ({_values(AccidentLevel)})", name="ck_accident_level"),
        CheckConstraint(f"source IN ({_values(RecordSource)})", name="ck_accident_source"),
        CheckConstraint("deaths >= 0 AND injuries >= 0", name="ck_accident_casualties"),
        Index(
            "ix_accident_unit_path",
            "unit_path",
            postgresql_ops={"unit_path": "varchar_pattern_ops"},
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    unit_path: str = Field(max_length=400)
    occurred_on: date
    level: str = Field(max_length=24)
    deaths: int = Field(default=0)
    injuries: int = Field(default=0)
    description: str = Field(default="", max_length=1000)
    source: str = Field(default=RecordSource.OFFICER, max_length=16)
    recorded_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
