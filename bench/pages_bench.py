"""`make bench-pages`: how fast GridSafe serves its busiest pages next to a floor, printed, not
asserted.

The floor (bench/floor_app.py) is the least a page costs on the same stack: one Litestar process
rendering 50 rows of an indexed SQLite table through Jinja, no sign-in. GridSafe runs in one
uvicorn process on SQLite (a temporary data folder, migrated and loaded with the demo data
through the `gridsafe` CLI), as `gridsafe run` serves. Pages: the inspector's home `/`, the
dispatcher's queue `/dispatch`, the enterprise list `/enterprises`, a hazard card `/hazards/<id>`
(one is reported through sync push when the demo has none) and the public card `/e/<token>` of an
enterprise's QR code (no sign-in). Signed-in pages carry a session cookie from a real
POST /signin.

Each page: wrk, 32 connections, 2 s of warm-up then 10 s measured (`--seconds`), with its
latency percentiles. The report prints req/s, p50, p99, the ratio to the floor's req/s and whether
each page meets the target (≥ 50 % of the floor's req/s and p99 ≤ 25 ms). With `--py-spy DIR`
the GridSafe server is sampled by py-spy during each page's measured run (speedscope files in
DIR, and the top functions printed). Loopback only; everything started is stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    APP_FACTORY,
    HOST,
    free_port,
    gridsafe_cli,
    server_env,
    sign_in,
    started,
    stop_all,
    tree_cpu_seconds,
    uvicorn_command,
)
from bench.scratch import say  # noqa: E402
from bench.sync_bench import Workload  # noqa: E402

TARGET_RATIO = 0.5
TARGET_P99_MS = 25.0
PAGES = ("home", "dispatch", "enterprises", "hazard", "public")
ACCEPT_ENCODING = "gzip, deflate, br, zstd"
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class Page:
    name: str
    path: str
    cookie: str  # the Cookie header; empty: anonymous
    who: str


@dataclass
class WrkResult:
    requests: int
    per_second: float
    p50: float  # ms
    p99: float  # ms
    non_2xx: int
    socket_errors: int
    server_cpu: float | None  # share of one core the server used while measured


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"wrk latency {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def wrk(
    url: str, seconds: float, connections: int, threads: int, cookie: str, server_pid: int
) -> WrkResult:
    command = [
        shutil.which("wrk") or "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        # As a browser asks: GridSafe gzips its pages then (the floor never does).
        "-H",
        f"Accept-Encoding: {ACCEPT_ENCODING}",
        *(["-H", f"Cookie: {cookie}"] if cookie else []),
        url,
    ]
    cpu_before, t0 = tree_cpu_seconds(server_pid), time.perf_counter()
    result = subprocess.run(  # noqa: S603  (wrk against our own loopback server)
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    cpu_after, elapsed = tree_cpu_seconds(server_pid), time.perf_counter() - t0
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed: {result.stdout}{result.stderr}")
    out = result.stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    requests = re.search(r"(\d+) requests in", out)
    per_second = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if not (requests and per_second and "50" in latency and "99" in latency):
        raise RuntimeError(f"could not read wrk's output:\n{out}{result.stderr}")
    server_cpu = (
        (cpu_after - cpu_before) / elapsed
        if cpu_before is not None and cpu_after is not None
        else None
    )
    return WrkResult(
        requests=int(requests.group(1)),
        per_second=float(per_second.group(1)),
        p50=_ms(latency["50"]),
        p99=_ms(latency["99"]),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
        server_cpu=server_cpu,
    )


def measure(
    label: str, url: str, cookie: str, server_pid: int, options: argparse.Namespace
) -> WrkResult:
    if options.warmup > 0:
        wrk(url, options.warmup, options.connections, options.threads, cookie, server_pid)
    result = wrk(url, options.seconds, options.connections, options.threads, cookie, server_pid)
    cpu = f", server CPU {result.server_cpu:.0%} of a core" if result.server_cpu is not None else ""
    problems = ""
    if result.non_2xx or result.socket_errors:
        problems = f", {result.non_2xx} non-2xx/3xx, {result.socket_errors} socket errors"
    say(
        f"[{label}] {result.per_second:,.0f} req/s, p50 {result.p50:.1f} ms, "
        f"p99 {result.p99:.1f} ms ({result.requests:,} requests{cpu}{problems})"
    )
    return result


# ---------------------------------------------------------------------------------- py-spy


def py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


# Where a page's time goes: each sample goes to the part of its innermost frame that has one
# (SQL run from a template counts as SQL; a middleware's own work as that middleware).
PARTS = (
    ("Jinja rendering (templates and filters)", ("jinja2/", ".html")),
    ("SQL (SQLAlchemy, ORM, driver)", ("sqlalchemy/", "sqlmodel/", "psycopg/", "sqlite3/")),
    ("session look-up (backend/auth)", ("backend/auth/middleware", "backend/auth/services")),
    ("CSRF (litestar csrf middleware)", ("litestar/middleware/csrf",)),
    ("gzip (backend/compression)", ("backend/compression", "gzip.py", "zlib")),
    ("msgspec (JSON, Litestar's encoder)", ("msgspec/",)),
    ("request line (backend/overload)", ("backend/overload",)),
    ("thread hand-off (anyio to_thread)", ("anyio/to_thread", "anyio/_backends")),
    ("uvicorn and httptools", ("uvicorn/",)),
    ("Litestar: routing, DI, requests, responses", ("litestar/",)),
    ("our code (backend/)", ("backend/",)),
    ("event loop (asyncio, uvloop)", ("asyncio/", "uvloop/")),
)
# Frames that every stack has (interpreter start, the thread pool's loop): left out of the lists.
GENERIC = ("threading.py", "concurrent/futures/thread.py", "runpy", "click/", "uvicorn/main.py",
           "uvicorn/__main__.py", "uvicorn/server.py", "uvicorn/_compat.py", "asyncio/runners.py")  # fmt: skip


def top_functions(profile: Path, count: int = 12) -> list[str]:
    """Where the samples of a speedscope file (py-spy --gil: the thread holding the interpreter)
    went: by part, by module of the innermost frame (self time), and the functions
    with the largest inclusive share."""
    data = json.loads(profile.read_text())
    frames = data["shared"]["frames"]
    files = [_short(frame.get("file", "")) for frame in frames]
    parts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = 0
    for sampled in data["profiles"]:
        for stack in sampled["samples"]:
            total += 1
            on_stack = [i for i in stack if not any(g in files[i] for g in GENERIC)]
            if stack:
                modules[_module(files[stack[-1]])] += 1
            parts[_part(files, stack)] += 1
            for name, markers in PARTS:
                if any(marker in files[i] for i in stack for marker in markers):
                    inclusive[name] += 1
            for name in {f"{frames[i]['name']} ({files[i]})" for i in on_stack}:
                functions[name] += 1
    if not total:
        return ["  (no samples)"]
    lines = [
        f"  by part ({total:,} samples): innermost frame / anywhere on the stack (a middleware "
        "wraps the rest of the request)"
    ]
    lines += [
        f"    {n / total:6.1%} / {inclusive[name] / total:6.1%}  {name}"
        for name, n in parts.most_common()
    ]
    lines.append("  by module of the innermost frame (self time):")
    lines += [f"    {n / total:6.1%}  {m}" for m, n in modules.most_common(count)]
    lines.append("  functions, inclusive:")
    lines += [f"    {n / total:6.1%}  {f}" for f, n in functions.most_common(count * 2)]
    return lines


def _part(files: list[str], stack: list[int]) -> str:
    for i in reversed(stack):
        for name, markers in PARTS:
            if any(marker in files[i] for marker in markers):
                return name
    return f"other ({_module(files[stack[-1]])})" if stack else "other"


def _short(path: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/", "/lib/python3."):
        if marker in path:
            rest = path.split(marker, 1)[1]
            return rest.split("/", 1)[1] if marker == "/lib/python3." and "/" in rest else rest
    return path


def _module(path: str) -> str:
    """A bucket: backend/<package>, pwa/templates, a library's top package, or a stdlib file."""
    parts = path.split("/")
    if parts[0] in {"backend", "sync", "qr", "pwa"} and len(parts) > 1:
        return "/".join(parts[:2]).removesuffix(".py")
    return parts[0].removesuffix(".py")


