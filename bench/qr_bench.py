"""`make bench-qr`: how many codes per second the server renders (PNG and SVG), and how long the
print sheet of a grid with 200 enterprises takes. Printed, not asserted.

Rendering is measured in this process on distinct URLs (so no cache helps), as `qr.png` and
`qr.svg` are called by the image endpoints. The print sheet is measured against the real server
(`uvicorn --factory backend.app:create_app_from_env`, one process, SQLite in a temporary data
folder with the demo data and one extra grid of 200 enterprises, three key points each): the page
itself, then the page and every code image on it, fetched six at a time as a browser does.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import qr  # noqa: E402
from backend.db import make_engine, make_session_factory  # noqa: E402
from backend.demo.seed import DEMO_PASSWORD, credit_code  # noqa: E402
from backend.models import Enterprise, KeyPoint, Unit, UnitLevel, utcnow  # noqa: E402
from qr.render import matrix  # noqa: E402

HOST = "127.0.0.1"
SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"  # noqa: S105 (a throw-away server)
BASE = "https://gridsafe.example.org"
STREET = "420107001"  # 红卫路街道, Qingshan
BENCH_GRID = "420107001900"
BROWSER_CONNECTIONS = 6


def say(message: str) -> None:
    print(message, flush=True)


def urls(count: int, offset: int) -> list[str]:
    keyring = qr.Keyring.from_secrets(SECRET)
    return [
        f"{BASE}/e/{qr.issue(keyring, qr.Kind.ENTERPRISE, offset + i, 1)}" for i in range(count)
    ]


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:8.0f} codes/s  ({seconds / count * 1000:5.2f} ms each)"


def bench_rendering(count: int) -> None:
    say(f"Rendering {count} distinct enterprise codes (error correction H, quiet zone 4):")
    matrix.cache_clear()
    batch = urls(count, 10_000)
    start = time.perf_counter()
    for url in batch:
        matrix(url)
    say(f"  layout only (qrcode)   {rate(count, time.perf_counter() - start)}")
    for name, render in (("PNG", lambda u: qr.png(u, scale=10)), ("SVG", qr.svg)):
        matrix.cache_clear()
        batch = urls(count, 20_000 if name == "PNG" else 30_000)
        start = time.perf_counter()
        size = sum(len(render(url)) for url in batch)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        for url in batch:
            render(url)
        warm = time.perf_counter() - start
        say(f"  {name} cold             {rate(count, cold)}  avg {size // count} bytes")
        say(f"  {name} layout cached    {rate(count, warm)}")


# ---------------------------------------------------------------------------- the print sheet


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def prepare(data_dir: Path, enterprises: int) -> int:
    """Migrate, load the demo data, add a grid of `enterprises` enterprises; return its id."""
    env = bench_env(data_dir)
    for command in ("migrate", "seed-demo"):
        subprocess.run(  # noqa: S603  (our own interpreter, fixed arguments)
            [sys.executable, "-m", "backend.cli", command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    engine = make_engine(f"sqlite:///{data_dir / 'gridsafe.sqlite3'}")
    rng = random.Random(200)
    with make_session_factory(engine)() as session:
        street = session.execute(select(Unit).where(Unit.code == STREET)).scalar_one()
        grid = Unit(
            code=BENCH_GRID,
            name="红卫路街道基准测试网格",
            name_en="Hongweilu benchmark grid",
            level=UnitLevel.GRID,
            parent_id=street.id,
            path=f"{street.path}{BENCH_GRID}/",
        )
        session.add(grid)
        session.flush()
        now = utcnow()
        codes: set[str] = set(session.execute(select(Enterprise.credit_code)).scalars())
        rows = []
        for number in range(enterprises):
            code = ""
            while not code or code in codes:
                code = credit_code(rng, "420107")
            codes.add(code)
            rows.append(
                {
                    "name": f"武汉基准测试第{number + 1}号冶金有限公司",
                    "credit_code": code,
                    "industry": "metallurgy",
                    "grid_id": grid.id,
                    "address": "",
                    "contact_name": "",
                    "contact_phone": "",
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        session.execute(insert(Enterprise), rows)
        ids = session.execute(select(Enterprise.id).where(Enterprise.grid_id == grid.id)).scalars()
        points = [
            {"enterprise_id": i, "name": name, "kind": "", "description": "", "active": True}
            for i in ids
            for name in ("高炉平台", "煤气柜", "配电房")
        ]
        session.execute(insert(KeyPoint), points)
        session.commit()
        assert grid.id is not None
        grid_id: int = grid.id
    engine.dispose()
    return grid_id


def bench_env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "GRIDSAFE_DATA_DIR": str(data_dir),
        "GRIDSAFE_SECRET_KEY": SECRET,
        "GRIDSAFE_PUBLIC_URL": BASE,
        "GRIDSAFE_DATABASE_URL": "",
        "GRIDSAFE_BROKER_URL": "",
        "GRIDSAFE_RUN_WORKER": "0",
        "GRIDSAFE_ENV": "dev",
    }


@contextlib.contextmanager
def server(data_dir: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://{HOST}:{port}"
    log = data_dir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603  (our own interpreter, fixed arguments)
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "backend.app:create_app_from_env",
                "--host",
                HOST,
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=ROOT,
            env=bench_env(data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start in 30 s:\n{log.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        # Only the process started here, by its handle.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def signed_in(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    client.get("/signin")
    token = client.cookies["gs_csrf"]
    response = client.post(
        "/signin",
        data={"username": "admin", "password": DEMO_PASSWORD, "_csrf_token": token},
    )
    if response.status_code != 303:
        raise RuntimeError(f"sign-in answered {response.status_code}")
    return client


def image_sources(html: str) -> list[str]:
    import re

    return re.findall(r'<img class="(?:poster|label)-code" src="([^"]+)"', html)


def fetch_all(client: httpx.Client, sources: Sequence[str]) -> int:
    def get(src: str) -> int:
        response = client.get(src)
        response.raise_for_status()
        return len(response.content)

    with ThreadPoolExecutor(BROWSER_CONNECTIONS) as pool:
        return sum(pool.map(get, sources))


def bench_sheet(enterprises: int, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="gridsafe-qr-bench-") as folder:
        data_dir = Path(folder)
        say(f"\nPrint sheet of a grid with {enterprises} enterprises (3 key points each), SQLite:")
        grid_id = prepare(data_dir, enterprises)
        with server(data_dir) as url, contextlib.closing(signed_in(url)) as client:
            page = f"/codes/grids/{grid_id}"
            timings = []
            for _ in range(runs):
                start = time.perf_counter()
                response = client.get(page)
                timings.append(time.perf_counter() - start)
                response.raise_for_status()
            sources = image_sources(response.text)
            say(
                f"  page alone             median {statistics.median(timings) * 1000:7.1f} ms"
                f"  ({len(response.content) // 1024} KiB, {len(sources)} codes)"
            )
            for label in ("cold", "warm"):
                start = time.perf_counter()
                client.get(page).raise_for_status()
                size = fetch_all(client, sources)
                seconds = time.perf_counter() - start
                say(
                    f"  page + every SVG, {label} {seconds * 1000:7.0f} ms"
                    f"  ({len(sources) / seconds:5.0f} codes/s over {BROWSER_CONNECTIONS}"
                    f" connections, {size // 1024} KiB of SVG)"
                )
            pngs = [src.replace("qr.svg", "qr.png") for src in sources]
            start = time.perf_counter()
            size = fetch_all(client, pngs)
            seconds = time.perf_counter() - start
            say(
                f"  every PNG, warm        {seconds * 1000:7.0f} ms"
                f"  ({len(pngs) / seconds:5.0f} codes/s, {size // 1024} KiB)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=500, help="codes to render per format")
    parser.add_argument("--enterprises", type=int, default=200, help="enterprises in the grid")
    parser.add_argument("--runs", type=int, default=5, help="times the sheet page is fetched")
    args = parser.parse_args()
    say(f"GridSafe QR benchmark · {os.cpu_count()} CPUs · Python {sys.version.split()[0]}")
    bench_rendering(args.codes)
    bench_sheet(args.enterprises, args.runs)


if __name__ == "__main__":
    main()
