"""`make bench-load`: a city's morning against real GridSafe servers, printed, not asserted.

256 concurrent connections (`--connections`) for 60 s (`--seconds`, after `--warmup` s not
counted) from asyncio clients (aiohttp) in 2 processes of their own (`--clients`), every request
to 127.0.0.1, each bounded by a 10 s time-out that counts as a time-out. The mix a morning has:

- anonymous public cards: `GET /e/<token>`, the URL in an enterprise's QR code, for all of them;
- inspectors (200 of them, `--inspectors`, added to the demo data and spread over every grid):
  home `/`, the lists `/enterprises` and `/hazards`, a card `/hazards/<id>` of a hazard they
  reported, sync pulls (`GET /api/v1/sync/pull` from their phone's cursor) and pushes: a photo
  (`PUT /api/v1/photos/<sha256>` of a small JPEG) and then `POST /api/v1/sync/push` of 1-3 hazard
  reports naming it, as the outbox sends them;
- street dispatchers (one per street, at most `--dispatchers`): their queue `/dispatch`.

Every user signs in once at the start through POST /signin, and each inspector's phone reports
two hazards and takes its first snapshot before the clock starts. Servers, per database:

- SQLite (a temporary data folder): one uvicorn process, as `gridsafe run` serves (without its
  worker, and without its access log; nothing in this mix queues more than risk rescoring's
  nudge, at most one a second per process, so the embedded broker stays);
- PostgreSQL (a throw-away database on GRIDSAFE_BENCH_POSTGRES_URL, else
  GRIDSAFE_TEST_POSTGRES_URL, dropped afterwards): the production process model of the README,
  `uvicorn --factory backend.app:create_app_from_env --workers N`, N = cores (`--workers`).

Printed per kind of request: count, req/s, p50, p99, errors (a status ≥ 500 or any other status
than the expected one, or a broken connection) and time-outs; totals; the server's and each client
process's CPU, to show whether the clients kept up.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import platform
import random
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    APP_FACTORY,
    HOST,
    POSTGRES_ADMIN_URL,
    free_port,
    gridsafe_cli,
    percentile,
    server_env,
    sign_in,
    started,
    stop_all,
    tree_cpu_seconds,
    uvicorn_command,
)
from bench.scratch import postgres_database, postgres_problem, say  # noqa: E402
from bench.sync_bench import Workload  # noqa: E402

# Kinds of request, in the order the report lists them, with their share of a morning's requests
# (a push's photo upload goes with it: "push" picks both).
MIX: dict[str, int] = {
    "public card": 25,
    "home": 12,
    "enterprises": 8,
    "hazards": 8,
    "hazard card": 10,
    "dispatch queue": 7,
    "pull": 20,
    "push": 10,
}
KINDS = (*MIX, "photo")
PATHS = {
    "public card": "GET /e/<token>",
    "home": "GET /",
    "enterprises": "GET /enterprises",
    "hazards": "GET /hazards",
    "hazard card": "GET /hazards/<id>",
    "dispatch queue": "GET /dispatch",
    "pull": "GET /api/v1/sync/pull",
    "push": "POST /api/v1/sync/push",
    "photo": "PUT /api/v1/photos/<sha256>",
}
PREFIX = "bench-"


# ---------------------------------------------------------------------------------- the data


@dataclass
class Person:
    username: str
    cookie: str = ""
    csrf: str = ""
    enterprise_ids: list[int] = field(default_factory=list)
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    next_id: int = 1
    cursor: str = ""
    hazards: list[str] = field(default_factory=list)


def add_users(database_url: str, inspectors: int, dispatchers: int) -> dict[str, list[Person]]:
    """Inspectors over every grid in turn and one dispatcher per street (up to `dispatchers`),
    written in one insert; each inspector knows the enterprises of its grid."""
    from sqlalchemy import create_engine, insert, select

    from backend.auth.passwords import hash_password
    from backend.demo.seed import DEMO_PASSWORD
    from backend.models import Enterprise, Role, Unit, UnitLevel, User

    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            grids = conn.execute(
                select(Unit.id).where(Unit.level == UnitLevel.GRID).order_by(Unit.id)
            ).scalars()
            grid_ids = list(grids)
            streets = list(
                conn.execute(
                    select(Unit.id).where(Unit.level == UnitLevel.STREET).order_by(Unit.id)
                ).scalars()
            )
            by_grid: dict[int, list[int]] = {}
            for enterprise_id, grid_id in conn.execute(
                select(Enterprise.id, Enterprise.grid_id).where(Enterprise.active.is_(True))
            ):
                by_grid.setdefault(grid_id, []).append(enterprise_id)
            password = hash_password(DEMO_PASSWORD)  # one hash for all: signing in verifies it
            people: dict[str, list[Person]] = {"inspector": [], "dispatcher": []}
            rows = []
            for n in range(inspectors):
                grid_id = grid_ids[n % len(grid_ids)]
                name = f"{PREFIX}inspector-{n:03d}"
                rows.append(User(username=name, display_name=f"网格员{n:03d}",
                                 password_hash=password, role=Role.GRID_INSPECTOR,
                                 unit_id=grid_id, phone=f"027-0000 {n:04d}"))  # fmt: skip
                people["inspector"].append(Person(name, enterprise_ids=by_grid.get(grid_id, [])))
            for n, street_id in enumerate(streets[:dispatchers]):
                name = f"{PREFIX}dispatcher-{n:03d}"
                rows.append(User(username=name, display_name=f"调度员{n:03d}",
                                 password_hash=password, role=Role.STREET_DISPATCHER,
                                 unit_id=street_id))  # fmt: skip
                people["dispatcher"].append(Person(name))
            conn.execute(
                insert(User.__table__),  # type: ignore[attr-defined]
                [row.model_dump(exclude={"id"}) for row in rows],
            )
    finally:
        engine.dispose()
    return people


def public_paths(database_url: str, secret: str) -> list[str]:
    """The path in every enterprise's QR code, at its current version (no row: version 1)."""
    from sqlalchemy import create_engine, select

    from backend.codes.keys import code_path, keyring_of
    from backend.models import CodeKind, Enterprise, QrCode
    from backend.settings import Settings

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            ids = list(conn.execute(select(Enterprise.id).order_by(Enterprise.id)).scalars())
            versions = dict(
                conn.execute(
                    select(QrCode.subject_id, QrCode.version).where(
                        QrCode.kind == CodeKind.ENTERPRISE, QrCode.revoked.is_(False)
                    )
                ).all()
            )
            revoked = set(
                conn.execute(
                    select(QrCode.subject_id).where(
                        QrCode.kind == CodeKind.ENTERPRISE, QrCode.revoked.is_(True)
                    )
                ).scalars()
            )
    finally:
        engine.dispose()
    keyring = keyring_of(Settings(secret_key=secret))
    return [
        code_path(keyring, CodeKind.ENTERPRISE, i, versions.get(i, 1))
        for i in ids
        if i not in revoked
    ]


