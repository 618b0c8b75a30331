"""Demo escalation data: the city's default policy and a sample duty roster (值班表) — day and
night shifts for the demo street (红卫路街道), Qingshan district and the city over the next 14
days, stood by the demo users who would be told anyway (so the roster and the role fallback
agree)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import insert, select
from sqlmodel import Session

from backend.admin.duty import SHANGHAI, local
from backend.models import DutyShift, EscalationPolicy, Severity, Unit, User

# (severity, accept minutes, rectify hours, renotify minutes)
CITY_DEFAULTS = (
    (Severity.GENERAL, 120, 168, 240),
    (Severity.MAJOR, 30, 720, 60),
)
# unit code -> the demo user on duty there
ROSTER = (("420107001", "dispatcher"), ("420107", "district"), ("420100", "city"))
DAYS = 14
DAY_STARTS, NIGHT_STARTS = time(8), time(20)


def seed_escalation(session: Session, now: datetime) -> dict[str, int]:
    """Insert the demo's policies and roster unless a policy exists; returns what was created.
    The caller commits. Written once, with the policy: shifts an administrator deletes later stay
    deleted, and a roster someone already made is left alone."""
    if session.execute(select(EscalationPolicy.id).limit(1)).first() is not None:
        return {}
    session.execute(
        insert(EscalationPolicy),
        [
            {
                "severity": severity.value,
                "category": "*",
                "version": 1,
                "accept_minutes": accept,
                "rectify_hours": rectify,
                "renotify_minutes": renotify,
                "tiers": "street,district,city",
                "active": True,
                "created_at": now,
            }
            for severity, accept, rectify, renotify in CITY_DEFAULTS
        ],
    )
    created = {"escalation_policies": len(CITY_DEFAULTS)}
    if session.execute(select(DutyShift.id).limit(1)).first() is None:
        rows = roster_rows(session, now)
        if rows:
            session.execute(insert(DutyShift), rows)
            created["duty_shifts"] = len(rows)
    return created


def roster_rows(session: Session, now: datetime) -> list[dict[str, object]]:
    """Day (08–20) and night (20–08) shifts, Beijing time, from last night's until 14 days on."""
    units = dict(
        session.execute(
            select(Unit.code, Unit.id).where(Unit.code.in_([code for code, _ in ROSTER]))
        ).all()
    )
    users = dict(
        session.execute(
            select(User.username, User.id).where(User.username.in_([name for _, name in ROSTER]))
        ).all()
    )
    today = local(now).date()
    rows: list[dict[str, object]] = []
    for code, username in ROSTER:
        if code not in units or username not in users:
            continue
        for offset in range(-1, DAYS):
            day = today + timedelta(days=offset)
            morning = datetime.combine(day, DAY_STARTS, tzinfo=SHANGHAI)
            evening = datetime.combine(day, NIGHT_STARTS, tzinfo=SHANGHAI)
            for starts, ends, note in (
                (morning, evening, "白班"),
                (evening, morning + timedelta(days=1), "夜班"),
            ):
                rows.append(
                    {
                        "unit_id": units[code],
                        "user_id": users[username],
                        "starts_at": starts,
                        "ends_at": ends,
                        "note": note,
                    }
                )
    return rows