# ---------------------------------------------------------------------------------- GridSafe


def hazard_of_inspector(database_url: str) -> str | None:
    """A hazard the demo inspector may see, if the demo data has one."""
    from sqlalchemy import create_engine, select

    from backend.models import Hazard, Unit, User

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            path = conn.execute(
                select(Unit.path)
                .join(User, User.unit_id == Unit.id)
                .where(User.username == "inspector")
            ).scalar_one()
            found = conn.execute(
                select(Hazard.id).where(Hazard.unit_path.startswith(path)).limit(1)
            ).scalar()
            return None if found is None else str(found)
    finally:
        engine.dispose()


def report_hazard(http: httpx.Client, csrf: str) -> str:
    """Report one hazard as the signed-in inspector through sync push; its id."""
    listing = http.get("/api/v1/enterprises", params={"limit": 50})
    listing.raise_for_status()
    workload = Workload([item["id"] for item in listing.json()["items"]], seed=420107)
    args = workload.report_args()
    body = {
        "client_id": str(uuid.uuid4()),
        "mutations": [
            {"id": 1, "name": "hazard.report", "args": args, "at": datetime.now(UTC).isoformat()}
        ],
    }
    response = http.post("/api/v1/sync/push", json=body, headers={"x-csrftoken": csrf})
    if response.status_code != 200 or response.json()["results"][0]["status"] != "applied":
        raise RuntimeError(f"reporting a hazard failed: {response.status_code} {response.text}")
    return str(args["id"])