def report_args(person: Person, rng: random.Random, photo: str | None) -> dict[str, Any]:
    args = Workload(person.enterprise_ids, seed=rng.getrandbits(32)).report_args()
    args["photos"] = [photo] if photo else []
    if not person.enterprise_ids:
        args.pop("enterprise_id")
    return args


def push_body(person: Person, reports: list[dict[str, Any]]) -> bytes:
    now = datetime.now(UTC).isoformat()
    mutations = []
    for args in reports:
        mutations.append({"id": person.next_id, "name": "hazard.report", "args": args, "at": now})
        person.next_id += 1
    return json.dumps({"client_id": person.client_id, "mutations": mutations}).encode()


def prepare(base: str, people: dict[str, list[Person]], threads: int = 4) -> tuple[float, float]:
    """Sign everyone in (POST /signin); then each inspector's phone reports two hazards and takes
    its first snapshot, as a phone used yesterday would have. Returns the seconds of each step."""

    def signed_in(person: Person) -> None:
        with httpx.Client(base_url=base, timeout=120) as http:
            person.csrf = sign_in(http, person.username)
            person.cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies.jar)

    def first_sync(person: Person) -> None:
        rng = random.Random(person.username)
        headers = {"cookie": person.cookie, "x-csrftoken": person.csrf}
        with httpx.Client(base_url=base, timeout=120, headers=headers) as http:
            reports = [report_args(person, rng, None) for _ in range(2)]
            response = http.post(
                "/api/v1/sync/push",
                content=push_body(person, reports),
                headers={"content-type": "application/json"},
            )
            if response.status_code != 200 or response.text.count('"status":"applied"') != 2:
                raise RuntimeError(f"first push of {person.username}: {response.text[:300]}")
            person.hazards += [args["id"] for args in reports]
            page = http.get(
                "/api/v1/sync/pull",
                params={"cursor": "", "client_id": person.client_id, "limit": 5000},
            )
            page.raise_for_status()
            person.cursor = page.json()["cursor"]

    seconds = []
    with ThreadPoolExecutor(threads) as pool:
        for step, group in (
            (signed_in, [p for g in people.values() for p in g]),
            (first_sync, people["inspector"]),
        ):
            t0 = time.perf_counter()
            for _ in pool.map(step, group):
                pass
            seconds.append(time.perf_counter() - t0)
    return seconds[0], seconds[1]


