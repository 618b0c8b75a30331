"""Sign-in, sign-out and session lookup; sessions live in the database so sign-out is real."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, update
from sqlmodel import Session, col

from backend.audit import Origin, record
from backend.auth.passwords import verify_password
from backend.auth.policy import Principal, sign_in_allowed
from backend.errors import AppError
from backend.i18n import LOCALES
from backend.models import Role, SignInAttempt, Unit, User, UserSession, utcnow
from backend.models.base import UTCDateTime
from backend.settings import Settings
from backend.validation import text_problem


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _recent_failures(session: Session, since: datetime, column: Any, value: str) -> int:
    stmt = select(func.count()).where(
        column == value,
        SignInAttempt.succeeded.is_(False),
        SignInAttempt.at >= since,
    )
    return int(session.execute(stmt).scalar_one())


def sign_in(
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    origin: Origin,
    chosen_locale: str | None = None,
) -> str:
    """Check the password under the rate limit; return a new session token for the cookie.
    A language picked on the sign-in page (`chosen_locale`) becomes the account's if it has none
    yet, so that person's pushes and messages speak it too."""
    now = utcnow()
    username = username.strip().lower()
    if text_problem(username):
        # No account has such a name, and PostgreSQL could not even look for it.
        raise AppError("validation_failed", fields={"username": "control_chars"})
    since = now - timedelta(minutes=settings.sign_in_window_minutes)
    if not sign_in_allowed(
        _recent_failures(session, since, SignInAttempt.username, username),
        _recent_failures(session, since, SignInAttempt.ip, origin.ip),
        settings.sign_in_max_failures,
    ):
        raise AppError("rate_limited", {"minutes": settings.sign_in_window_minutes})
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password) and bool(
        user and user.active
    )
    session.add(SignInAttempt(at=now, username=username, ip=origin.ip, succeeded=ok))
    if not ok or user is None or user.id is None:
        session.commit()
        raise AppError("invalid_credentials")
    if user.locale is None and chosen_locale in LOCALES:
        user.locale = chosen_locale
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(hours=settings.session_hours),
            ip=origin.ip,
            user_agent=origin.device[:300],
        )
    )
    record(session, Origin(user.id, origin.device, origin.ip), "user.signed_in", "user", user.id)
    session.commit()
    return token


def set_locale(session: Session, user_id: int, locale: str) -> None:
    """The language switch, signed in: the account keeps the choice, so every page on any device,
    and every push, second-channel message and notice written for this person, is in it."""
    if locale not in LOCALES:
        raise AppError("validation_failed", fields={"lang": "choice"})
    session.execute(update(User).where(col(User.id) == user_id).values(locale=locale))
    session.commit()


def sign_out(session: Session, token: str) -> None:
    session.execute(delete(UserSession).where(UserSession.token_hash == _token_hash(token)))
    session.commit()


def end_sessions(session: Session, user_id: int) -> None:
    """Sign a user out on every device. The caller commits, together with the change (new
    password, deactivation) that made the old sign-ins unwelcome."""
    session.execute(delete(UserSession).where(col(UserSession.user_id) == user_id))


# Every request runs this query: built once, with bound parameters, so a request only binds
# and runs it (building and cache-keying the statement cost more than the query itself), and it
# reads plain columns instead of loading a User entity.
_PRINCIPAL = (
    select(
        User.id,
        User.username,
        User.display_name,
        User.role,
        User.unit_id,
        Unit.path,
        Unit.name,
        User.enterprise_id,
        User.locale,
        User.scope_version,
    )
    .join(UserSession, col(UserSession.user_id) == col(User.id))
    .join(Unit, col(Unit.id) == col(User.unit_id))
    .where(
        col(UserSession.token_hash) == bindparam("token_hash"),
        col(UserSession.expires_at) > bindparam("now", type_=UTCDateTime()),
        col(User.active).is_(True),
    )
)


def principal_for_token(session: Session | Connection, token: str) -> Principal | None:
    """The signed-in user behind a cookie, re-read on every request so a change of role,
    unit or a deactivation takes effect at once."""
    connection = session.connection() if isinstance(session, Session) else session
    row = connection.execute(
        _PRINCIPAL, {"token_hash": _token_hash(token), "now": utcnow()}
    ).one_or_none()
    if row is None:
        return None
    return Principal(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        unit_id=row.unit_id,
        unit_path=row.path,
        unit_name=row.name,
        enterprise_id=row.enterprise_id,
        locale=row.locale,
        scope_version=row.scope_version,
    )


def principal_of(user: User, unit_path: str, unit_name: str) -> Principal:
    assert user.id is not None
    return Principal(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        unit_id=user.unit_id,
        unit_path=unit_path,
        unit_name=unit_name,
        enterprise_id=user.enterprise_id,
        locale=user.locale,
        scope_version=user.scope_version,
    )


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Delete expired sessions and sign-in attempts older than a day; returns sessions removed."""
    now = now or utcnow()
    removed = session.execute(delete(UserSession).where(UserSession.expires_at <= now))
    session.execute(delete(SignInAttempt).where(SignInAttempt.at < now - timedelta(days=1)))
    session.commit()
    return int(removed.rowcount)
