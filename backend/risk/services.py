"""Keeping risk profiles current: `refresh` rescores a set of enterprises set-based (a few grouped
reads, one upsert, the history, the phones' change log, the red alerts), and `touch` marks
enterprises whose facts changed: one `risk_pending` insert just before the transaction commits
(a sync batch of 500 reports writes one row per enterprise; a rolled-back change marks
nothing), and a worker rescores them after it committed (backend/risk/pending.py, jobs.py), so
the writer, often a phone's push, does not wait for the scoring."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from backend.db import settings_of
from backend.models import Enterprise, RiskProfile, Unit, utcnow
from backend.offline import changes
from backend.offline.entities import enterprise_data
from backend.risk import alerts, pending
from backend.risk.facts import gather
from backend.risk.scoring import Weights, inspection_due, load_weights, moved_by, parse_intervals
from backend.risk.scoring import score as score_of
from sync import Write

TOUCHED_KEY = "gridsafe.risk.touched"
AT_KEY = "gridsafe.risk.at"
NUDGE_KEY = "gridsafe.risk.nudge"
CHUNK = 2000  # enterprises per round of reads: well inside SQLite's bound-parameter limit


@dataclass(frozen=True)
class Config:
    weights: Weights
    intervals: dict[str, int]


@cache
def _config(weights_path: str, intervals: str) -> Config:
    return Config(
        load_weights(Path(weights_path) if weights_path else None), parse_intervals(intervals)
    )


def config_of(session: Session) -> Config:
    """The weights and intervals of the session's settings (the shipped ones without settings)."""
    settings = settings_of(session)
    if settings is None:
        return _config("", "red=30,orange=90,yellow=180,blue=365")
    return _config(settings.risk_weights, settings.inspection_intervals)


@dataclass
class Refreshed:
    scored: int = 0
    colour_changes: list[tuple[int, str | None, str]] = field(default_factory=list)
    notifications: list[int] = field(default_factory=list)


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def refresh(
    session: Session,
    enterprise_ids: Iterable[int],
    *,
    now: datetime | None = None,
    announce_new: bool = True,
) -> Refreshed:
    """Rescore these enterprises in the caller's transaction (it commits). A colour change is an
    event (`risk.colour_changed`, with the factors that moved it); a change to red tells the
    street and district; a new colour, score or due date goes to the phones. A first profile is
    announced only when red, and only with `announce_new` (not when a whole city is graded at
    once)."""
    now = now or utcnow()
    config = config_of(session)
    ids = sorted({int(i) for i in enterprise_ids if isinstance(i, int) and 0 < i < 2**31})
    result = Refreshed()
    for chunk in _chunks(ids):
        _refresh_chunk(session, chunk, config, now, announce_new, result)
    return result


def _refresh_chunk(
    session: Session,
    ids: list[int],
    config: Config,
    now: datetime,
    announce_new: bool,
    result: Refreshed,
) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # Two transactions rescoring one enterprise take turns: the second reads its facts only
        # after the first committed, so it cannot overwrite a newer score with an older view.
        # NO KEY UPDATE, in id order: compatible with the KEY SHARE locks a hazard's foreign key
        # takes, and the same order everywhere, so no deadlock. (SQLite has one writer anyway.)
        session.execute(
            select(Enterprise.id)
            .where(Enterprise.id.in_(ids))  # type: ignore[union-attr]
            .order_by(Enterprise.id)
            .with_for_update(key_share=True)
        ).all()
    gathered = gather(session, ids, config.weights, now)
    rows: list[dict[str, Any]] = []
    writes: list[Write] = []
    publish: dict[int, dict[str, Any]] = {}
    red: list[alerts.TurnedRed] = []
    for enterprise_id, g in gathered.items():
        scored = score_of(g.facts, config.weights)
        old = g.previous
        if g.last_inspected_at is not None:
            due = inspection_due(scored.colour, g.last_inspected_at, now, config.intervals)
        else:
            # Never inspected: due since it was first graded, not "now" at every rescoring.
            due = (old and old["inspection_due_at"]) or now
        same_colour = old is not None and old["colour"] == scored.colour
        row = {
            "enterprise_id": enterprise_id,
            "unit_path": g.unit_path,
            "score": scored.score,
            "colour": scored.colour,
            "factors": scored.factors,
            "scoring_version": config.weights.version,
            "computed_at": now,
            "colour_since": old["colour_since"] if same_colour and old else now,
            "last_inspected_at": g.last_inspected_at,
            "inspection_due_at": due,
        }
        rows.append(row)
        # A first grading is news only when it is red (a new enterprise's first report was a
        # major hazard); otherwise its colour_since says when it was first graded.
        if not same_colour and (old is not None or (announce_new and scored.colour == "red")):
            reasons = moved_by(old["factors"] if old else [], scored.factors)
            writes.append(
                changes.event(
                    None,
                    "risk.colour_changed",
                    "enterprise",
                    enterprise_id,
                    g.unit_path,
                    **{"from": old["colour"] if old else None, "to": scored.colour},
                    score=scored.score,
                    reasons=reasons,
                    scoring_version=config.weights.version,
                )
            )
            result.colour_changes.append(
                (enterprise_id, old["colour"] if old else None, scored.colour)
            )
            if scored.colour == "red":
                red.append(alerts.TurnedRed(enterprise_id, g.unit_path, scored.score, reasons))
        if (
            old is None
            or not same_colour
            or old["score"] != scored.score
            or old["inspection_due_at"] != due
            or old["unit_path"] != g.unit_path
        ):
            publish[enterprise_id] = row
    if rows:
        _upsert(session, rows)
    writes += _published(session, publish)
    changes.store(session, writes)
    result.scored += len(rows)
    result.notifications += alerts.turned_red(session, red, now)


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    table = RiskProfile.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert_for = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_for(table)
    keep = {"enterprise_id"}
    statement = statement.on_conflict_do_update(
        index_elements=["enterprise_id"],
        set_={c.name: statement.excluded[c.name] for c in table.columns if c.name not in keep},
    )
    session.execute(statement, rows)


