"""User administration (用户管理): the one place for its rules, shared by the admin pages and the CLI."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from backend.audit import Origin, record
from backend.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from backend.auth.policy import Principal, can_administer, can_manage_user_at
from backend.auth.services import end_sessions
from backend.enterprises import credit_code
from backend.errors import AppError
from backend.i18n import Translator
from backend.models import Enterprise, Role, Unit, User
from backend.units.services import get_unit
from backend.validation import text_problem

USERNAME = re.compile(r"[a-z0-9._-]{3,64}")
PHONE = re.compile(r"[0-9+\- ]{0,32}")
MAX_PASSWORD_LENGTH = 200
ROLES = frozenset(role.value for role in Role)
# A change of any of these changes what the user may see, so offline clients must re-pull.
SCOPE_FIELDS = frozenset({"role", "unit_id", "enterprise_id"})
CLI_ORIGIN = Origin(None, "gridsafe create-user")
CLI_OPTIONS = {
    "display_name": "--name",
    "role": "--role",
    "unit_id": "--unit",
    "enterprise": "--enterprise",
    "password": "--password",
}


@dataclass(frozen=True)
class UserInput:
    """What every new user needs: sign-in name, the name shown, role and a first password."""

    username: str
    display_name: str
    role: str
    password: str


@dataclass(frozen=True)
class UserChanges:
    """What an administrator may change on an existing user; the password has its own form."""

    display_name: str
    phone: str
    role: str
    unit_id: int | None
    credit_code: str
    active: bool


def _require_admin(principal: Principal) -> None:
    if not can_administer(principal):
        raise AppError("forbidden")


def _in_scope(principal: Principal | None, unit_path: str) -> bool:
    # The command line is run by the server's operator, who stands above every unit.
    return principal is None or can_manage_user_at(principal, unit_path)


def _placement(
    session: Session, principal: Principal | None, role: str, unit: Unit | None, code: str
) -> tuple[Unit | None, Enterprise | None, dict[str, str]]:
    """Where the user sits: an enterprise officer (企业安全员) in their enterprise's grid,
    everyone else in an active unit of the administrator's area."""
    code = credit_code.normalise(code)
    if role != Role.ENTERPRISE_OFFICER:
        if code:
            return None, None, {"enterprise": "user.enterprise_not_allowed"}
        if unit is None or not unit.active or not _in_scope(principal, unit.path):
            return None, None, {"unit_id": "user.unit"}
        return unit, None, {}
    if not code:
        return None, None, {"enterprise": "user.enterprise_required"}
    row = session.execute(
        select(Enterprise, Unit)
        .join(Unit, col(Unit.id) == col(Enterprise.grid_id))
        .where(col(Enterprise.credit_code) == code)
    ).one_or_none()
    if row is None or not row[0].active or not _in_scope(principal, row[1].path):
        return None, None, {"enterprise": "user.enterprise_unknown"}
    return row[1], row[0], {}


