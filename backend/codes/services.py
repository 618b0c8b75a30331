"""Codes in the database: what a token names, each code's state, rotation and revocation, and the
print sheet of a grid. The token rules themselves are in `qr/`; the permission rules in
`backend/auth/policy.py`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

import qr
from backend.audit import Origin, record
from backend.auth.policy import Principal, can_manage_codes, sees_enterprise, sees_unit
from backend.codes.keys import KINDS
from backend.errors import AppError
from backend.models import (
    CheckIn,
    CodeKind,
    Enterprise,
    Hazard,
    KeyPoint,
    QrCode,
    RiskProfile,
    Role,
    Unit,
    UnitLevel,
    User,
    utcnow,
)

# Hazard states that no longer need anything from the enterprise.
CLOSED_HAZARD_STATES = ("closed",)


@dataclass(frozen=True)
class Subject:
    """What a code names: an enterprise, or a key point and its enterprise; with its grid."""

    kind: CodeKind
    enterprise: Enterprise
    grid: Unit
    point: KeyPoint | None = None

    @property
    def id(self) -> int:
        subject = self.point if self.point is not None else self.enterprise
        assert subject.id is not None
        return subject.id

    @property
    def active(self) -> bool:
        return self.enterprise.active and (self.point is None or self.point.active)


# Every scan of a printed code runs these: built once, bound per request (see
# backend.riskviews.due._DUE for why).
_ENTERPRISE_SUBJECT = (
    select(Enterprise, Unit)
    .join(Unit, Unit.id == Enterprise.grid_id)
    .where(Enterprise.id == bindparam("subject_id"))
)
_POINT_SUBJECT = (
    select(KeyPoint, Enterprise, Unit)
    .join(Enterprise, Enterprise.id == KeyPoint.enterprise_id)
    .join(Unit, Unit.id == Enterprise.grid_id)
    .where(KeyPoint.id == bindparam("subject_id"))
)


def load_subject(session: Session, kind: CodeKind, subject_id: int) -> Subject | None:
    params = {"subject_id": subject_id}
    if kind is CodeKind.ENTERPRISE:
        row = session.execute(_ENTERPRISE_SUBJECT, params).one_or_none()
        return None if row is None else Subject(kind, row[0], row[1])
    row = session.execute(_POINT_SUBJECT, params).one_or_none()
    return None if row is None else Subject(kind, row[1], row[2], row[0])


def _state(row: QrCode | None, active: bool) -> qr.CodeState:
    state = qr.CodeState() if row is None else qr.CodeState(row.version, row.revoked)
    # An enterprise no longer supervised, or a point taken out, has no valid code.
    return state if active else replace(state, revoked=True)


class SqlCodeStates:
    """`qr.CodeStates` over the database; remembers the subjects it loaded for the caller."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.subjects: dict[tuple[CodeKind, int], Subject] = {}

    def code_state(self, kind: qr.Kind, subject_id: int) -> qr.CodeState | None:
        code_kind = next(k for k, v in KINDS.items() if v is kind)
        subject = load_subject(self.session, code_kind, subject_id)
        if subject is None:
            return None
        self.subjects[(code_kind, subject_id)] = subject
        row = self.session.get(QrCode, (code_kind.value, subject_id))
        return _state(row, subject.active)


@dataclass(frozen=True)
class Scan:
    verdict: qr.Verdict
    subject: Subject | None = None  # None when the code is forged


def resolve(session: Session, keyring: qr.Keyring, kind: CodeKind, token: str) -> Scan:
    """What a scanned token is worth. A token under the wrong prefix (a point's token at /e/) is
    treated as forged: nobody printed it there."""
    states = SqlCodeStates(session)
    verdict = qr.verify(token, keyring, states)
    if verdict.ref is not None and verdict.ref.kind is not KINDS[kind]:
        return Scan(qr.Verdict(qr.Status.FORGED, reason="kind"))
    if verdict.status is qr.Status.FORGED or verdict.ref is None:
        return Scan(verdict)
    return Scan(verdict, states.subjects[(kind, verdict.ref.subject_id)])


def states_of(session: Session, kind: CodeKind, ids: Sequence[int]) -> dict[int, QrCode]:
    if not ids:
        return {}
    rows = session.execute(
        select(QrCode).where(QrCode.kind == kind.value, QrCode.subject_id.in_(ids))
    ).scalars()
    return {row.subject_id: row for row in rows}


def code_state(session: Session, subject: Subject) -> qr.CodeState:
    return _state(session.get(QrCode, (subject.kind.value, subject.id)), subject.active)


def managed_subject(
    session: Session, principal: Principal, kind: CodeKind, subject_id: int
) -> Subject:
    """A subject the principal may print and change codes for; outside their area it is not found."""
    subject = load_subject(session, kind, subject_id)
    if subject is None or not sees_enterprise(
        principal, subject.enterprise.id or 0, subject.grid.path
    ):
        raise AppError("not_found")
    if not can_manage_codes(principal, subject.grid.path):
        raise AppError("forbidden")
    return subject


