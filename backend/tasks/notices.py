"""Who the closed loop tells what, in their own language. Notifications are written in the same
transaction as the change they announce (a transactional outbox) and handed to the delivery
workers only once that transaction has committed: a rolled-back assignment notifies nobody."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import event, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from backend.db import settings_of
from backend.escalation.clocks import tier_path
from backend.i18n import Translator
from backend.models import Enterprise, Hazard, Role, Severity, Task, Tier, Unit, User
from backend.push import outbox
from backend.timezone import format_local, zone_for
from backend.units.names import unit_label

PENDING_KEY = "gridsafe.notifications"


def _place(session: Session, hazard: Hazard) -> tuple[str, str]:
    """Where the hazard is, as (name, English name): its enterprise (which has one name only),
    or its grid."""
    if hazard.enterprise_id is not None:
        name = session.execute(
            select(Enterprise.name).where(Enterprise.id == hazard.enterprise_id)
        ).scalar()
        if name:
            return str(name), ""
    row = session.execute(
        select(Unit.name, Unit.name_en).where(Unit.id == hazard.grid_id)
    ).one_or_none()
    return (str(row[0]), str(row[1] or "")) if row else ("", "")


def _when(session: Session, moment: datetime) -> str:
    """Local wall-clock time, as the pages show it: a push is read on a phone, not a server."""
    return format_local(moment, zone_for(settings_of(session)), "%m-%d %H:%M")


# Kinds whose own title already says the hazard is major (挂牌督办, 复核).
_TITLE_SAYS_MAJOR = frozenset({"hazard.supervised", "hazard.verified"})


def headline(t: Translator, kind: str, severity: str, values: Mapping[str, Any]) -> str:
    """A notification's title. About a major hazard it says so first (【重大隐患】): on a lock
    screen full of tasks, the title is all a responder reads before choosing what to open."""
    title = t(f"notify.{kind}.title", **values)
    if severity == Severity.MAJOR and kind not in _TITLE_SAYS_MAJOR:
        return t("notify.major", title=title)
    return title


def send(
    session: Session,
    user_ids: Iterable[int],
    kind: str,
    hazard: Hazard,
    url: str,
    *,
    task_id: str | None = None,
    actions: Sequence[str] = (),
    **params: Any,
) -> None:
    """One notification per person, titled and worded in their language."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    settings = settings_of(session)
    default = settings.default_locale if settings else "zh"
    by_locale: dict[str, list[int]] = defaultdict(list)
    for user_id, locale in session.execute(
        select(User.id, User.locale).where(User.id.in_(ids), User.active.is_(True))
    ).all():
        by_locale[locale or default].append(user_id)
    place, place_en = _place(session, hazard)
    notification_ids: list[int] = []
    for locale, people in by_locale.items():
        t = Translator(locale)
        values = {
            "place": unit_label(place, place_en, locale),
            **params,
            "category": t(f"categories.{hazard.category}"),
        }
        notification_ids += outbox.notify(
            session,
            user_ids=people,
            kind=kind,
            title=headline(t, kind, hazard.severity, values),
            body=t(f"notify.{kind}.body", **values),
            url=url,
            data={"task_id": task_id, "hazard_id": hazard.id},
            actions=[
                {"action": action, "title": t(f"notify.action.{action}")} for action in actions
            ],
            hazard_id=hazard.id,
            task_id=task_id,
        )
    session.info.setdefault(PENDING_KEY, []).extend(notification_ids)


class Named(Protocol):
    """What a notification needs of a hazard: a Hazard, or a row with these columns."""

    id: str
    severity: str
    category: str
    enterprise_id: int | None
    grid_id: int


