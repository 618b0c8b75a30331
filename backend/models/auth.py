"""Server-side sign-in sessions and the sign-in attempts that rate limiting counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from backend.models.base import BigId, UTCDateTime, utcnow


class UserSession(SQLModel, table=True):
    """The cookie holds a random token; only its SHA-256 is stored, so a leaked table signs no one in."""

    __tablename__ = "user_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=300)


class SignInAttempt(SQLModel, table=True):
    __tablename__ = "sign_in_attempt"

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    username: str = Field(max_length=64, index=True)
    ip: str = Field(max_length=64, index=True)
    succeeded: bool