def current_version(session: Session, principal: Principal, kind: CodeKind, subject_id: int) -> int:
    """The version to print; a revoked code has nothing to print."""
    subject = managed_subject(session, principal, kind, subject_id)
    state = code_state(session, subject)
    if state.revoked:
        raise AppError("code_revoked")
    return state.version


def _ensure_row(session: Session, kind: CodeKind, subject_id: int) -> None:
    values = {
        "kind": kind.value,
        "subject_id": subject_id,
        "version": 1,
        "revoked": False,
        "updated_at": utcnow(),
    }
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(QrCode).values(**values).on_conflict_do_nothing())


def rotate(
    session: Session, principal: Principal, kind: CodeKind, subject_id: int, origin: Origin
) -> tuple[Subject, int]:
    """A new poster: the version goes up (so every older poster reads "replaced") and a revoked
    code is issued again. One UPDATE, so two people rotating at once get two versions."""
    subject = managed_subject(session, principal, kind, subject_id)
    _ensure_row(session, kind, subject_id)
    now = utcnow()
    version: int = session.execute(
        update(QrCode)
        .where(QrCode.kind == kind.value, QrCode.subject_id == subject_id)
        .values(
            version=QrCode.version + 1,
            revoked=False,
            replaced_at=now,
            updated_by=principal.id,
            updated_at=now,
        )
        .returning(QrCode.version)
    ).scalar_one()
    record(
        session,
        origin,
        "code.rotated",
        kind.value,
        subject_id,
        subject.grid.path,
        version=version,
        enterprise_id=subject.enterprise.id,
    )
    session.commit()
    return subject, version


def revoke(
    session: Session, principal: Principal, kind: CodeKind, subject_id: int, origin: Origin
) -> tuple[Subject, bool]:
    """Withdraw the code: every poster of it reads "revoked" until it is rotated (issued again).
    Revoking a revoked code changes nothing and records nothing."""
    subject = managed_subject(session, principal, kind, subject_id)
    _ensure_row(session, kind, subject_id)
    now = utcnow()
    version = session.execute(
        update(QrCode)
        .where(
            QrCode.kind == kind.value,
            QrCode.subject_id == subject_id,
            QrCode.revoked.is_(False),
        )
        .values(revoked=True, revoked_at=now, updated_by=principal.id, updated_at=now)
        .returning(QrCode.version)
    ).scalar_one_or_none()
    if version is not None:
        record(
            session,
            origin,
            "code.revoked",
            kind.value,
            subject_id,
            subject.grid.path,
            version=version,
            enterprise_id=subject.enterprise.id,
        )
    session.commit()
    return subject, version is not None


# The grid inspector (网格员) who answers for a grid: its first active one, by id.
_ACTIVE_INSPECTOR = (User.role == Role.GRID_INSPECTOR.value, User.active.is_(True))


def responsible_inspectors(session: Session, grid_ids: Sequence[int]) -> dict[int, User]:
    """The grid inspector of each grid, if there is one (_ACTIVE_INSPECTOR)."""
    rows = session.execute(
        select(User).where(User.unit_id.in_(grid_ids), *_ACTIVE_INSPECTOR).order_by(User.id)
    ).scalars()
    found: dict[int, User] = {}
    for user in rows:
        found.setdefault(user.unit_id, user)
    return found


@dataclass(frozen=True)
class PublicCard:
    """Everything a stranger with a phone camera may see. Nothing else goes to the public page:
    no credit code, address, contact person, position or hazard."""

    enterprise_id: int
    name: str
    industry: str
    risk: str | None  # the risk colour; None until graded: shown as "not graded"
    grid: str
    inspector_name: str
    inspector_phone: str
    point_name: str | None = None
    point_kind: str | None = None


def _grid_inspectors(column: Any) -> Any:
    """The grid's inspector (_ACTIVE_INSPECTOR), one column of them."""
    return (
        select(column)
        .where(User.unit_id == bindparam("grid_id"), *_ACTIVE_INSPECTOR)
        .order_by(User.id)
        .limit(1)
        .scalar_subquery()
    )


# The card's risk colour and inspector in one statement, built once: the busiest page of all,
# open to anyone with a camera.
_CARD = select(
    select(RiskProfile.colour)
    .where(RiskProfile.enterprise_id == bindparam("enterprise_id"))
    .scalar_subquery()
    .label("risk"),
    _grid_inspectors(User.display_name).label("name"),
    _grid_inspectors(User.phone).label("phone"),
)


def public_card(session: Session, subject: Subject) -> PublicCard:
    row = (
        session.connection()
        .execute(_CARD, {"enterprise_id": subject.enterprise.id, "grid_id": subject.grid.id})
        .one()
    )
    return PublicCard(
        enterprise_id=subject.enterprise.id or 0,
        name=subject.enterprise.name,
        industry=subject.enterprise.industry,
        risk=row.risk,
        grid=subject.grid.name,
        inspector_name=row.name or "",
        inspector_phone=row.phone or "",
        point_name=subject.point.name if subject.point else None,
        point_kind=subject.point.kind if subject.point else None,
    )