def send_many(
    session: Session, items: Sequence[tuple[Sequence[int], str, Named, str, dict[str, Any]]]
) -> None:
    """`send` for a batch of (people, kind, hazard, url, params), as the escalation sweep makes:
    the people's languages and the places' names are read once, the rows written at once."""
    wanted = sorted({user_id for people, *_ in items for user_id in people})
    if not wanted:
        return
    settings = settings_of(session)
    default = settings.default_locale if settings else "zh"
    locales = {
        int(user_id): locale or default
        for user_id, locale in session.execute(
            select(User.id, User.locale).where(User.id.in_(wanted), User.active.is_(True))
        ).all()
    }
    hazards = [hazard for _, _, hazard, _, _ in items]
    enterprise_ids = {h.enterprise_id for h in hazards if h.enterprise_id is not None}
    enterprises = (
        dict(
            session.execute(
                select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(enterprise_ids))
            ).all()
        )
        if enterprise_ids
        else {}
    )
    grids = {
        unit_id: (name, name_en)
        for unit_id, name, name_en in session.execute(
            select(Unit.id, Unit.name, Unit.name_en).where(
                Unit.id.in_({h.grid_id for h in hazards})
            )
        ).all()
    }
    translators: dict[str, Translator] = {}
    messages: list[dict[str, Any]] = []
    for people, kind, hazard, url, params in items:
        enterprise = enterprises.get(hazard.enterprise_id)
        place, place_en = (enterprise, "") if enterprise else grids.get(hazard.grid_id, ("", ""))
        for user_id in sorted(set(people)):
            locale = locales.get(user_id)
            if locale is None:
                continue  # not (or no longer) active
            t = translators.setdefault(locale, Translator(locale))
            values = {
                "place": unit_label(str(place), place_en, locale),
                **params,
                "category": t(f"categories.{hazard.category}"),
            }
            if params.get("reason_code"):
                # A rule's reason (accept_overdue …) in the reader's words, not the code.
                values["reason"] = t(f"esc.reasons.{params['reason_code']}")
            messages.append(
                {
                    "user_id": user_id,
                    "kind": kind,
                    "title": headline(t, kind, hazard.severity, values),
                    "body": t(f"notify.{kind}.body", **values),
                    "url": url,
                    "data": {"task_id": None, "hazard_id": hazard.id},
                    "hazard_id": hazard.id,
                }
            )
    session.info.setdefault(PENDING_KEY, []).extend(outbox.notify_many(session, messages))


def task_offered(
    session: Session, hazard: Hazard, task_id: str, user_ids: Sequence[int], accept_by: datetime
) -> None:
    send(
        session,
        user_ids,
        "task.offered",
        hazard,
        f"/tasks/{task_id}",
        task_id=task_id,
        actions=("accept", "decline"),
        deadline=_when(session, accept_by),
    )


def task_withdrawn(session: Session, hazard: Hazard, user_ids: Sequence[int]) -> None:
    send(session, user_ids, "task.withdrawn", hazard, "/tasks")


def task_taken(
    session: Session, hazard: Hazard, task_id: str, user_ids: Sequence[int], holder: str
) -> None:
    send(session, user_ids, "task.taken", hazard, f"/tasks/{task_id}", task_id=task_id, by=holder)


def task_declined(
    session: Session, hazard: Hazard, dispatcher_id: int, who: str, reason: str
) -> None:
    send(
        session,
        [dispatcher_id],
        "task.declined",
        hazard,
        f"/hazards/{hazard.id}",
        by=who,
        reason=reason,
    )


def report_returned(session: Session, hazard: Hazard, reason: str) -> None:
    send(
        session,
        [hazard.reported_by],
        "hazard.dismissed",
        hazard,
        f"/hazards/{hazard.id}",
        reason=reason,
    )


def verification_wanted(session: Session, hazard: Hazard) -> None:
    """The grid's inspectors verify on site."""
    inspectors = session.execute(
        select(User.id).where(
            User.unit_id == hazard.grid_id,
            User.role == Role.GRID_INSPECTOR.value,
            User.active.is_(True),
        )
    ).scalars()
    send(session, inspectors, "hazard.rectified", hazard, f"/hazards/{hazard.id}")


def confirmation_wanted(session: Session, hazard: Hazard) -> None:
    """A major hazard's second confirmation: the street's dispatchers."""
    street = tier_path(hazard.unit_path, Tier.STREET)
    dispatchers = session.execute(
        select(User.id)
        .join(Unit, Unit.id == User.unit_id)
        .where(
            Unit.path == street,
            User.role == Role.STREET_DISPATCHER.value,
            User.active.is_(True),
        )
    ).scalars()
    send(session, dispatchers, "hazard.verified", hazard, f"/hazards/{hazard.id}")


def hazard_closed(session: Session, hazard: Hazard) -> None:
    holders = session.execute(
        select(Task.accepted_by).where(Task.hazard_id == hazard.id, Task.accepted_by.is_not(None))
    ).scalars()
    people = {hazard.reported_by, *(user_id for user_id in holders if user_id is not None)}
    send(session, people, "hazard.closed", hazard, f"/hazards/{hazard.id}")


def sent_back(session: Session, hazard: Hazard, task: Task, reason: str) -> None:
    people: list[int] = [task.accepted_by] if task.accepted_by else []
    send(
        session,
        people,
        "hazard.returned",
        hazard,
        f"/tasks/{task.id}",
        task_id=task.id,
        reason=reason,
    )


def mark_accepted(session: Session, user_id: int, task_id: str) -> None:
    outbox.mark(session, user_id=user_id, event="accepted", task_id=task_id)


@event.listens_for(OrmSession, "after_commit")
def _deliver_after_commit(session: OrmSession) -> None:
    ids = session.info.pop(PENDING_KEY, None)
    settings = settings_of(session)
    if ids and settings is not None:
        outbox.send_after_commit(settings, ids)


@event.listens_for(OrmSession, "after_rollback")
def _forget_after_rollback(session: OrmSession) -> None:
    session.info.pop(PENDING_KEY, None)