def public_path(database_url: str, secret: str) -> str:
    """The path printed in the QR code of the demo's first enterprise (its current version)."""
    from sqlalchemy import create_engine, select

    from backend.codes.keys import code_path, keyring_of
    from backend.models import CodeKind, Enterprise, QrCode
    from backend.settings import Settings

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            enterprise_id = conn.execute(select(Enterprise.id).order_by(Enterprise.id)).scalar()
            version = conn.execute(
                select(QrCode.version).where(
                    QrCode.kind == CodeKind.ENTERPRISE, QrCode.subject_id == enterprise_id
                )
            ).scalar()
    finally:
        engine.dispose()
    if enterprise_id is None:
        raise RuntimeError("the demo data has no enterprise")
    settings = Settings(secret_key=secret)
    return code_path(keyring_of(settings), CodeKind.ENTERPRISE, enterprise_id, version or 1)


def cookie_header(http: httpx.Client) -> str:
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in http.cookies.jar)


def gridsafe_pages(
    base: str, database_url: str, secret: str, clients: list[httpx.Client]
) -> list[Page]:
    inspector = httpx.Client(base_url=base, timeout=30)
    dispatcher = httpx.Client(base_url=base, timeout=30)
    clients += [inspector, dispatcher]
    csrf = sign_in(inspector, "inspector")
    sign_in(dispatcher, "dispatcher")
    hazard = hazard_of_inspector(database_url)
    if hazard is None:
        hazard = report_hazard(inspector, csrf)
        say(f"[gridsafe] the demo has no hazard for the inspector: reported one ({hazard})")
    pages = {
        "home": Page("home", "/", cookie_header(inspector), "inspector"),
        "dispatch": Page("dispatch", "/dispatch", cookie_header(dispatcher), "dispatcher"),
        "enterprises": Page("enterprises", "/enterprises", cookie_header(inspector), "inspector"),
        "hazard": Page("hazard", f"/hazards/{hazard}", cookie_header(inspector), "inspector"),
        "public": Page("public", public_path(database_url, secret), "", "anonymous"),
    }
    return list(pages.values())


def check_page(base: str, page: Page) -> int:
    """One request as wrk will send it: must answer 200; the page's size in bytes."""
    headers = {"cookie": page.cookie} if page.cookie else {}
    response = httpx.get(base + page.path, headers=headers, timeout=30, follow_redirects=False)
    if response.status_code != 200:
        raise RuntimeError(f"{page.path} as {page.who} answered {response.status_code}")
    return len(response.content)


# ---------------------------------------------------------------------------------- run


