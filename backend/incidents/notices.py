"""Who an incident tells what, in their own language, through the same transactional outbox as
the loop (backend/tasks/notices.py): rows in the action's transaction, queued after commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from backend.db import settings_of
from backend.i18n import Translator
from backend.models import User
from backend.push import outbox
from backend.tasks.notices import PENDING_KEY


def send(
    session: Session,
    user_ids: Iterable[int],
    kind: str,
    url: str,
    *,
    incident_type: str,
    task_id: str | None = None,
    actions: Sequence[str] = (),
    **params: Any,
) -> list[int]:
    """One notification per active person, worded from `notify.<kind>` in their language."""
    ids = sorted(set(user_ids))
    if not ids:
        return []
    settings = settings_of(session)
    default = settings.default_locale if settings else "zh"
    by_locale: dict[str, list[int]] = defaultdict(list)
    for user_id, locale in session.execute(
        select(User.id, User.locale).where(User.id.in_(ids), User.active.is_(True))
    ).all():
        by_locale[locale or default].append(int(user_id))
    created: list[int] = []
    for locale, people in sorted(by_locale.items()):
        t = Translator(locale)
        values = {**params, "type": t(f"incident_types.{incident_type}")}
        created += outbox.notify(
            session,
            user_ids=people,
            kind=kind,
            title=t(f"notify.{kind}.title", **values),
            body=t(f"notify.{kind}.body", **values),
            url=url,
            data={"task_id": task_id},
            actions=[
                {"action": action, "title": t(f"notify.action.{action}")} for action in actions
            ],
            task_id=task_id,
        )
    session.info.setdefault(PENDING_KEY, []).extend(created)
    return created


def task_taken(
    session: Session,
    incident_type: str,
    task_id: str,
    title: str,
    user_ids: Sequence[int],
    holder: str,
) -> None:
    """The others still offered the task learn who took it, so nobody sets out for it twice (the
    loop's `task.taken`, worded for the incident rather than a hazard's place)."""
    send(
        session,
        user_ids,
        "incident.taken",
        f"/tasks/{task_id}",
        incident_type=incident_type,
        task_id=task_id,
        title=title,
        by=holder,
    )