# ---------------------------------------------------------------------------------- a client


@dataclass
class Plan:
    """What one client process does: its connections, its share of the inspectors (nobody else
    pushes for them), every dispatcher and public card, and for how long once started."""

    number: int
    base: str
    connections: int
    inspectors: list[Person]
    dispatchers: list[Person]
    public: list[str]
    warmup: float
    seconds: float
    timeout: float
    max_requests: int
    seed: int


@dataclass
class Tally:
    number: int
    latencies: dict[str, list[float]] = field(default_factory=dict)  # ms of answered requests
    errors: Counter[str] = field(default_factory=Counter)
    broken: Counter[str] = field(default_factory=Counter)  # no answer: the connection failed
    statuses: Counter[str] = field(default_factory=Counter)  # "kind status" of unexpected answers
    timeouts: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    last_end: float = 0.0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0


def small_jpeg(rng: random.Random) -> bytes:
    """A 32×24 JPEG of noise (about 2 KB): a new photo each time."""
    from PIL import Image

    image = Image.frombytes("RGB", (32, 24), rng.randbytes(32 * 24 * 3))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def run_client(plan: Plan, ready: Any, go: Any, start: Any, results: Any) -> None:
    """Entry point of a client process: says when it is ready, starts when told (at the wall
    clock time in `start`, the same for every client process), puts its tally in `results`."""
    results.put(asyncio.run(_client(plan, ready, go, start)))


