"""`make bench-risk`: rescoring every risk profile of 100,000 enterprises (`recompute_all`, what
`gridsafe risk recompute` runs after a change of weights) and one incremental update (a hazard
reported: `touch` + commit in the writer, then the worker's `refresh_pending`), on SQLite and
PostgreSQL.
Printed, not asserted.

Set-up per database: a scratch SQLite file (temporary folder) or a throw-away PostgreSQL database
(GRIDSAFE_BENCH_POSTGRES_URL, else GRIDSAFE_TEST_POSTGRES_URL; created and dropped here),
migrated, the demo data, then enterprises up to N spread over Wuhan's grids with facts for a
share of them: open hazards (one in five enterprises), enforcement decisions (one in fifty) and
accidents (one in two hundred). Timed: the first full grading (every profile new), a second
full run (every profile rewritten), and the median of `--runs` incremental updates.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402

from backend.cli import alembic_config  # noqa: E402
from backend.db import make_engine, make_session_factory, session_scope  # noqa: E402
from backend.demo.seed import seed  # noqa: E402
from backend.models import (  # noqa: E402
    Accident,
    EnforcementRecord,
    Enterprise,
    Hazard,
    RiskProfile,
    Unit,
    User,
    utcnow,
)
from backend.risk.jobs import refresh_pending  # noqa: E402
from backend.risk.services import recompute_all, touch  # noqa: E402
from bench.scratch import postgres_database, postgres_problem, say  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get(
    "GRIDSAFE_BENCH_POSTGRES_URL",
    os.environ.get(
        "GRIDSAFE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    ),
)
CHUNK = 5000
INDUSTRIES = (
    "hazardous_chemicals",
    "metallurgy",
    "dust_explosion",
    "aluminium_processing",
    "other",
)


def _rows_for(
    start: int, count: int, grids: list[tuple[int, str]], rng: random.Random
) -> list[dict[str, object]]:
    now = utcnow()
    return [
        {
            "name": f"压测企业{n}",
            "credit_code": f"91420{n:013d}",
            "industry": rng.choice(INDUSTRIES),
            "address": "",
            "grid_id": rng.choice(grids)[0],
            "contact_name": "",
            "contact_phone": "",
            "active": True,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(start, start + count)
    ]


def fill(url: str, enterprises: int, rng: random.Random) -> None:
    """Migrate, the demo data, enterprises up to `enterprises`, facts for a share of them."""
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            seed(session)
            # Graded again from scratch below, as on a first deployment.
            session.execute(RiskProfile.__table__.delete())  # type: ignore[attr-defined]
            grids = [
                tuple(row)
                for row in session.execute(select(Unit.id, Unit.path).where(Unit.level == "grid"))
            ]
            have = session.execute(select(func.count()).select_from(Enterprise)).scalar_one()
            for start in range(have, enterprises, CHUNK):
                count = min(CHUNK, enterprises - start)
                session.execute(insert(Enterprise), _rows_for(start, count, grids, rng))  # type: ignore[arg-type]
                session.commit()
            path_of = dict(grids)
            everyone = session.execute(select(Enterprise.id, Enterprise.grid_id)).all()
            reporter = session.execute(
                select(User.id).where(User.username == "inspector")
            ).scalar_one()
            now = utcnow()
            hazards, enforcement, accidents = [], [], []
            for enterprise_id, grid_id in everyone:
                path = path_of[grid_id]
                if rng.random() < 0.2:
                    hazards.append(
                        {
                            "id": str(uuid.uuid4()),
                            "enterprise_id": enterprise_id,
                            "grid_id": grid_id,
                            "unit_path": path,
                            "severity": "major" if rng.random() < 0.05 else "general",
                            "category": "fire",
                            "description": "压测隐患",
                            "state": rng.choice(("reported", "rectifying")),
                            "reported_by": reporter,
                            "reported_at": now,
                            "received_at": now,
                            "updated_at": now,
                            "rectify_by": now + timedelta(days=rng.randint(-5, 20)),
                            "fired": [],
                        }
                    )
                if rng.random() < 0.02:
                    enforcement.append(
                        {
                            "enterprise_id": enterprise_id,
                            "unit_path": path,
                            "decided_on": (now - timedelta(days=rng.randint(1, 500))).date(),
                            "kind": rng.choice(("warning", "fine", "order", "suspension")),
                            "description": "",
                            "source": "import",
                            "created_at": now,
                        }
                    )
                if rng.random() < 0.005:
                    accidents.append(
                        {
                            "enterprise_id": enterprise_id,
                            "unit_path": path,
                            "occurred_on": (now - timedelta(days=rng.randint(1, 1500))).date(),
                            "level": rng.choice(("general", "general", "larger")),
                            "deaths": 0,
                            "injuries": 1,
                            "description": "",
                            "source": "import",
                            "created_at": now,
                        }
                    )
            for model, rows in (
                (Hazard, hazards),
                (EnforcementRecord, enforcement),
                (Accident, accidents),
            ):
                for start in range(0, len(rows), CHUNK):
                    session.execute(insert(model), rows[start : start + CHUNK])  # type: ignore[arg-type]
                    session.commit()
            say(
                f"  facts: {len(hazards):,} open hazards, {len(enforcement):,} enforcement"
                f" decisions, {len(accidents):,} accidents"
            )
            if engine.dialect.name == "postgresql":
                session.execute(text("ANALYZE"))
                session.commit()
    finally:
        engine.dispose()


def full(url: str, batch: int) -> tuple[float, int]:
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            session.execute(select(Enterprise.id).limit(1)).all()
            start = time.perf_counter()
            done = recompute_all(session, batch=batch)
            return time.perf_counter() - start, done
    finally:
        engine.dispose()


def incremental(url: str, runs: int, rng: random.Random) -> tuple[list[float], list[float]]:
    """One enterprise gets a new open hazard; time the writer's `touch` + commit (the pending
    mark), then the worker's job that rescores it."""
    engine = make_engine(url)
    times, jobs = [], []
    try:
        factory = make_session_factory(engine)
        with factory() as session:
            ids = list(
                session.execute(
                    select(Enterprise.id, Enterprise.grid_id, Unit.path).join(
                        Unit, Unit.id == Enterprise.grid_id
                    )
                ).all()
            )
            reporter = session.execute(
                select(User.id).where(User.username == "inspector")
            ).scalar_one()
            for _ in range(runs):
                enterprise_id, grid_id, path = rng.choice(ids)
                now = utcnow()
                session.execute(
                    insert(Hazard),
                    [
                        {
                            "id": str(uuid.uuid4()),
                            "enterprise_id": enterprise_id,
                            "grid_id": grid_id,
                            "unit_path": path,
                            "severity": rng.choice(("general", "major")),
                            "category": "fire",
                            "description": "压测隐患",
                            "state": "reported",
                            "reported_by": reporter,
                            "reported_at": now,
                            "received_at": now,
                            "updated_at": now,
                            "fired": [],
                        }
                    ],
                )
                start = time.perf_counter()
                touch(session, [enterprise_id])
                session.commit()
                marked = time.perf_counter()
                refresh_pending(session)
                times.append(marked - start)
                jobs.append(time.perf_counter() - marked)
    finally:
        engine.dispose()
    return times, jobs


