"""Sending, acknowledging and re-notifying warnings. Each operation works in the caller's
transaction; notifications go through the push outbox and leave only after the commit
(the listener in backend/tasks/notices.py queues them)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, case, func, insert, or_, select, update
from sqlmodel import Session

from backend.auth.policy import Principal
from backend.db import settings_of
from backend.i18n import Translator
from backend.models import (
    AckVia,
    Delivery,
    DeliveryState,
    Notification,
    Role,
    SafetyWarning,
    Unit,
    User,
    WarningRecipient,
    WarningState,
)
from backend.offline import changes
from backend.push import outbox
from backend.tasks.notices import PENDING_KEY
from backend.warnings.cap import Area
from backend.warnings.targeting import Targeting, audience
from sync import Rejected, Write

W: Table = SafetyWarning.__table__  # type: ignore[attr-defined]
R: Table = WarningRecipient.__table__  # type: ignore[attr-defined]
D: Table = Delivery.__table__  # type: ignore[attr-defined]
N: Table = Notification.__table__  # type: ignore[attr-defined]
# The notifications that sound the alarm; a cancellation withdraws what of them has not left.
ALARM_KINDS = ("warning.sent", "warning.renotified")
SENDER_ROLES = frozenset({Role.CITY_OFFICER, Role.DISTRICT_OFFICER})


def can_send(principal: Principal) -> bool:
    """Warnings are published by the city and district tiers (市、区), never below."""
    return principal.role in SENDER_ROLES


def can_manage(principal: Principal, warning_path: str) -> bool:
    """The sender's tier and anyone above it in the same area may follow and re-notify."""
    return can_send(principal) and warning_path.startswith(principal.unit_path)


@dataclass(frozen=True)
class Draft:
    title: str
    level: str
    body: str
    instructions: str
    valid_until: datetime
    targeting: Targeting


def _messages(
    session: Session,
    warning: SafetyWarning,
    people: Sequence[int],
    kind: str,
    *,
    reason: str | None = None,
) -> list[dict[str, Any]]:
    """One notification per person, in their language: the warning with the acknowledge
    action, or (with `reason`) that it was cancelled and why, with nothing to acknowledge."""
    settings = settings_of(session)
    default = settings.default_locale if settings else "zh"
    translators: dict[str, Translator] = {}
    messages = []
    for start in range(0, len(people), 5000):  # stay under the databases' parameter limits
        chunk = people[start : start + 5000]
        rows = session.execute(select(User.id, User.locale).where(User.id.in_(chunk))).all()  # type: ignore[union-attr]
        for user_id, locale in rows:
            t = translators.setdefault(locale or default, Translator(locale or default))
            level = t(f"warnings.levels.{warning.level}")
            body, actions = warning.body, [{"action": "ack", "title": t("warnings.ack")}]
            if reason is not None:
                body, actions = t("warnings.cancel_notice", reason=reason), []
            messages.append(
                {
                    "user_id": int(user_id),
                    "kind": kind,
                    "title": t(f"warnings.notify.{kind}", level=level, title=warning.title),
                    "body": body,
                    "url": f"/warnings/{warning.id}",
                    "data": {"warning_id": warning.id},
                    "actions": actions,
                }
            )
    return messages


def _queue(session: Session, messages: list[dict[str, Any]]) -> None:
    session.info.setdefault(PENDING_KEY, []).extend(outbox.notify_many(session, messages))


def send(session: Session, principal: Principal, draft: Draft, now: datetime) -> SafetyWarning:
    """The warning, one row per recipient and their notifications, all in one transaction."""
    if not can_send(principal):
        raise Rejected("warnings.role")
    recipients = session.execute(audience(session, principal.unit_path, draft.targeting)).all()
    if not recipients:
        raise Rejected("warnings.nobody")
    warning = SafetyWarning(
        id=str(uuid.uuid4()),
        title=draft.title,
        level=draft.level,
        body=draft.body,
        instructions=draft.instructions,
        valid_until=draft.valid_until,
        sender_id=principal.id,
        unit_path=principal.unit_path,
        targeting=draft.targeting.as_json(),
        recipients=len(recipients),
        sent_at=now,
        state=WarningState.SENT.value,
    )
    session.add(warning)
    session.flush()
    session.execute(
        insert(R),
        [
            {
                "warning_id": warning.id,
                "user_id": int(user_id),
                "unit_path": path,
                "notified_at": now,
                "renotified": 0,
            }
            for user_id, path in recipients
        ],
    )
    people = [int(user_id) for user_id, _ in recipients]
    _queue(session, _messages(session, warning, people, "warning.sent"))
    changes.store(
        session,
        [
            changes.event(
                principal.id,
                "warning.sent",
                "warning",
                warning.id,
                warning.unit_path,
                level=warning.level,
                recipients=len(people),
            )
        ],
    )
    return warning