async def _client(plan: Plan, ready: Any, go: Any, start: Any) -> Tally:
    import aiohttp

    tally = Tally(plan.number, latencies={kind: [] for kind in KINDS})
    measure_from = stop_at = 0.0
    rng = random.Random(plan.seed)
    locks = {p.username: asyncio.Lock() for p in plan.inspectors}
    kinds = [k for k in MIX if k != "dispatch queue" or plan.dispatchers]
    weights = [MIX[k] for k in kinds]
    started_requests = 0
    timeout = aiohttp.ClientTimeout(total=plan.timeout)
    connector = aiohttp.TCPConnector(limit=plan.connections, limit_per_host=plan.connections)

    async with aiohttp.ClientSession(
        base_url=plan.base,
        connector=connector,
        timeout=timeout,
        cookie_jar=aiohttp.DummyCookieJar(),  # each request carries its person's cookies
    ) as http:

        async def call(
            kind: str,
            method: str,
            path: str,
            person: Person | None,
            expect: tuple[int, ...] = (200,),
            body: bytes | None = None,
            content_type: str = "",
            params: dict[str, str] | None = None,
        ) -> bytes | None:
            headers = {}
            if person is not None:
                headers["cookie"] = person.cookie
                if method != "GET":
                    headers["x-csrftoken"] = person.csrf
            if content_type:
                headers["content-type"] = content_type
            t0 = time.time()
            counted = t0 >= measure_from
            try:
                async with http.request(
                    method, path, headers=headers, data=body, params=params, allow_redirects=False
                ) as response:
                    content = await response.read()
                    status = response.status
            except TimeoutError:
                if counted:
                    tally.timeouts[kind] += 1
                return None
            except aiohttp.ClientError as error:
                if counted:
                    tally.errors[kind] += 1
                    tally.broken[kind] += 1
                    if len(tally.examples) < 10:
                        tally.examples.append(f"{kind}: {error.__class__.__name__}: {error}")
                return None
            finally:
                tally.last_end = max(tally.last_end, time.time())
            if counted:
                tally.latencies[kind].append((time.time() - t0) * 1000)
            if status not in expect:
                if counted:
                    tally.errors[kind] += 1
                    key = f"{kind} {status}"
                    if not tally.statuses[key] and len(tally.examples) < 10:  # first of each
                        tally.examples.append(f"{kind} {path[:60]}: {status} {content[:160]!r}")
                    tally.statuses[key] += 1
                return None
            return content

        async def public_card() -> None:
            await call("public card", "GET", rng.choice(plan.public), None)

        def page(kind: str, path: str) -> Callable[[], Awaitable[None]]:
            async def get() -> None:
                await call(kind, "GET", path, rng.choice(plan.inspectors))

            return get

        async def hazard_card() -> None:
            person = rng.choice(plan.inspectors)
            await call("hazard card", "GET", f"/hazards/{rng.choice(person.hazards)}", person)

        async def dispatch_queue() -> None:
            await call("dispatch queue", "GET", "/dispatch", rng.choice(plan.dispatchers))

        async def pull() -> None:
            person = rng.choice(plan.inspectors)
            params = {"cursor": person.cursor, "client_id": person.client_id, "limit": "1000"}
            content = await call("pull", "GET", "/api/v1/sync/pull", person, params=params)
            if content is not None:
                person.cursor = json.loads(content)["cursor"]

        async def push() -> None:
            person = rng.choice(plan.inspectors)
            async with locks[person.username]:  # one phone sends one batch at a time
                photo = small_jpeg(rng)
                digest = hashlib.sha256(photo).hexdigest()
                stored = await call(
                    "photo",
                    "PUT",
                    f"/api/v1/photos/{digest}",
                    person,
                    expect=(200, 201),
                    body=photo,
                    content_type="image/jpeg",
                )
                reports = [
                    report_args(person, rng, digest if n == 0 and stored else None)
                    for n in range(rng.randint(1, 3))
                ]
                content = await call(
                    "push",
                    "POST",
                    "/api/v1/sync/push",
                    person,
                    body=push_body(person, reports),
                    content_type="application/json",
                )
                if content is None:
                    return
                if content.count(b'"status":"applied"') != len(reports):
                    tally.errors["push"] += 1  # answered, but not every report applied
                    if len(tally.examples) < 10:
                        tally.examples.append(f"push: {content[:200]!r}")
                    return
                person.hazards = [*person.hazards[-19:], *(args["id"] for args in reports)]

        actions: dict[str, Callable[[], Awaitable[None]]] = {
            "public card": public_card,
            "home": page("home", "/"),
            "enterprises": page("enterprises", "/enterprises"),
            "hazards": page("hazards", "/hazards"),
            "hazard card": hazard_card,
            "dispatch queue": dispatch_queue,
            "pull": pull,
            "push": push,
        }

        async def connection() -> None:
            nonlocal started_requests
            while time.time() < stop_at and started_requests < plan.max_requests:
                started_requests += 1
                await actions[rng.choices(kinds, weights)[0]]()

        ready.put(plan.number)
        await asyncio.to_thread(go.wait)
        measure_from = start.value + plan.warmup
        stop_at = measure_from + plan.seconds
        await asyncio.sleep(max(0.0, start.value - time.time()))
        cpu0, wall0 = time.process_time(), time.time()
        await asyncio.gather(*(connection() for _ in range(plan.connections)))
        tally.cpu_seconds = time.process_time() - cpu0
        tally.wall_seconds = time.time() - wall0
    return tally