def open_hazards(session: Session, principal: Principal, enterprise_id: int) -> Sequence[Hazard]:
    """The enterprise's hazards still open, for its own safety officer only."""
    if principal.enterprise_id != enterprise_id:
        raise AppError("not_found")
    stmt = (
        select(Hazard)
        .where(
            Hazard.enterprise_id == principal.enterprise_id,
            Hazard.state.not_in(CLOSED_HAZARD_STATES),
        )
        .order_by((Hazard.severity == "major").desc(), Hazard.reported_at.desc())
        .limit(50)
    )
    return session.execute(stmt).scalars().all()


def last_check_in(session: Session, principal: Principal, enterprise_id: int) -> CheckIn | None:
    return (
        session.execute(
            select(CheckIn)
            .where(CheckIn.user_id == principal.id, CheckIn.enterprise_id == enterprise_id)
            .order_by(CheckIn.at.desc())
            .limit(1)
        )
        .scalars()
        .first()
    )


@dataclass
class Label:
    point: KeyPoint
    version: int
    revoked: bool


@dataclass
class Poster:
    enterprise: Enterprise
    version: int
    revoked: bool
    labels: list[Label] = field(default_factory=list)


@dataclass
class Sheet:
    grid: Unit
    inspector: User | None
    posters: list[Poster]

    @property
    def revoked(self) -> int:
        return sum(p.revoked for p in self.posters) + sum(
            label.revoked for p in self.posters for label in p.labels
        )


def grids_to_print(session: Session, principal: Principal) -> Sequence[Any]:
    """The grids whose codes the principal may print, with their enterprise counts."""
    if not can_manage_codes(principal, principal.unit_path):
        return []
    stmt = (
        select(Unit, func.count(Enterprise.id).label("enterprises"))
        .outerjoin(Enterprise, (Enterprise.grid_id == Unit.id) & Enterprise.active.is_(True))
        .where(Unit.level == UnitLevel.GRID.value, Unit.path.startswith(principal.unit_path))
        .group_by(Unit.id)
        .order_by(Unit.path)
    )
    return session.execute(stmt).all()


def print_sheet(session: Session, principal: Principal, grid_id: int) -> Sheet:
    """One poster per active enterprise of the grid and a label per active key point."""
    grid = session.get(Unit, grid_id)
    if grid is None or grid.level != UnitLevel.GRID or not sees_unit(principal, grid.path):
        raise AppError("not_found")
    if not can_manage_codes(principal, grid.path):
        raise AppError("forbidden")
    enterprises = (
        session.execute(
            select(Enterprise)
            .where(Enterprise.grid_id == grid_id, Enterprise.active.is_(True))
            .order_by(Enterprise.name, Enterprise.id)
        )
        .scalars()
        .all()
    )
    ids = [e.id for e in enterprises if e.id is not None]
    points = (
        session.execute(
            select(KeyPoint)
            .where(KeyPoint.enterprise_id.in_(ids), KeyPoint.active.is_(True))
            .order_by(KeyPoint.enterprise_id, KeyPoint.name, KeyPoint.id)
        )
        .scalars()
        .all()
        if ids
        else []
    )
    enterprise_states = states_of(session, CodeKind.ENTERPRISE, ids)
    point_states = states_of(session, CodeKind.POINT, [p.id for p in points if p.id is not None])
    posters: dict[int, Poster] = {}
    for enterprise in enterprises:
        assert enterprise.id is not None
        state = _state(enterprise_states.get(enterprise.id), True)
        posters[enterprise.id] = Poster(enterprise, state.version, state.revoked)
    for point in points:
        assert point.id is not None
        state = _state(point_states.get(point.id), True)
        posters[point.enterprise_id].labels.append(Label(point, state.version, state.revoked))
    inspector = responsible_inspectors(session, [grid_id]).get(grid_id)
    return Sheet(grid, inspector, list(posters.values()))


def enterprise_codes(session: Session, principal: Principal, enterprise_id: int) -> dict[str, Any]:
    """An enterprise's code and its points' codes, for the page that rotates and revokes them."""
    subject = managed_subject(session, principal, CodeKind.ENTERPRISE, enterprise_id)
    points = (
        session.execute(
            select(KeyPoint)
            .where(KeyPoint.enterprise_id == enterprise_id, KeyPoint.active.is_(True))
            .order_by(KeyPoint.name, KeyPoint.id)
        )
        .scalars()
        .all()
    )
    point_rows = states_of(session, CodeKind.POINT, [p.id for p in points if p.id is not None])
    return {
        "enterprise": subject.enterprise,
        "grid": subject.grid,
        "code": session.get(QrCode, (CodeKind.ENTERPRISE.value, enterprise_id)),
        "state": code_state(session, subject),
        "points": [
            (point, point_rows.get(point.id or 0), _state(point_rows.get(point.id or 0), True))
            for point in points
        ],
    }