def acknowledge(
    session: Session, principal: Principal, warning_id: str, via: AckVia, at: datetime
) -> list[Write]:
    """Counted once whoever asks how often: the conditional UPDATE lets exactly one through.
    Someone the warning did not go to is told it does not exist."""
    warning_id = warning_id.lower()[:36]
    standing = select(W.c.id).where(W.c.id == warning_id, W.c.cancelled_at.is_(None))
    done = session.execute(
        update(R)
        .where(
            R.c.warning_id == warning_id,
            R.c.user_id == principal.id,
            R.c.acknowledged_at.is_(None),
            R.c.warning_id.in_(standing),
        )
        .values(acknowledged_at=at, ack_via=via.value)
    )
    if done.rowcount == 1:  # type: ignore[attr-defined]
        path = session.execute(
            select(R.c.unit_path).where(R.c.warning_id == warning_id, R.c.user_id == principal.id)
        ).scalar_one()
        return [
            changes.event(
                principal.id, "warning.acknowledged", "warning", warning_id, path, via=via.value
            )
        ]
    mine = session.execute(
        select(W.c.cancelled_at)
        .join(R, R.c.warning_id == W.c.id)
        .where(R.c.warning_id == warning_id, R.c.user_id == principal.id)
    ).first()
    if mine is None:
        raise Rejected("warnings.not_found")
    if mine.cancelled_at is not None:
        raise Rejected("warnings.cancelled")
    return []  # acknowledged already (another tab, the notification, the outbox)


def renotify(session: Session, principal: Principal, warning_id: str, now: datetime) -> int:
    """Notify again everyone who has not acknowledged; returns how many. Never for a
    cancelled warning: reminding people of a withdrawn alarm would undo the cancellation."""
    warning = managed(session, principal, warning_id, "warnings.renotify_forbidden")
    if warning.cancelled_at is not None:
        raise Rejected("warnings.renotify_cancelled")
    pending = [
        int(user_id)
        for user_id in session.execute(
            select(R.c.user_id).where(R.c.warning_id == warning.id, R.c.acknowledged_at.is_(None))
        ).scalars()
    ]
    if not pending:
        return 0
    session.execute(
        update(R)
        .where(R.c.warning_id == warning.id, R.c.acknowledged_at.is_(None))
        .values(renotified=R.c.renotified + 1, notified_at=now)
    )
    _queue(session, _messages(session, warning, pending, "warning.renotified"))
    changes.store(
        session,
        [
            changes.event(
                principal.id,
                "warning.renotified",
                "warning",
                warning.id,
                warning.unit_path,
                recipients=len(pending),
            )
        ],
    )
    return len(pending)


def cancellable(session: Session, principal: Principal, warning_id: str) -> SafetyWarning:
    """The warning if this person may cancel it now; refused otherwise, most telling first."""
    warning = managed(session, principal, warning_id, "warnings.cancel_forbidden")
    if warning.cancelled_at is not None:
        raise Rejected("warnings.already_cancelled")
    return warning