# ---------------------------------------------------------------------------------- a run


@dataclass
class Options:
    seconds: float
    warmup: float
    connections: int
    clients: int
    inspectors: int
    dispatchers: int
    workers: int
    timeout: float
    max_requests: int


@dataclass
class Outcome:
    label: str
    model: str
    rows: list[tuple[str, ...]]
    notes: list[str]
    values: dict[str, Any]


def bench_database(label: str, database_url: str, work: Path, options: Options) -> Outcome:
    data_dir = work / "data"
    env = server_env(data_dir, database_url)
    t0 = time.perf_counter()
    gridsafe_cli(env, "migrate")
    gridsafe_cli(env, "seed-demo")
    people = add_users(database_url, options.inspectors, options.dispatchers)
    public = public_paths(database_url, env["GRIDSAFE_SECRET_KEY"])
    say(
        f"[{label}] migrated, demo data, {len(people['inspector'])} inspectors and "
        f"{len(people['dispatcher'])} dispatchers added in {time.perf_counter() - t0:.1f} s; "
        f"{len(public)} public cards"
    )
    workers = (options.workers or os.cpu_count() or 1) if label == "postgresql" else 1
    model = (
        f"uvicorn --factory {APP_FACTORY} --workers {workers} (production)"
        if label == "postgresql"
        else "one uvicorn process (as gridsafe run, without worker and access log)"
    )
    port = free_port()
    base = f"http://{HOST}:{port}"
    with started(
        uvicorn_command(APP_FACTORY, port, workers),
        env,
        ROOT,
        work / "server.log",
        f"{base}/healthz",
    ) as server:
        signing_in, syncing = prepare(base, people)
        say(
            f"[{label}] {model}: everyone signed in through POST /signin in {signing_in:.1f} s; "
            f"each inspector's phone reported 2 hazards and pulled a snapshot in {syncing:.1f} s"
        )
        inspectors, dispatchers = people["inspector"], people["dispatcher"]
        plans = [
            Plan(
                number=n,
                base=base,
                connections=options.connections // options.clients
                + (1 if n < options.connections % options.clients else 0),
                inspectors=inspectors[n :: options.clients],
                dispatchers=dispatchers,
                public=public,
                warmup=options.warmup,
                seconds=options.seconds,
                timeout=options.timeout,
                max_requests=options.max_requests // options.clients,
                seed=n,
            )
            for n in range(options.clients)
        ]
        say(
            f"[{label}] {options.connections} connections from {options.clients} client "
            f"processes: {options.warmup:g} s warm-up, then {options.seconds:g} s measured"
        )
        context = get_context("spawn")
        ready, results, go = context.Queue(), context.Queue(), context.Event()
        start = context.Value("d", 0.0)
        clients = [
            context.Process(target=run_client, args=(plan, ready, go, start, results))
            for plan in plans
        ]
        try:
            for client in clients:
                client.start()
            for _ in clients:
                ready.get(timeout=120)
            start.value = start_at = time.time() + 0.2
            measure_from = start_at + options.warmup
            stop_at = measure_from + options.seconds
            go.set()
            time.sleep(max(0.0, measure_from - time.time()))
            server_cpu0, wall0 = tree_cpu_seconds(server.pid), time.time()
            time.sleep(max(0.0, stop_at - time.time()))
            server_cpu1, wall1 = tree_cpu_seconds(server.pid), time.time()
            tallies = sorted(
                (results.get(timeout=options.timeout + 120) for _ in clients),
                key=lambda t: t.number,
            )
            for client in clients:
                client.join(timeout=30)
        finally:
            for client in clients:  # only on the way out after a failure
                if client.is_alive():
                    client.terminate()
                    client.join(timeout=10)
        log = (work / "server.log").read_text(errors="replace")
    elapsed = max([stop_at, *(t.last_end for t in tallies)]) - measure_from
    rows, values = table(tallies, elapsed)
    notes = []
    for n, tally in enumerate(tallies, start=1):
        notes.append(
            f"client process {n}: {plans[n - 1].connections} connections, CPU "
            f"{tally.cpu_seconds:.1f} s in {tally.wall_seconds:.1f} s "
            f"({tally.cpu_seconds / tally.wall_seconds:.0%} of a core)"
        )
    if server_cpu0 is not None and server_cpu1 is not None:
        share = (server_cpu1 - server_cpu0) / (wall1 - wall0)
        notes.append(
            f"server ({workers} process{'es' if workers > 1 else ''}): {share:.0%} of a core "
            f"while measured ({os.cpu_count()} cores on the machine, shared with the clients)"
        )
    statuses = sum((t.statuses for t in tallies), Counter[str]())
    if statuses:
        notes.append(
            "unexpected answers: "
            + ", ".join(f"{key} ×{n:,}" for key, n in statuses.most_common())
            + ' (503: the server\'s line was full, see README "Under load")'
        )
    examples = [e for t in tallies for e in t.examples][:8]
    if examples:
        notes.append("first errors:")
        notes += [f"  {e}" for e in examples]
    tracebacks = log.count("Traceback")
    if tracebacks:
        notes.append(f"server log: {tracebacks} tracebacks ({work / 'server.log'} is removed)")
    values["workers"] = workers
    return Outcome(label, model, rows, notes, values)