def report(floor: WrkResult, results: list[tuple[Page, int, WrkResult]]) -> str:
    header = ("page", "as", "bytes", "req/s", "p50 ms", "p99 ms", "/floor", "meets target")
    rows = [header]
    rows.append(
        ("floor (bench/floor_app.py)", "—", "", f"{floor.per_second:,.0f}", f"{floor.p50:.1f}",
         f"{floor.p99:.1f}", "1.00", "")
    )  # fmt: skip
    for page, size, result in results:
        ratio = result.per_second / floor.per_second if floor.per_second else 0.0
        fast = ratio >= TARGET_RATIO
        short = result.p99 <= TARGET_P99_MS
        verdict = "yes" if fast and short else "no (" + ", ".join(
            what for what, ok in (("req/s", fast), ("p99", short)) if not ok
        ) + ")"  # fmt: skip
        if result.non_2xx or result.socket_errors:
            verdict += f"; {result.non_2xx + result.socket_errors} errors"
        rows.append(
            (f"{page.name} {page.path[:28]}", page.who, f"{size:,}", f"{result.per_second:,.0f}",
             f"{result.p50:.1f}", f"{result.p99:.1f}", f"{ratio:.2f}", verdict)
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(row[2:7], widths[2:7], strict=True)]
        cells.append(row[7])
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(
        f"target: ≥ {TARGET_RATIO:.0%} of the floor's req/s and p99 ≤ {TARGET_P99_MS:g} ms "
        "(printed, not asserted)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measured wrk run per page (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured wrk run before each (default 2)"
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--pages",
        nargs="+",
        choices=PAGES,
        default=list(PAGES),
        help="GridSafe pages to measure (default: all)",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="sample the GridSafe server with py-spy during each page's run; speedscope files go "
        "into DIR and the top functions are printed",
    )
    options = parser.parse_args(argv)
    if not shutil.which("wrk"):
        say("wrk is not installed (Debian: apt-get install wrk): nothing measured")
        return 1
    spy = py_spy() if options.py_spy else None
    if options.py_spy and not spy:
        say("py-spy not found: --py-spy ignored")
    cores = os.cpu_count() or 1
    say(
        f"GridSafe page benchmark — {cores} cores, Python {platform.python_version()}, "
        f"wrk {options.threads} threads × {options.connections} connections, "
        f"{options.warmup:g} s warm-up + {options.seconds:g} s per page; "
        "one uvicorn process each (floor, GridSafe on SQLite)"
    )
    load = os.getloadavg()[0]
    if load > cores / 2:
        say(
            f"warning: load average {load:.1f} on {cores} cores before starting: other processes "
            "compete for the CPU (wrk too), so these numbers will be low and noisy"
        )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    clients: list[httpx.Client] = []
    results: list[tuple[Page, int, WrkResult]] = []
    started_at = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="gridsafe-pages-") as tmp:
            work = Path(tmp)
            port = free_port()
            env = {**os.environ, "BENCH_FLOOR_DB": str(work / "floor.sqlite3")}
            with started(
                uvicorn_command("bench.floor_app:create_app", port),
                env,
                ROOT,
                work / "floor.log",
                f"http://{HOST}:{port}/healthz",
            ) as floor_server:
                base = f"http://{HOST}:{port}"
                size = check_page(base, Page("floor", "/", "", "anonymous"))
                say(f"[floor] GET / ({size:,} bytes, 50 rows)")
                floor = measure("floor", f"{base}/", "", floor_server.pid, options)

            data_dir = work / "data"
            database_url = f"sqlite:///{data_dir / 'gridsafe.sqlite3'}"
            env = server_env(data_dir, database_url)
            t0 = time.perf_counter()
            gridsafe_cli(env, "migrate")
            gridsafe_cli(env, "seed-demo")
            say(
                f"[gridsafe] migrated and seeded through the CLI in {time.perf_counter() - t0:.1f} s"
            )
            port = free_port()
            with started(
                uvicorn_command(APP_FACTORY, port),
                env,
                ROOT,
                work / "server.log",
                f"http://{HOST}:{port}/healthz",
            ) as server:
                base = f"http://{HOST}:{port}"
                pages = gridsafe_pages(base, database_url, env["GRIDSAFE_SECRET_KEY"], clients)
                for page in pages:
                    if page.name not in options.pages:
                        continue
                    size = check_page(base, page)
                    label = f"{page.name} {page.path}"
                    say(f"[{label}] as {page.who}, {size:,} bytes")
                    spying = None
                    if spy:
                        options.py_spy.mkdir(parents=True, exist_ok=True)
                        if options.warmup > 0:
                            wrk(base + page.path, options.warmup, options.connections,
                                options.threads, page.cookie, server.pid)  # fmt: skip
                        profile = options.py_spy / f"{page.name}.speedscope.json"
                        spying = subprocess.Popen(  # noqa: S603  (py-spy on our own server)
                            [spy, "record", "--pid", str(server.pid), "--format", "speedscope",
                             "--gil",
                             "--rate", "200", "--duration", str(max(1, round(options.seconds))),
                             "--output", str(profile)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                        )  # fmt: skip
                        result = wrk(base + page.path, options.seconds, options.connections,
                                     options.threads, page.cookie, server.pid)  # fmt: skip
                        say(
                            f"[{label}] under py-spy: {result.per_second:,.0f} req/s, "
                            f"p50 {result.p50:.1f} ms, p99 {result.p99:.1f} ms"
                        )
                    else:
                        result = measure(label, base + page.path, page.cookie, server.pid, options)
                    results.append((page, size, result))
                    if spying is not None:
                        _, errors = spying.communicate(timeout=options.seconds + 60)
                        if spying.returncode == 0:
                            say(f"[{label}] py-spy: {profile}")
                            for line in top_functions(profile):
                                say(line)
                        else:
                            say(f"[{label}] py-spy failed: {errors.decode(errors='replace')}")
    finally:
        for http in clients:
            http.close()
        stop_all()
    say("")
    say(report(floor, results))
    if spy:
        say("(measured under py-spy: slower than without it)")
    say(f"load average at the end: {os.getloadavg()[0]:.1f} on {cores} cores")
    say(f"(took {time.perf_counter() - started_at:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