def cancel(
    session: Session, principal: Principal, warning_id: str, reason: str, now: datetime
) -> SafetyWarning:
    """Withdraw a sent warning (a false alarm, 撤销) and tell everyone it went to, why.
    Only one request ever cancels: the UPDATE is conditional on the warning not being
    cancelled yet, so a double press or a second officer is answered `already_cancelled`
    and nobody is notified twice. Permission as for sending, over the warning's area.
    The alarm's pushes still waiting to leave are withdrawn in the same transaction."""
    warning = cancellable(session, principal, warning_id)
    done = session.execute(
        update(W)
        .where(W.c.id == warning.id, W.c.cancelled_at.is_(None))
        .values(
            cancelled_at=now,
            cancelled_by=principal.id,
            cancel_reason=reason,
            state=WarningState.CANCELLED.value,
        )
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Rejected("warnings.already_cancelled")
    session.refresh(warning)
    _withdraw_alarms(session, warning)
    people = [
        int(user_id)
        for user_id in session.execute(
            select(R.c.user_id).where(R.c.warning_id == warning.id)
        ).scalars()
    ]
    _queue(session, _messages(session, warning, people, "warning.cancelled", reason=reason))
    changes.store(
        session,
        [
            changes.event(
                principal.id,
                "warning.cancelled",
                "warning",
                warning.id,
                warning.unit_path,
                reason=reason,
                recipients=len(people),
            )
        ],
    )
    return warning


def _withdraw_alarms(session: Session, warning: SafetyWarning) -> None:
    """Stop the alarm's pushes that are still in the outbox (the broker was down, a retry is
    scheduled, a worker holds one), with one UPDATE in the cancel's transaction: the worker
    claims only pending rows and records its answer only on rows it still holds, so a phone
    never gets the alarm after the cancel notice, and an attempt that fails is never tried
    again. One a worker is handing to the push service right now may still arrive (the notice,
    queued after it, replaces it on the phone; sw.js) and stays recorded as withdrawn."""
    alarms = select(N.c.id).where(
        N.c.user_id.in_(select(R.c.user_id).where(R.c.warning_id == warning.id)),
        N.c.kind.in_(ALARM_KINDS),
        N.c.data["warning_id"].as_string() == warning.id,
    )
    session.execute(
        update(D)
        .where(
            D.c.notification_id.in_(alarms),
            D.c.state.in_([DeliveryState.PENDING.value, DeliveryState.SENDING.value]),
        )
        .values(
            state=DeliveryState.WITHDRAWN.value,
            next_attempt_at=None,
            last_error="withdrawn: the warning was cancelled",
        )
    )


def cancellers(session: Session, warnings: Sequence[SafetyWarning]) -> dict[int, str]:
    """The display names of who cancelled these warnings, for the pages."""
    ids = {w.cancelled_by for w in warnings if w.cancelled_by is not None}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()  # type: ignore[union-attr]
    return {int(user_id): str(name) for user_id, name in rows}


def _may_see(principal: Principal) -> ColumnElement[bool]:
    """Who may see a warning, as a condition on the warning joined to this person's own
    recipient row: someone it went to, or a sender over its area (can_manage)."""
    went_to_them = R.c.user_id.is_not(None)
    if not can_send(principal):
        return went_to_them
    return or_(went_to_them, W.c.unit_path.startswith(principal.unit_path, autoescape=True))


def visible(
    session: Session, principal: Principal, warning_id: str
) -> tuple[SafetyWarning, WarningRecipient | None]:
    """The warning and this person's own row (None for a sender it did not go to). Anyone who
    may not see it is refused `not_found`, exactly as for an id that does not exist: every
    route asks this first, so none of them tells the two apart."""
    row = session.execute(
        select(SafetyWarning, WarningRecipient)
        .outerjoin(
            WarningRecipient,
            and_(R.c.warning_id == W.c.id, R.c.user_id == principal.id),
        )
        .where(W.c.id == warning_id.lower()[:36], _may_see(principal))
    ).first()
    if row is None:
        raise Rejected("warnings.not_found")
    return row[0], row[1]


def managed(
    session: Session, principal: Principal, warning_id: str, forbidden: str
) -> SafetyWarning:
    """The warning if this person may act for its sender's tier (re-notify, cancel). Someone
    who may see it but not act for it (it went to them) is refused with `forbidden`: the
    warning is no secret to them, so the truer answer does not leak anything."""
    warning, _ = visible(session, principal, warning_id)
    if not can_manage(principal, warning.unit_path):
        raise Rejected(forbidden)
    return warning


def withdrawn_alarms(session: Session, notifications: Sequence[Notification]) -> set[int]:
    """Which of these inbox entries sounded the alarm of a warning cancelled since: the inbox
    shows them as cancelled, so the alarm does not look live beside its cancel notice."""
    alarms = {
        int(n.id): str(n.data["warning_id"])
        for n in notifications
        if n.id is not None and n.kind in ALARM_KINDS and n.data.get("warning_id")
    }
    if not alarms:
        return set()
    cancelled = set(
        session.execute(
            select(W.c.id).where(W.c.id.in_(set(alarms.values())), W.c.cancelled_at.is_not(None))
        ).scalars()
    )
    return {notification for notification, warning in alarms.items() if warning in cancelled}


def inbox(session: Session, principal: Principal, limit: int = 50) -> list[Any]:
    return list(
        session.execute(
            select(SafetyWarning, WarningRecipient)
            .join(WarningRecipient, WarningRecipient.warning_id == SafetyWarning.id)  # type: ignore[arg-type]
            .where(WarningRecipient.user_id == principal.id)
            .order_by(SafetyWarning.sent_at.desc())  # type: ignore[attr-defined]
            .limit(limit)
        ).all()
    )


def sent(session: Session, principal: Principal, limit: int = 50) -> list[SafetyWarning]:
    if not can_send(principal):
        return []
    return list(
        session.execute(
            select(SafetyWarning)
            .where(W.c.unit_path.startswith(principal.unit_path, autoescape=True))
            .order_by(SafetyWarning.sent_at.desc())  # type: ignore[attr-defined]
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True)
class Rate:
    unit_name: str
    path: str
    people: int
    acknowledged: int
    renotified: int

    @property
    def percent(self) -> int:
        return round(100 * self.acknowledged / self.people) if self.people else 0


def rates(session: Session, warning: SafetyWarning) -> tuple[Rate, list[Rate]]:
    """Acknowledgements in total and per unit one tier below the sender (per district for the
    city, per street for a district)."""
    rows = session.execute(
        select(
            R.c.unit_path,
            func.count(),
            func.count(R.c.acknowledged_at),
            func.sum(case((R.c.renotified > 0, 1), else_=0)),
        )
        .where(R.c.warning_id == warning.id)
        .group_by(R.c.unit_path)
    ).all()
    # "/420100/" splits into 3 parts; a unit one tier below is the first 4 of its path's parts.
    depth = warning.unit_path.count("/") + 1
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for path, people, acked, renotified in rows:
        parts = str(path).split("/")
        key = "/".join(parts[:depth]) + "/" if len(parts) > depth else str(path)
        for i, value in enumerate((people, acked, renotified or 0)):
            totals[key][i] += int(value)
    names = dict(
        session.execute(select(Unit.path, Unit.name).where(Unit.path.in_(list(totals)))).all()  # type: ignore[attr-defined]
    )
    per_unit = [
        Rate(names.get(path, path), path, *values) for path, values in sorted(totals.items())
    ]
    overall = Rate(
        "",
        warning.unit_path,
        sum(r.people for r in per_unit),
        sum(r.acknowledged for r in per_unit),
        sum(r.renotified for r in per_unit),
    )
    return overall, per_unit


def cap_area(db: Session, warning: SafetyWarning) -> Area:
    """The CAP area: the targeted units' names (or the sender's unit) and the circle, if any."""
    targeting = warning.targeting
    ids = [int(i) for i in targeting.get("unit_ids") or []]
    query = select(Unit.name, Unit.name_en, Unit.path)
    query = (
        query.where(Unit.id.in_(ids))  # type: ignore[union-attr]
        if ids
        else query.where(Unit.path == warning.unit_path)
    )
    rows = [
        r for r in db.execute(query.order_by(Unit.path)).all() if r[2].startswith(warning.unit_path)
    ]
    near = targeting.get("near")
    circle = (near["latitude"], near["longitude"], near["radius_km"]) if near else None
    return Area(
        {"zh": "、".join(r[0] for r in rows), "en": ", ".join(r[1] or r[0] for r in rows)}, circle
    )