def table(tallies: Sequence[Tally], elapsed: float) -> tuple[list[tuple[str, ...]], dict[str, Any]]:
    rows: list[tuple[str, ...]] = []
    values: dict[str, Any] = {"seconds": elapsed}
    everything: list[float] = []
    total = errors_total = timeouts_total = 0

    def row(name: str, count: int, latencies: list[float], errors: int, timeouts: int) -> None:
        p50 = percentile(latencies, 50) if latencies else None
        p99 = percentile(latencies, 99) if latencies else None
        values[name] = {
            "count": count,
            "per_second": count / elapsed,
            "p50_ms": p50,
            "p99_ms": p99,
            "errors": errors,
            "timeouts": timeouts,
        }
        rows.append(
            (
                f"{name} ({PATHS[name]})" if name in PATHS else name,
                f"{count:,}",
                f"{count / elapsed:,.1f}",
                "—" if p50 is None else f"{p50:.1f}",
                "—" if p99 is None else f"{p99:.1f}",
                f"{errors:,}",
                f"{timeouts:,}",
            )
        )

    for kind in KINDS:
        latencies = [ms for t in tallies for ms in t.latencies[kind]]
        errors = sum(t.errors[kind] for t in tallies)
        timeouts = sum(t.timeouts[kind] for t in tallies)
        # Answered, timed out, or no answer at all (a broken connection).
        count = len(latencies) + timeouts + sum(t.broken[kind] for t in tallies)
        row(kind, count, latencies, errors, timeouts)
        everything += latencies
        total += count
        errors_total += errors
        timeouts_total += timeouts
    row("total", total, everything, errors_total, timeouts_total)
    return rows, values


