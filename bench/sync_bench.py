"""`make bench`: throughput and latency of the offline-sync hot path, printed, not asserted.

For SQLite (a temporary data folder) and PostgreSQL (a throw-away database on 127.0.0.1:5432,
dropped afterwards; skipped with a note when unreachable) it migrates and loads the demo data
through the `gridsafe` CLI, starts the real server (`uvicorn --factory
backend.app:create_app_from_env`, loopback, a free port; one process per core unless `--workers`
says otherwise), signs in over HTTP and measures:

- push ingest: `hazard.report` mutations/s in batches of 50 and of 500, sent by a few concurrent
  clients (each its own signed-in session and client id) for a fixed time, each batch on a new
  connection unless `--keep-alive`; every mutation goes through sign-in session, CSRF, scope
  checks, at-most-once bookkeeping and the change log;
- the same ingest on a second server process whose change store adds one ORM object per row
  (`bench/orm_store.py`), the "before" of the set-based store;
- single-mutation push latency (p50/p95), sequential, one client;
- pull: changes/s walking the change log from an old cursor with limit 1000, as `city`.

Then the same work against pouchdb-server installed into bench/peer/ from its lock file:
`_bulk_docs`, single-document PUT, `_changes?include_docs=true`; once in memory (the issue's
yardstick) and once on LevelDB in a temporary folder (stored on disk as GridSafe stores its data).
Every loop is bounded by count and by time, and every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    HOST,
    POSTGRES_ADMIN_URL,
    free_port,
    gridsafe_cli,
    percentile,
    reachable,
    server_env,
    sign_in,
    started,
    stop_all,
    uvicorn_command,
)
from bench.scratch import say  # noqa: E402

PEER_DIR = ROOT / "bench" / "peer"
SEVERITIES = ("general", "major")
CATEGORIES = ("fire", "electrical", "chemicals", "dust", "gas", "confined_space", "other")
DESCRIPTIONS = (
    "消防通道被货物堵塞，灭火器过期未检",
    "配电箱门未关闭，线路老化裸露",
    "危化品仓库未张贴安全警示标识",
    "除尘器泄爆口朝向人员通道",
    "有限空间作业未执行审批制度",
)
REFERENCE_PEER = (
    "peer measured earlier (2 cores): 12k docs/s @50, 16k @500, PUT p50 1.1 ms, 21k changes/s"
)

# Ingest sends each batch on a new connection, to our server and to the peer alike. Phones push
# a batch and go quiet; a bench client that kept one connection for the whole run would stay on
# the server process that accepted it, and with two clients both often land on the same one of
# two processes (uvicorn's processes share one listening socket): measured on PostgreSQL, 4,100
# against 6,300 mutations/s for the same code, by which process accepted. `--keep-alive` keeps
# one connection per client instead. Latency and pull always reuse their connection.
NEW_CONNECTION = {"connection": "close"}

# ---------------------------------------------------------------------------------- plumbing


@dataclass
class Rate:
    items: int
    seconds: float
    requests: int

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def run_parallel(tasks: Sequence[Callable[[float], tuple[int, int]]], seconds: float) -> Rate:
    """Run the tasks side by side until the deadline; each returns (items, requests)."""
    with ThreadPoolExecutor(len(tasks)) as pool:
        start = time.perf_counter()
        futures = [pool.submit(task, start + seconds) for task in tasks]
        done = [future.result() for future in futures]
        elapsed = time.perf_counter() - start
    return Rate(sum(d[0] for d in done), elapsed, sum(d[1] for d in done))


# ---------------------------------------------------------------------------------- workload


class Workload:
    """Hazard reports as phones send them: fresh UUIDv7 ids (as pwa/static/js/outbox.js makes
    them: time-ordered, so a B-tree takes them at its right edge), real enterprises of the
    inspector."""

    def __init__(self, enterprise_ids: Sequence[int], seed: int) -> None:
        self.enterprise_ids = list(enterprise_ids)
        self.rng = random.Random(seed)

    def uuid7(self) -> str:
        """RFC 9562 version 7: 48-bit Unix time in ms, version, 74 random bits, variant."""
        rng = self.rng
        value = (time.time_ns() // 1_000_000) << 80 | rng.getrandbits(12) << 64
        value |= 0x7 << 76 | 0b10 << 62 | rng.getrandbits(62)
        return str(uuid.UUID(int=value))

    def report_args(self) -> dict[str, Any]:
        rng = self.rng
        return {
            "id": self.uuid7(),
            "severity": rng.choice(SEVERITIES),
            "category": rng.choice(CATEGORIES),
            "description": rng.choice(DESCRIPTIONS),
            "enterprise_id": rng.choice(self.enterprise_ids),
            "latitude": round(30.60 + rng.random() / 10, 6),
            "longitude": round(114.40 + rng.random() / 10, 6),
            "accuracy_m": round(5 + rng.random() * 20, 1),
            "photos": [f"{rng.getrandbits(256):064x}"],
        }

    def doc(self) -> dict[str, Any]:
        """The same report as a CouchDB document (what a PouchDB-based app would replicate)."""
        args = self.report_args()
        return {
            "_id": args.pop("id"),
            "type": "hazard",
            "state": "reported",
            "reported_by": "inspector",
            "at": datetime.now(UTC).isoformat(),
            **args,
        }


# ---------------------------------------------------------------------------------- GridSafe


class GridSafeClient:
    """One installed browser profile: a signed-in session and a client id with its counter."""

    def __init__(self, base_url: str, username: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=120)
        self.client_id = str(uuid.uuid4())
        self.next_id = 1
        self.headers = {
            "x-csrftoken": sign_in(self.http, username),
            "content-type": "application/json",
        }

    def close(self) -> None:
        self.http.close()

    def batch(self, workload: Workload, size: int) -> bytes:
        now = datetime.now(UTC).isoformat()
        mutations = []
        for _ in range(size):
            mutations.append(
                {
                    "id": self.next_id,
                    "name": "hazard.report",
                    "args": workload.report_args(),
                    "at": now,
                }
            )
            self.next_id += 1
        return json.dumps({"client_id": self.client_id, "mutations": mutations}).encode()

    def push(
        self, body: bytes, expected: int, status: str = "applied", *, fresh: bool = False
    ) -> None:
        """`fresh`: on a connection of its own, closed after the answer (see `NEW_CONNECTION`)."""
        headers = {**self.headers, **NEW_CONNECTION} if fresh else self.headers
        response = self.http.post("/api/v1/sync/push", content=body, headers=headers)
        marker = f'"status":"{status}"'.encode()
        if response.status_code != 200 or response.content.count(marker) != expected:
            raise RuntimeError(
                f"push answered {response.status_code}, expected {expected}× {status}: "
                f"{response.text[:400]}"
            )

    def pull(self, cursor: str, limit: int) -> dict[str, Any]:
        response = self.http.get(
            "/api/v1/sync/pull",
            params={"cursor": cursor, "client_id": self.client_id, "limit": limit},
        )
        response.raise_for_status()
        page: dict[str, Any] = response.json()
        return page


@dataclass
class Options:
    seconds: float
    rounds: int
    clients: int
    latency_count: int
    pull_seconds: float
    orm_baseline: bool
    workers: int = 0  # server processes per database; 0: one per core
    keep_alive: bool = False  # ingest on one connection per client instead of one per batch
    max_batches: int = 100_000


@dataclass
class Numbers:
    values: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def ingest(
    clients: Sequence[GridSafeClient], workload: Workload, size: int, options: Options
) -> Rate:
    def task(deadline: float, client: GridSafeClient) -> tuple[int, int]:
        done = batches = 0
        while time.perf_counter() < deadline and batches < options.max_batches:
            client.push(client.batch(workload, size), size, fresh=not options.keep_alive)
            done += size
            batches += 1
        return done, batches

    return run_parallel(
        [lambda deadline, c=c: task(deadline, c) for c in clients],  # type: ignore[misc]
        options.seconds,
    )


def server_processes(options: Options) -> int:
    """How many server processes serve a database: one per core unless told. On PostgreSQL, as
    production runs it (README: "several stateless processes"). On SQLite too since pushes plan
    before taking its one write slot and queue for it (backend/db.WriterTurn): a second process
    plans while the first writes (measured: 5,900-6,300 against 3,700-4,800 mutations/s with one
    process, batches of 50, same machine minutes apart)."""
    return options.workers or max(1, os.cpu_count() or 1)


def bench_gridsafe(label: str, database_url: str, work: Path, options: Options) -> Numbers:
    numbers = Numbers()
    workers = server_processes(options)
    numbers.values["workers"] = workers
    data_dir = work / "data"
    env = server_env(data_dir, database_url)
    t0 = time.perf_counter()
    gridsafe_cli(env, "migrate")
    gridsafe_cli(env, "seed-demo")
    say(
        f"[{label}] migrated and seeded through the CLI in {time.perf_counter() - t0:.1f} s; "
        f"{workers} server process{'es' if workers > 1 else ''}"
    )

    port, orm_port = free_port(), free_port()
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            started(
                uvicorn_command("backend.app:create_app_from_env", port, workers),
                env,
                ROOT,
                work / "server.log",
                f"http://{HOST}:{port}/healthz",
            )
        )
        if options.orm_baseline:
            stack.enter_context(
                started(
                    uvicorn_command("bench.orm_store:create_app_from_env", orm_port, workers),
                    env,
                    ROOT,
                    work / "server-orm.log",
                    f"http://{HOST}:{orm_port}/healthz",
                )
            )
        base, orm_base = f"http://{HOST}:{port}", f"http://{HOST}:{orm_port}"
        city = GridSafeClient(base, "city")
        stack.callback(city.close)
        # The old cursor: where the change log stood before anything below was pushed.
        first = city.pull("", 1000)
        old_cursor = first["cursor"]
        inspectors = [GridSafeClient(base, "inspector") for _ in range(options.clients)]
        orm_inspectors = (
            [GridSafeClient(orm_base, "inspector") for _ in range(options.clients)]
            if options.orm_baseline
            else []
        )
        for client in inspectors + orm_inspectors:
            stack.callback(client.close)
        listing = inspectors[0].http.get("/api/v1/enterprises", params={"limit": 500})
        listing.raise_for_status()
        enterprise_ids = [item["id"] for item in listing.json()["items"]]
        if not enterprise_ids:
            raise RuntimeError("the inspector sees no enterprise: demo data missing?")
        workload = Workload(enterprise_ids, seed=420107)

        # Warm up both servers (statement caches, first connections) outside the clock.
        for client in inspectors + orm_inspectors:
            for size in (50, 500):
                client.push(client.batch(workload, size), size)

        # Rounds alternate the ORM baseline and the set-based store; the best round counts.
        pushed = 0
        for size in (50, 500):
            runs = [("set-based", "", inspectors)]
            if options.orm_baseline:
                runs.insert(0, ("ORM per row", "_orm", orm_inspectors))
            for round_no in range(1, options.rounds + 1):
                for kind, suffix, clients in runs:
                    rate = ingest(clients, workload, size, options)
                    pushed += rate.items
                    key = f"push{size}{suffix}"
                    numbers.values[key] = max(numbers.values.get(key, 0.0), rate.per_second)
                    say(
                        f"[{label}] push, batches of {size}, {kind}, round {round_no}: "
                        f"{rate.per_second:,.0f} mutations/s ({rate.requests} batches from "
                        f"{len(clients)} clients in {rate.seconds:.1f} s)"
                    )

        # At most once: replaying a batch changes nothing and is answered `duplicate`.
        client = inspectors[0]
        body = client.batch(workload, 50)
        client.push(body, 50)
        client.push(body, 50, status="duplicate")
        say(f"[{label}] replayed 50 mutations: all answered duplicate")

        latencies: list[float] = []
        deadline = time.perf_counter() + max(30.0, options.seconds * 4)
        while len(latencies) < options.latency_count and time.perf_counter() < deadline:
            body = client.batch(workload, 1)
            start = time.perf_counter()
            client.push(body, 1)
            latencies.append((time.perf_counter() - start) * 1000)
        numbers.values["p50"] = percentile(latencies, 50)
        numbers.values["p95"] = percentile(latencies, 95)
        say(
            f"[{label}] single-mutation push: p50 {numbers.values['p50']:.2f} ms, "
            f"p95 {numbers.values['p95']:.2f} ms ({len(latencies)} sequential pushes)"
        )

        expected = pushed + 50 + len(latencies) + 550 * len(inspectors + orm_inspectors)

        def walk(round_name: str) -> float:
            cursor, pulled, pages, complete = old_cursor, 0, 0, False
            start = time.perf_counter()
            deadline = start + options.pull_seconds
            while time.perf_counter() < deadline and pages < 10_000:
                page = city.pull(cursor, 1000)
                if page["reset"]:
                    raise RuntimeError("pull from the old cursor answered a snapshot")
                pulled += len(page["changes"])
                pages += 1
                cursor = page["cursor"]
                if not page["more"]:
                    complete = True
                    break
            elapsed = time.perf_counter() - start
            if complete and pulled < expected:
                raise RuntimeError(f"pulled {pulled} changes, expected at least {expected}")
            say(
                f"[{label}] pull as city from the old cursor, limit 1000, {round_name}: "
                f"{pulled / elapsed:,.0f} changes/s ({pulled:,} changes in {pages} pages, "
                f"{elapsed:.1f} s)"
            )
            return pulled / elapsed

        if database_url.startswith("postgresql"):
            # The change log grew from the demo's few hundred rows to tens of thousands within
            # a minute, and PostgreSQL still plans with the statistics of the small table (a
            # page of the city's pull: 28.7 ms instead of 0.8 ms). Autovacuum analyzes it
            # within about a minute; this waits for nobody and analyzes now, after one walk
            # that shows the difference.
            numbers.values["pull_stale"] = walk("before ANALYZE")
            analyze(database_url)
            say(f"[{label}] ANALYZE done, as autovacuum would do shortly")
        for round_no in range(1, options.rounds + 1):
            pulled_per_second = walk(f"round {round_no}")
            numbers.values["pull"] = max(numbers.values.get("pull", 0.0), pulled_per_second)
    return numbers


def analyze(database_url: str) -> None:
    """Refresh PostgreSQL's planner statistics of the database (what autovacuum does)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def postgres_problem(admin_url: str) -> str:
    """Why the PostgreSQL server cannot be used (empty when it can)."""
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.exc import SQLAlchemyError

    url = make_url(admin_url)
    if not reachable(url.host or HOST, url.port or 5432):
        return "nothing listens there"
    engine = create_engine(admin_url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return error.__class__.__name__
    finally:
        engine.dispose()
    return ""


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database on the server of `admin_url`, dropped on the way out."""
    from sqlalchemy import create_engine, make_url, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"gridsafe_bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# ---------------------------------------------------------------------------------- the peer


def install_peer() -> Path | None:
    """pouchdb-server from bench/peer/package-lock.json; None (and why, printed) when impossible."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        say("[peer] Node.js/npm not found: the peer is skipped, GridSafe numbers only")
        return None
    script = PEER_DIR / "node_modules" / "pouchdb-server" / "bin" / "pouchdb-server"
    installed = PEER_DIR / "node_modules" / ".package-lock.json"
    lock = PEER_DIR / "package-lock.json"
    if (
        not script.exists()
        or not installed.exists()
        or installed.stat().st_mtime < lock.stat().st_mtime
    ):
        say("[peer] installing pouchdb-server into bench/peer/ (npm ci, pinned by the lock file)")
        # Without install scripts: leveldown (the on-disk peer) ships its prebuilt binaries in
        # the package and finds them when loaded; sqlite3's script would fetch or compile one for
        # --sqlite, which is not used here.
        result = subprocess.run(  # noqa: S603
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=PEER_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0 or not script.exists():
            say(
                f"[peer] npm ci failed, the peer is skipped:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
            return None
    return script


# How the peer keeps its documents: "memory" (the figures the issue quotes were measured so) or
# "disk": LevelDB files in the work folder. LevelDB hands each write to the operating system
# without waiting for the disk (pouchdb-server never asks leveldown for `sync`), as SQLite's WAL
# with synchronous=NORMAL does for GridSafe: both keep what they answered if the process dies, and
# may lose the last writes if the machine does. That one is the like-for-like comparison.
PEER_STORAGES = ("memory", "disk")


def bench_peer(script: Path, work: Path, options: Options, storage: str = "memory") -> Numbers:
    numbers = Numbers()
    port = free_port()
    label = "[peer]" if storage == "memory" else f"[peer on {storage}]"
    # The log goes to a file at level warning (pouchdb-server logs every request at info).
    (work / "config.json").write_text(
        json.dumps({"log": {"level": "warning", "file": str(work / "log.txt")}})
    )
    command = [
        shutil.which("node") or "node",
        str(script),
        *(["--in-memory"] if storage == "memory" else ["--dir", str(work / "db")]),
        "--host",
        HOST,
        "--port",
        str(port),
        "--config",
        str(work / "config.json"),
        "--no-stdout-logs",
    ]
    base = f"http://{HOST}:{port}"
    with started(command, dict(os.environ), work, work / "peer.log", f"{base}/"):
        clients = [httpx.Client(base_url=base, timeout=120) for _ in range(options.clients)]
        try:
            version = clients[0].get("/").json().get("version", "?")
            clients[0].put("/hazards").raise_for_status()
            where = "in memory" if storage == "memory" else "on LevelDB in the work folder"
            say(f"{label} pouchdb-server {version}, {where}, database `hazards`")
            workload = Workload([1, 2, 3, 4, 5, 6], seed=420107)
            headers = {"content-type": "application/json"}

            bulk_headers = headers if options.keep_alive else {**headers, **NEW_CONNECTION}

            def bulk(client: httpx.Client, size: int) -> None:
                body = json.dumps({"docs": [workload.doc() for _ in range(size)]}).encode()
                response = client.post("/hazards/_bulk_docs", content=body, headers=bulk_headers)
                if response.status_code != 201 or response.content.count(b'"ok":true') != size:
                    raise RuntimeError(
                        f"_bulk_docs answered {response.status_code}: {response.text[:300]}"
                    )

            for client in clients:
                for size in (50, 500):
                    bulk(client, size)
            for size in (50, 500):

                def task(
                    deadline: float, client: httpx.Client, size: int = size
                ) -> tuple[int, int]:
                    done = requests = 0
                    while time.perf_counter() < deadline and requests < options.max_batches:
                        bulk(client, size)
                        done += size
                        requests += 1
                    return done, requests

                for round_no in range(1, options.rounds + 1):
                    rate = run_parallel(
                        [lambda deadline, c=c: task(deadline, c) for c in clients],  # type: ignore[misc]
                        options.seconds,
                    )
                    key = f"push{size}"
                    numbers.values[key] = max(numbers.values.get(key, 0.0), rate.per_second)
                    say(
                        f"{label} _bulk_docs, batches of {size}, round {round_no}: "
                        f"{rate.per_second:,.0f} docs/s ({rate.requests} batches from "
                        f"{len(clients)} clients in {rate.seconds:.1f} s)"
                    )

            latencies: list[float] = []
            client = clients[0]
            deadline = time.perf_counter() + max(30.0, options.seconds * 4)
            while len(latencies) < options.latency_count and time.perf_counter() < deadline:
                doc = workload.doc()
                body = json.dumps(doc).encode()
                start = time.perf_counter()
                response = client.put(f"/hazards/{doc['_id']}", content=body, headers=headers)
                latencies.append((time.perf_counter() - start) * 1000)
                if response.status_code != 201:
                    raise RuntimeError(
                        f"PUT answered {response.status_code}: {response.text[:300]}"
                    )
            numbers.values["p50"] = percentile(latencies, 50)
            numbers.values["p95"] = percentile(latencies, 95)
            say(
                f"{label} single-doc PUT: p50 {numbers.values['p50']:.2f} ms, "
                f"p95 {numbers.values['p95']:.2f} ms ({len(latencies)} sequential PUTs)"
            )

            for round_no in range(1, options.rounds + 1):
                since: Any = 0
                pulled = pages = 0
                start = time.perf_counter()
                deadline = start + options.pull_seconds
                while time.perf_counter() < deadline and pages < 10_000:
                    response = client.get(
                        "/hazards/_changes",
                        params={"since": since, "limit": 1000, "include_docs": "true"},
                    )
                    response.raise_for_status()
                    page = response.json()
                    pulled += len(page["results"])
                    pages += 1
                    since = page["last_seq"]
                    if len(page["results"]) < 1000:
                        break
                elapsed = time.perf_counter() - start
                numbers.values["pull"] = max(numbers.values.get("pull", 0.0), pulled / elapsed)
                say(
                    f"{label} _changes?include_docs=true from 0, limit 1000, round {round_no}: "
                    f"{pulled / elapsed:,.0f} changes/s ({pulled:,} changes in {pages} pages, "
                    f"{elapsed:.1f} s)"
                )
        finally:
            for http in clients:
                http.close()
    return numbers


# ---------------------------------------------------------------------------------- report

ROWS = (
    # key, label, higher is better
    ("push50", "push ingest, batches of 50 (mutations/s)", True),
    ("push500", "push ingest, batches of 500 (mutations/s)", True),
    ("push50_orm", "  before: ORM object per row, batches of 50", True),
    ("push500_orm", "  before: ORM object per row, batches of 500", True),
    ("p50", "single-mutation push p50 (ms)", False),
    ("p95", "single-mutation push p95 (ms)", False),
    ("pull", "pull, limit 1000 (changes/s)", True),
)


def fmt(value: float | None, higher: bool) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if higher else f"{value:.2f}"


def ratio(ours: float | None, peer: float | None) -> str:
    if ours is None or peer is None or not peer:
        return "—"
    return f"{ours / peer:.2f}"


def _get(numbers: Numbers | None, key: str) -> float | None:
    return None if numbers is None else numbers.values.get(key)


def _table(
    results: dict[str, Numbers | None], peer_key: str, options: Options, orm_rows: bool = True
) -> list[str]:
    """GridSafe on both databases beside one of the peers, with the ratios (and the ORM baseline's
    rows when `orm_rows`)."""
    sqlite, postgres, peer = (results.get(k) for k in ("sqlite", "postgresql", peer_key))
    header = ("metric", "SQLite", "PostgreSQL", "peer", "SQLite/peer", "PG/peer", "target")
    rows: list[tuple[str, ...]] = [header]
    rows.append(
        (
            "server processes",
            fmt(_get(sqlite, "workers"), True),
            fmt(_get(postgres, "workers"), True),
            "1" if peer is not None else "—",
            "",
            "",
            "",
        )
    )
    for key, label, higher in ROWS:
        peer_metric = key.removesuffix("_orm")
        if key.endswith("_orm") and not (options.orm_baseline and orm_rows):
            continue
        target = ("≥ 2.00" if higher else "≤ 0.50") if not key.endswith("_orm") else ""
        rows.append(
            (
                label,
                fmt(_get(sqlite, key), higher),
                fmt(_get(postgres, key), higher),
                fmt(_get(peer, peer_metric), higher),
                ratio(_get(sqlite, key), _get(peer, peer_metric)),
                ratio(_get(postgres, key), _get(peer, peer_metric)),
                target,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def report(results: dict[str, Numbers | None], options: Options) -> str:
    sqlite, postgres = results.get("sqlite"), results.get("postgresql")
    lines = ["against pouchdb-server in memory (the issue's yardstick):"]
    lines += _table(results, "peer", options)
    if results.get("peer_disk") is not None:
        lines += ["", "against pouchdb-server on LevelDB on disk (stored as GridSafe stores):"]
        lines += _table(results, "peer_disk", options, orm_rows=False)
    lines.append("")
    for name, numbers in (("SQLite", sqlite), ("PostgreSQL", postgres)):
        for size in (50, 500):
            new, old = _get(numbers, f"push{size}"), _get(numbers, f"push{size}_orm")
            if new and old:
                lines.append(
                    f"set-based vs ORM per row, {name}, batches of {size}: ×{new / old:.2f}"
                )
    stale = _get(postgres, "pull_stale")
    if stale:
        lines.append(
            f"PostgreSQL pull before ANALYZE (statistics of the table before the load): "
            f"{stale:,.0f} changes/s"
        )
    lines.append(
        f"ingest: {options.clients} clients, "
        + ("one connection each" if options.keep_alive else "a new connection per batch")
        + " (the peer the same)."
    )
    lines.append(
        "ratios are GridSafe/peer: throughput wants ≥ 2 (twice the peer), latency ≤ 0.5 (half)."
    )
    lines.append(f"issue reference — {REFERENCE_PEER}.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--seconds", type=float, default=2.5, help="per ingest run (default 2.5)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs of each measurement, best counts (default 2)"
    )
    parser.add_argument(
        "--clients", type=int, default=2, help="concurrent pushing clients (default 2)"
    )
    parser.add_argument(
        "--latency-count", type=int, default=300, help="sequential single pushes (default 300)"
    )
    parser.add_argument(
        "--pull-seconds", type=float, default=30.0, help="bound of the pull walk (default 30)"
    )
    parser.add_argument(
        "--no-orm-baseline", action="store_true", help="skip the ORM-per-row baseline"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="server processes per database (default: one per core)",
    )
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="ingest on one connection per client (default: a new connection per batch)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-peer", action="store_true", help="skip pouchdb-server")
    parser.add_argument(
        "--peer-storage",
        nargs="+",
        choices=PEER_STORAGES,
        default=list(PEER_STORAGES),
        help="where the peer keeps its documents, one run each (default: memory disk)",
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    options = Options(
        seconds=args.seconds,
        rounds=max(1, args.rounds),
        clients=max(1, args.clients),
        latency_count=max(1, args.latency_count),
        pull_seconds=args.pull_seconds,
        orm_baseline=not args.no_orm_baseline,
        workers=max(0, args.workers),
        keep_alive=args.keep_alive,
    )
    cores = os.cpu_count() or 1
    say(
        f"GridSafe sync benchmark — {cores} cores, Python {platform.python_version()}, "
        f"server processes: {options.workers or 'one per core'}, "
        f"{options.clients} concurrent clients, "
        f"best of {options.rounds} runs of {options.seconds:g} s per ingest measurement"
    )
    load = os.getloadavg()[0]
    if load > cores / 2:
        say(
            f"warning: load average {load:.1f} on {cores} cores before starting: other processes "
            "compete for the CPU, so these numbers will be low and noisy"
        )
    # Stopped from outside (make interrupted, CI time-out): still stop the servers, drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results: dict[str, Numbers | None] = {}
    started_at = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="gridsafe-bench-") as tmp:
            work = Path(tmp)
            (work / "sqlite").mkdir()
            sqlite_url = f"sqlite:///{work / 'sqlite' / 'data' / 'gridsafe.sqlite3'}"
            results["sqlite"] = bench_gridsafe("sqlite", sqlite_url, work / "sqlite", options)

            if args.no_postgres:
                say("[postgresql] skipped (--no-postgres)")
            elif problem := postgres_problem(POSTGRES_ADMIN_URL):
                say(f"[postgresql] not usable at {POSTGRES_ADMIN_URL} ({problem}): skipped")
            else:
                (work / "postgresql").mkdir()
                with postgres_database(POSTGRES_ADMIN_URL) as url:
                    results["postgresql"] = bench_gridsafe(
                        "postgresql", url, work / "postgresql", options
                    )

            if args.no_peer:
                say("[peer] skipped (--no-peer)")
            else:
                script = install_peer()
                for storage in args.peer_storage:
                    if script is None:
                        break
                    key = "peer" if storage == "memory" else f"peer_{storage}"
                    (work / key).mkdir()
                    results[key] = bench_peer(script, work / key, options, storage)
    finally:
        stop_all()
    say("")
    say(report(results, options))
    say(f"load average at the end: {os.getloadavg()[0]:.1f} on {cores} cores")
    say(f"(took {time.perf_counter() - started_at:.0f} s)")
    if args.json:
        args.json.write_text(
            json.dumps({k: v.values if v else None for k, v in results.items()}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