def _profile_errors(display_name: str, phone: str, role: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not display_name:
        errors["display_name"] = "required"
    elif len(display_name) > 100:
        errors["display_name"] = "too_long"
    elif text_problem(display_name):
        errors["display_name"] = "control_chars"
    if not PHONE.fullmatch(phone):
        errors["phone"] = "user.phone"
    if role not in ROLES:
        errors["role"] = "user.role"
    return errors


def _password_errors(password: str) -> dict[str, str]:
    if len(password) < MIN_PASSWORD_LENGTH:
        return {"password": "user.password_short"}
    if len(password) > MAX_PASSWORD_LENGTH:
        return {"password": "too_long"}
    return {}


def _username_errors(session: Session, username: str) -> dict[str, str]:
    if not USERNAME.fullmatch(username):
        return {"username": "user.username"}
    if session.execute(select(col(User.id)).where(col(User.username) == username)).first():
        return {"username": "user.username_taken"}
    return {}


def _create(
    session: Session,
    principal: Principal | None,
    data: UserInput,
    unit: Unit | None,
    code: str,
    phone: str,
    origin: Origin,
) -> User:
    # Sign-in lower-cases the name it is given, so names are stored that way.
    username = data.username.strip().lower()
    display_name, phone = data.display_name.strip(), phone.strip()
    placed, enterprise, placement_errors = _placement(session, principal, data.role, unit, code)
    errors = {
        **_username_errors(session, username),
        **_profile_errors(display_name, phone, data.role),
        **_password_errors(data.password),
        **placement_errors,
    }
    if errors or placed is None or placed.id is None:
        raise AppError("validation_failed", fields=errors)
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(data.password),
        role=data.role,
        unit_id=placed.id,
        enterprise_id=enterprise.id if enterprise else None,
        phone=phone,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        # Two administrators taking the same name at once: the unique index has the last word.
        session.rollback()
        raise AppError("validation_failed", fields={"username": "user.username_taken"}) from None
    record(
        session,
        origin,
        "user.created",
        "user",
        user.id,
        placed.path,
        username=username,
        role=data.role,
        unit=placed.code,
        enterprise_id=user.enterprise_id,
    )
    session.commit()
    return user


def create_user_by_codes(
    session: Session, data: UserInput, unit_code: str, credit_code: str | None
) -> User:
    """For `gridsafe create-user`: the same rules as the pages, without an area limit.
    Bad input raises ValueError with a plain English message for the terminal."""
    unit = session.execute(
        select(Unit).where(col(Unit.code) == unit_code.strip())
    ).scalar_one_or_none()
    if unit is None:
        raise ValueError(f"there is no unit with the code {unit_code!r}")
    try:
        return _create(session, None, data, unit, credit_code or "", "", CLI_ORIGIN)
    except AppError as error:
        english = Translator("en")
        problems = (
            f"{CLI_OPTIONS.get(name, name)}: {english(f'fields.{key}')}"
            for name, key in error.fields.items()
        )
        raise ValueError("; ".join(problems)) from None


def list_users(
    session: Session,
    principal: Principal,
    *,
    role: str = "",
    unit_id: int | None = None,
    query: str = "",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[tuple[User, Unit]], int]:
    """Users whose home unit lies in the administrator's area (or in `unit_id`'s subtree)."""
    _require_admin(principal)
    stmt = (
        select(User, Unit)
        .join(Unit, col(Unit.id) == col(User.unit_id))
        .where(col(Unit.path).startswith(principal.unit_path))
    )
    if unit_id is not None:
        stmt = stmt.where(col(Unit.path).startswith(get_unit(session, principal, unit_id).path))
    if role:
        stmt = stmt.where(col(User.role) == role)
    if query.strip():
        stmt = stmt.where(
            or_(
                col(User.username).contains(query.strip().lower(), autoescape=True),
                col(User.display_name).contains(query.strip(), autoescape=True),
            )
        )
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(
        stmt.order_by(col(Unit.path), col(User.username)).limit(limit).offset(offset)
    ).all()
    return [(user, unit) for user, unit in rows], int(total)


def get_user(session: Session, principal: Principal, user_id: int) -> tuple[User, Unit]:
    """Not found and not allowed look the same, so ids outside the area reveal nothing."""
    _require_admin(principal)
    row = session.execute(
        select(User, Unit)
        .join(Unit, col(Unit.id) == col(User.unit_id))
        .where(col(User.id) == user_id)
    ).one_or_none()
    if row is None or not can_manage_user_at(principal, row[1].path):
        raise AppError("not_found")
    return row[0], row[1]


def enterprise_of(session: Session, user: User) -> Enterprise | None:
    return session.get(Enterprise, user.enterprise_id) if user.enterprise_id else None


def create_user(
    session: Session,
    principal: Principal,
    data: UserInput,
    *,
    unit_id: int | None,
    credit_code: str,
    phone: str,
    origin: Origin,
) -> User:
    _require_admin(principal)
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    return _create(session, principal, data, unit, credit_code, phone, origin)


def update_user(
    session: Session, principal: Principal, user_id: int, changes: UserChanges, origin: Origin
) -> User:
    user, _ = get_user(session, principal, user_id)
    display_name, phone = changes.display_name.strip(), changes.phone.strip()
    unit = session.get(Unit, changes.unit_id) if changes.unit_id is not None else None
    placed, enterprise, placement_errors = _placement(
        session, principal, changes.role, unit, changes.credit_code
    )
    errors = {**_profile_errors(display_name, phone, changes.role), **placement_errors}
    if user.id == principal.id:
        # Demoting, moving or switching off one's own account could leave an area without
        # an administrator; another administrator has to do it.
        if changes.role != Role.ADMIN:
            errors["role"] = "user.not_yourself"
        if not changes.active:
            errors["active"] = "user.not_yourself"
        if placed is not None and placed.id != user.unit_id:
            errors["unit_id"] = "user.not_yourself"
    if errors or placed is None:
        raise AppError("validation_failed", fields=errors)
    wanted = {
        "display_name": display_name,
        "phone": phone,
        "role": changes.role,
        "unit_id": placed.id,
        "enterprise_id": enterprise.id if enterprise else None,
        "active": changes.active,
    }
    diff = {
        key: [getattr(user, key), value]
        for key, value in wanted.items()
        if getattr(user, key) != value
    }
    if not diff:
        return user
    for key, (_, value) in diff.items():
        setattr(user, key, value)
    if diff.keys() & SCOPE_FIELDS:
        user.scope_version += 1
    if "active" in diff and not user.active:
        # Requests already refuse inactive users; deleting the sessions as well means that
        # reactivating the account later does not revive a sign-in left on some phone.
        end_sessions(session, user_id)
    record(session, origin, "user.updated", "user", user_id, placed.path, changes=diff)
    session.commit()
    return user


def reset_password(
    session: Session, principal: Principal, user_id: int, password: str, origin: Origin
) -> User:
    """Set a new password and sign the user out everywhere, so a leaked one stops working."""
    user, unit = get_user(session, principal, user_id)
    errors = _password_errors(password)
    if errors:
        raise AppError("validation_failed", fields=errors)
    user.password_hash = hash_password(password)
    end_sessions(session, user_id)
    record(session, origin, "user.password_reset", "user", user_id, unit.path)
    session.commit()
    return user