def render(outcome: Outcome) -> list[str]:
    header = ("request", "count", "req/s", "p50 ms", "p99 ms", "errors", "time-outs")
    rows = [header, *outcome.rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [f"{outcome.label}: {outcome.model}"]
    for n, cells in enumerate(rows):
        if n == len(rows) - 1:
            lines.append("  ".join("-" * w for w in widths))
        lines.append(
            "  ".join(
                [cells[0].ljust(widths[0])]
                + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += outcome.notes
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured (default 60)")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="load before the measured part (default 5)"
    )
    parser.add_argument(
        "--connections", type=int, default=256, help="concurrent connections (default 256)"
    )
    parser.add_argument(
        "--clients", type=int, default=2, help="client processes sharing them (default 2)"
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql", "both"),
        default="both",
        help="which database(s), one run each (default both)",
    )
    parser.add_argument(
        "--inspectors", type=int, default=200, help="inspectors added and signed in (default 200)"
    )
    parser.add_argument(
        "--dispatchers", type=int, default=40, help="dispatchers, one per street (default 40)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="server processes on PostgreSQL (default: one per core)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="per request, counted as a time-out (default 10)",
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=5_000_000,
        help="bound on requests started over the run (default 5,000,000)",
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    options = Options(
        seconds=max(1.0, args.seconds),
        warmup=max(0.0, args.warmup),
        connections=max(1, args.connections),
        clients=max(1, min(args.clients, args.connections, args.inspectors)),
        inspectors=max(1, args.inspectors),
        dispatchers=max(0, args.dispatchers),
        workers=max(0, args.workers),
        timeout=max(0.1, args.timeout),
        max_requests=max(1, args.max_requests),
    )
    cores = os.cpu_count() or 1
    say(
        f"GridSafe load benchmark — {cores} cores, Python {platform.python_version()}, "
        f"{options.connections} connections from {options.clients} client processes, "
        f"{options.seconds:g} s measured after {options.warmup:g} s, "
        f"time-out {options.timeout:g} s per request"
    )
    say(
        "mix: "
        + ", ".join(f"{kind} {share}%" for kind, share in MIX.items())
        + " (each push sends its photo first)"
    )
    load = os.getloadavg()[0]
    if load > cores / 2:
        say(
            f"warning: load average {load:.1f} on {cores} cores before starting: other processes "
            "compete for the CPU, so these numbers will be low and noisy"
        )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    outcomes: list[Outcome] = []
    started_at = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="gridsafe-load-") as tmp:
            work = Path(tmp)
            if args.database in ("sqlite", "both"):
                (work / "sqlite").mkdir()
                url = f"sqlite:///{work / 'sqlite' / 'data' / 'gridsafe.sqlite3'}"
                outcomes.append(bench_database("sqlite", url, work / "sqlite", options))
            if args.database in ("postgresql", "both"):
                if problem := postgres_problem(POSTGRES_ADMIN_URL):
                    say(f"[postgresql] not usable at {POSTGRES_ADMIN_URL} ({problem}): skipped")
                else:
                    (work / "postgresql").mkdir()
                    with postgres_database(POSTGRES_ADMIN_URL, "gridsafe_load_") as url:
                        outcomes.append(
                            bench_database("postgresql", url, work / "postgresql", options)
                        )
    finally:
        stop_all()
    for outcome in outcomes:
        say("")
        for line in render(outcome):
            say(line)
    say("")
    say(
        "count: requests started in the measured part; req/s over it (and the tail of the last "
        "answers); p50/p99 of answered requests; errors: status ≥ 500, another unexpected "
        "status, a push not applied in full, or a broken connection."
    )
    say(f"load average at the end: {os.getloadavg()[0]:.1f} on {cores} cores")
    say(f"(took {time.perf_counter() - started_at:.0f} s)")
    if args.json:
        args.json.write_text(
            json.dumps({o.label: {"model": o.model, **o.values} for o in outcomes}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
