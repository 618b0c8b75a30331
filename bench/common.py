"""Plumbing shared by the benchmarks that run GridSafe as real server processes (`make bench`,
`make bench-load`, `make bench-pages`): free ports, starting a server and waiting for it, stopping
only what was started here, the server's environment, the `gridsafe` command, signing in over
HTTP, percentiles and the CPU a process tree used."""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from backend.demo.seed import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
POSTGRES_ADMIN_URL = os.environ.get(
    "GRIDSAFE_BENCH_POSTGRES_URL",
    os.environ.get(
        "GRIDSAFE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    ),
)
APP_FACTORY = "backend.app:create_app_from_env"

_children: list[subprocess.Popen[bytes]] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a process this benchmark started (and only that one)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if process in _children:
        _children.remove(process)


def stop_all() -> None:
    for process in list(_children):
        stop(process)


@contextlib.contextmanager
def started(
    command: Sequence[str], env: dict[str, str], cwd: Path, log: Path, ready_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server, wait until `ready_url` answers (30 s at most), stop it on the way out."""
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603  (our own interpreter / node, fixed arguments)
            list(command), env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
    _children.append(process)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited at start:\n{tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=2).status_code < 500:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{ready_url} did not answer within 30 s:\n{tail(log)}")
            time.sleep(0.2)
        yield process
    finally:
        stop(process)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def server_env(data_dir: Path, database_url: str) -> dict[str, str]:
    """The server's environment: this one without any GRIDSAFE_ setting of the caller, plus a
    data folder, database, fresh secret and no worker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDSAFE_")}
    env.update(
        GRIDSAFE_ENV="dev",
        GRIDSAFE_DATA_DIR=str(data_dir),
        GRIDSAFE_DATABASE_URL=database_url,
        GRIDSAFE_SECRET_KEY=secrets.token_urlsafe(48),
        GRIDSAFE_RUN_WORKER="0",
        PYTHONUNBUFFERED="1",
    )
    return env


def gridsafe_cli(env: dict[str, str], *args: str) -> None:
    executable = Path(sys.executable).parent / "gridsafe"
    command = (
        [str(executable), *args]
        if executable.exists()
        else [sys.executable, "-c", "from backend.cli import main; main()", *args]
    )
    result = subprocess.run(  # noqa: S603
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"gridsafe {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def uvicorn_command(factory: str, port: int, workers: int = 1) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        *(["--workers", str(workers)] if workers > 1 else []),
    ]


def sign_in(http: httpx.Client, username: str, password: str = DEMO_PASSWORD) -> str:
    """Sign in as a browser does (the form's CSRF cookie, then POST /signin); the session stays in
    `http`'s cookies. Returns the CSRF token for the `X-CSRFToken` header of later writes."""
    http.get("/signin").raise_for_status()
    token = http.cookies.get("gs_csrf") or ""
    response = http.post(
        "/signin",
        data={"username": username, "password": password, "_csrf_token": token},
        follow_redirects=False,
    )
    if response.status_code != 303:
        raise RuntimeError(f"sign-in as {username} failed: {response.status_code}")
    return http.cookies.get("gs_csrf") or token


def _ticks(pid: int) -> int:
    """utime + stime of one process, in clock ticks (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        with contextlib.suppress(OSError, ValueError):
            todo += [
                int(p) for p in Path(f"/proc/{current}/task/{current}/children").read_text().split()
            ]
    return pids


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds used so far by a process and its live children (Linux /proc; None elsewhere)."""
    if not Path(f"/proc/{pid}/stat").exists():
        return None
    return sum(_ticks(p) for p in _tree(pid)) / os.sysconf("SC_CLK_TCK")