def bench(label: str, url: str, args: argparse.Namespace) -> None:
    rng = random.Random(2026)
    start = time.perf_counter()
    fill(url, args.enterprises, rng)
    say(f"[{label}] {args.enterprises:,} enterprises loaded in {time.perf_counter() - start:.1f} s")
    first, done = full(url, args.batch)
    say(
        f"[{label}] first grading of {done:,} enterprises (all new): {first:.2f} s ({done / first:,.0f}/s)"
    )
    again, done = full(url, args.batch)
    say(
        f"[{label}] full recompute of {done:,} enterprises (all rewritten): {again:.2f} s ({done / again:,.0f}/s)"
    )
    times, jobs = incremental(url, args.runs, rng)
    for what, values in (("writer: touch + commit", times), ("worker: refresh_pending", jobs)):
        say(
            f"[{label}] one incremental update, {what}, median of {args.runs}: "
            f"{statistics.median(values) * 1000:.1f} ms "
            f"(min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5000, help="enterprises per transaction")
    parser.add_argument("--runs", type=int, default=25, help="incremental updates timed")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    args = parser.parse_args()
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as folder:
            bench("SQLite", f"sqlite:///{Path(folder) / 'bench.sqlite3'}", args)
    if args.only in (None, "postgresql"):
        problem = postgres_problem(POSTGRES_ADMIN_URL)
        if problem:
            say(f"[PostgreSQL] skipped: server not reachable ({problem})")
        else:
            with postgres_database(POSTGRES_ADMIN_URL, "gridsafe_risk_bench_") as url:
                bench("PostgreSQL", url, args)


if __name__ == "__main__":
    main()