def _published(session: Session, profiles: dict[int, dict[str, Any]]) -> list[Write]:
    """The enterprises' change-log rows, with the new risk fields the phones' due list reads."""
    if not profiles:
        return []
    # Plain rows, not ORM objects: a full recompute publishes a city's worth at once.
    found = session.execute(
        select(*Enterprise.__table__.c, Unit.name.label("grid_name"), Unit.path.label("grid_path"))  # type: ignore[attr-defined]
        .join(Unit, Unit.id == Enterprise.grid_id)
        .where(Enterprise.id.in_(list(profiles)))  # type: ignore[union-attr]
    ).all()
    return [
        changes.change(
            "enterprise",
            row.id,
            "upsert",
            row.grid_path,
            row.id,
            enterprise_data(
                cast(Enterprise, row),
                cast(Unit, SimpleNamespace(id=row.grid_id, name=row.grid_name)),
                profiles[row.id],
            ),
        )
        for row in found
    ]


def recompute_all(session: Session, batch: int = 5000, now: datetime | None = None) -> int:
    """Rescore every active enterprise (after a change of weights), committing per batch so a
    city's worth never sits in one transaction. New profiles are not announced one by one."""
    now = now or utcnow()
    done, last = 0, 0
    while True:
        ids = list(
            session.execute(
                select(Enterprise.id)
                .where(Enterprise.id > last, Enterprise.active.is_(True))  # type: ignore[operator]
                .order_by(Enterprise.id)
                .limit(batch)
            ).scalars()
        )
        if not ids:
            return done
        done += refresh(session, ids, now=now, announce_new=False).scored
        session.commit()
        last = ids[-1]


# ---- rescoring on events ----------------------------------------------------------------------


def touch(
    session: Session, enterprise_ids: Iterable[int | None], at: datetime | None = None
) -> None:
    """Have these enterprises rescored once this transaction commits (by a worker, within about
    a second). `at`: the moment the change happened when it is not now (the escalation sweep
    runs for a given time); the rescoring then uses the later of it and the time it runs."""
    wanted = {i for i in enterprise_ids if isinstance(i, int)}
    if not wanted:
        return
    session.info.setdefault(TOUCHED_KEY, set()).update(wanted)
    if at is not None:
        session.info[AT_KEY] = max(at, session.info.get(AT_KEY, at))


@event.listens_for(OrmSession, "before_commit")
def _mark_before_commit(session: OrmSession) -> None:
    ids = session.info.pop(TOUCHED_KEY, None)
    at = session.info.pop(AT_KEY, None)
    if not ids:
        return
    session.flush()  # a new enterprise's row first: the pending row refers to it
    pending.mark(cast(Session, session), ids, at)
    session.info[NUDGE_KEY] = True


@event.listens_for(OrmSession, "after_commit")
def _nudge_after_commit(session: OrmSession) -> None:
    settings = settings_of(session)
    if session.info.pop(NUDGE_KEY, None) and settings is not None:
        pending.nudger.nudge(settings)


@event.listens_for(OrmSession, "after_rollback")
def _forget_after_rollback(session: OrmSession) -> None:
    session.info.pop(TOUCHED_KEY, None)
    session.info.pop(AT_KEY, None)
    session.info.pop(NUDGE_KEY, None)
