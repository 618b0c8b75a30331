"""Telling the street and the district that an enterprise turned red, in each person's language.
Written to the notification outbox in the caller's transaction; delivery is queued after commit
(the same after-commit hook as the closed loop's notifications)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from backend.db import settings_of
from backend.escalation.clocks import tier_path
from backend.i18n import Translator
from backend.models import Enterprise, Tier, User
from backend.push import outbox
from backend.tasks.notices import PENDING_KEY


@dataclass(frozen=True)
class TurnedRed:
    enterprise_id: int
    unit_path: str
    score: int
    reasons: list[dict[str, Any]]


def responsible(session: Session, unit_paths: Sequence[str], now: datetime) -> dict[str, list[int]]:
    """Who answers for each enterprise path now: the street's and the district's people on duty
    (the roster, else the tier's officers)."""
    # Imported here: the escalation sweep refreshes risk, so escalation.services imports us.
    from backend.escalation.services import on_duty

    tiers = {
        path: (tier_path(path, Tier.STREET), tier_path(path, Tier.DISTRICT)) for path in unit_paths
    }
    duty = on_duty(session, {p for pair in tiers.values() for p in pair}, now)
    return {
        path: sorted({*duty[street], *duty[district]}) for path, (street, district) in tiers.items()
    }


def _reason_text(t: Translator, reasons: Sequence[dict[str, Any]]) -> str:
    grew = [r for r in reasons if r["to"] > r["from"]] or list(reasons)
    separator = "、" if t.locale == "zh" else ", "
    return separator.join(t(f"risk.factors.{r['factor']}") for r in grew)


def turned_red(session: Session, items: Sequence[TurnedRed], now: datetime) -> list[int]:
    """One notification per responsible person per enterprise; returns the notification ids."""
    if not items:
        return []
    people = responsible(session, [item.unit_path for item in items], now)
    wanted = sorted({user for item in items for user in people[item.unit_path]})
    if not wanted:
        return []
    settings = settings_of(session)
    default = settings.default_locale if settings else "zh"
    locales = {
        int(user_id): locale or default
        for user_id, locale in session.execute(
            select(User.id, User.locale).where(User.id.in_(wanted), User.active.is_(True))
        ).all()
    }
    names = dict(
        session.execute(
            select(Enterprise.id, Enterprise.name).where(
                Enterprise.id.in_([item.enterprise_id for item in items])
            )
        ).all()
    )
    translators: dict[str, Translator] = {}
    messages = []
    for item in items:
        for user_id in people[item.unit_path]:
            locale = locales.get(user_id)
            if locale is None:
                continue
            t = translators.setdefault(locale, Translator(locale))
            values = {
                "name": names.get(item.enterprise_id, ""),
                "score": item.score,
                "reasons": _reason_text(t, item.reasons),
            }
            messages.append(
                {
                    "user_id": user_id,
                    "kind": "risk.red",
                    "title": t("risk.notify.red.title", **values),
                    "body": t("risk.notify.red.body", **values),
                    "url": f"/enterprises/{item.enterprise_id}/risk",
                    "data": {"enterprise_id": item.enterprise_id},
                }
            )
    ids = outbox.notify_many(session, messages)
    session.info.setdefault(PENDING_KEY, []).extend(ids)
    return ids
