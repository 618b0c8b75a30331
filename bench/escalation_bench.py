"""`make bench-escalation`: one escalation sweep over 1,000 due hazards among 100,000 open ones,
on SQLite and PostgreSQL. Printed, not asserted.

Set-up per database: a scratch SQLite file (temporary folder) or a throw-away PostgreSQL
database (GRIDSAFE_BENCH_POSTGRES_URL, else GRIDSAFE_TEST_POSTGRES_URL; created and dropped
here), migrated, the demo data (units, users, the city's default policy and the duty roster),
then N open hazards spread over every grid of Wuhan with deadlines in the future. Each run
makes a fresh 1,000 of them due (not the ones an earlier run swept) and times
`sweep(session, now, 1000)` plus the commit: the events, the change-log rows, the
notifications and their deliveries, all in that one transaction. The median of the runs is
printed, with what one run did; `--profile` adds where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select, text, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402

from backend.cli import alembic_config  # noqa: E402
from backend.db import make_engine, make_session_factory, session_scope  # noqa: E402
from backend.demo.seed import seed  # noqa: E402
from backend.escalation.services import SweepResult, sweep  # noqa: E402
from backend.models import EscalationPolicy, Hazard, Unit, User, utcnow  # noqa: E402
from bench.scratch import postgres_database, postgres_problem, say  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get(
    "GRIDSAFE_BENCH_POSTGRES_URL",
    os.environ.get(
        "GRIDSAFE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    ),
)
CHUNK = 5000


def fill(url: str, hazards: int, rng: random.Random) -> list[str]:
    """Migrate, load the demo data, add `hazards` open hazards due in 1 hour to 30 days."""
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            seed(session)
            grids = session.execute(select(Unit.id, Unit.path).where(Unit.level == "grid")).all()
            reporter = session.execute(
                select(User.id).where(User.username == "inspector")
            ).scalar_one()
            policy = session.execute(
                select(EscalationPolicy.id).where(
                    EscalationPolicy.severity == "general", EscalationPolicy.active.is_(True)
                )
            ).scalar_one()
            now = utcnow()
            ids = [str(uuid.uuid4()) for _ in range(hazards)]
            table = Hazard.__table__  # type: ignore[attr-defined]
            for start in range(0, hazards, CHUNK):
                rows = []
                for hazard_id in ids[start : start + CHUNK]:
                    grid_id, path = rng.choice(grids)
                    rows.append(
                        {
                            "id": hazard_id,
                            "grid_id": grid_id,
                            "unit_path": path,
                            "severity": "general",
                            "category": rng.choice(("fire", "electrical", "gas", "dust")),
                            "description": "消防通道堵塞",
                            "state": "reported",
                            "reported_by": reporter,
                            "reported_at": now - timedelta(hours=1),
                            "received_at": now - timedelta(hours=1),
                            "synced_later": False,
                            "updated_at": now,
                            "tier": "street",
                            "policy_id": policy,
                            "due_at": now + timedelta(minutes=rng.randint(60, 30 * 24 * 60)),
                            "due_kind": "accept",
                            "fired": [],
                            "supervised": False,
                            "suspended": False,
                        }
                    )
                session.execute(insert(table), rows)
                session.commit()
            if engine.dialect.name == "postgresql":
                session.execute(text("ANALYZE"))
                session.commit()
    finally:
        engine.dispose()
    return ids


def make_due(url: str, ids: list[str]) -> None:
    """These hazards' accept deadline passed a minute ago, at the street, nothing fired yet."""
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            session.execute(
                update(Hazard)
                .where(Hazard.id.in_(ids))
                .values(
                    due_at=utcnow() - timedelta(minutes=1),
                    due_kind="accept",
                    tier="street",
                    fired=[],
                )
            )
            session.commit()
    finally:
        engine.dispose()


def one_sweep(url: str, due: int, profile: bool) -> tuple[float, SweepResult, str]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    report = ""
    try:
        with session_scope(factory) as session:
            # Warm the connection (and SQLite's page cache) outside the timing.
            session.execute(select(Hazard.id).limit(1)).all()
            profiler = cProfile.Profile() if profile else None
            start = time.perf_counter()
            if profiler:
                profiler.enable()
            result = sweep(session, utcnow(), due)
            session.commit()
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - start
            if profiler:
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
                stats.print_stats(r"backend/(escalation|tasks|push|offline)", 18)
                report = out.getvalue()
    finally:
        engine.dispose()
    return elapsed, result, report


def bench(label: str, url: str, args: argparse.Namespace) -> float:
    rng = random.Random(2026)
    start = time.perf_counter()
    ids = fill(url, args.hazards, rng)
    say(f"[{label}] {args.hazards:,} open hazards loaded in {time.perf_counter() - start:.1f} s")
    rng.shuffle(ids)
    times = []
    for run in range(args.runs):
        batch = ids[run * args.due : (run + 1) * args.due]
        make_due(url, batch)
        profile = args.profile and run == args.runs - 1
        elapsed, result, report = one_sweep(url, args.due, profile)
        times.append(elapsed)
        say(
            f"[{label}] run {run + 1}: {elapsed * 1000:,.0f} ms — seen {result.seen}, "
            f"escalated {result.escalated}, renotified {result.renotified}, "
            f"skipped tiers {result.skipped_tiers}"
        )
        if report:
            say(f"[{label}] profile of the last run (cumulative, backend code only):\n{report}")
    median = statistics.median(times)
    say(
        f"[{label}] sweep of {args.due:,} due among {args.hazards:,}: median {median * 1000:,.0f} ms"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hazards", type=int, default=100_000, help="open hazards")
    parser.add_argument("--due", type=int, default=1000, help="due per sweep (the batch size)")
    parser.add_argument("--runs", type=int, default=5, help="sweeps, each with fresh due rows")
    parser.add_argument("--profile", action="store_true", help="profile the last run")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    if args.due * args.runs > args.hazards:
        parser.error("--due × --runs must not exceed --hazards (each run needs fresh rows)")
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="gridsafe-esc-bench-") as folder:
        results["SQLite"] = bench("sqlite", f"sqlite:///{Path(folder) / 'bench.sqlite3'}", args)
    if args.no_postgres:
        say("[postgresql] skipped (--no-postgres)")
    elif problem := postgres_problem(POSTGRES_ADMIN_URL):
        say(f"[postgresql] not usable at {POSTGRES_ADMIN_URL} ({problem}): skipped")
    else:
        with postgres_database(POSTGRES_ADMIN_URL, "gridsafe_esc_bench_") as url:
            results["PostgreSQL"] = bench("postgresql", url, args)
    say("")
    say(f"escalation sweep, {args.due:,} due among {args.hazards:,} open (median of {args.runs}):")
    for name, seconds in results.items():
        say(f"  {name:<11} {seconds * 1000:8,.0f} ms")


if __name__ == "__main__":
    main()
