"""`make bench-warnings`: one targeted warning to 10,000 people, from "send" to the last of their
pushes arriving at the loopback push service (tests/push/receiver.py, which checks every VAPID
signature and decrypts every payload, as a browser does). Printed, not asserted.

Set-up: a temporary data folder, the demo data migrated into SQLite (or --database-url), N grid
inspectors added across the city's grids with one push device each, one Celery worker process
with beat (`--pool=solo` on its own queue; Redis when reachable, else the embedded SQLite broker). The
city officer sends a warning to the role "grid inspector" through the same service the page
calls (selection, warning, recipient rows, notifications, deliveries: one transaction); the
delivery tasks are queued after the commit. Measured: the send transaction, and from the start
of the send to each push's arrival (p50, p95, last). Receiver and worker share the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.auth.policy import Principal  # noqa: E402
from backend.cli import alembic_config  # noqa: E402
from backend.db import make_engine, make_session_factory, session_scope  # noqa: E402
from backend.demo.seed import seed  # noqa: E402
from backend.models import Delivery, PushSubscription, Role, Unit, User, utcnow  # noqa: E402
from backend.push.vapid import resolve  # noqa: E402
from backend.settings import Settings  # noqa: E402
from backend.warnings import services  # noqa: E402
from backend.warnings.targeting import Targeting  # noqa: E402
from backend.worker import configure  # noqa: E402
from tests.push.receiver import Receiver  # noqa: E402

SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"  # noqa: S105 (a throw-away setup)
REDIS = os.environ.get("GRIDSAFE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def say(message: str) -> None:
    print(message, flush=True)


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def add_people(factory, receiver: Receiver, count: int) -> None:  # type: ignore[no-untyped-def]
    """`count` grid inspectors spread over the grids, each with one device at the receiver."""
    with session_scope(factory) as session:
        grids = list(session.execute(select(Unit.id).where(Unit.level == "grid")).scalars())
        password = session.execute(select(User.password_hash).limit(1)).scalar_one()
        tag = uuid.uuid4().hex[:6]
        people = [
            {
                "username": f"bench-{tag}-{i}",
                "display_name": f"网格员{i}",
                "password_hash": password,
                "role": Role.GRID_INSPECTOR.value,
                "unit_id": grids[i % len(grids)],
                "enterprise_id": None,
                "active": True,
                "scope_version": 1,
                "created_at": utcnow(),
            }
            for i in range(count)
        ]
        ids = session.execute(
            insert(User).returning(User.id, sort_by_parameter_order=True),  # type: ignore[arg-type]
            people,
        ).scalars()
        rows = []
        for user_id in ids:
            device = receiver.device()
            rows.append(
                {
                    "user_id": user_id,
                    "endpoint": device.endpoint,
                    "p256dh": device.p256dh,
                    "auth": device.auth,
                    "device": "bench",
                    "created_at": utcnow(),
                }
            )
        session.execute(insert(PushSubscription), rows)


def city_officer(factory) -> Principal:  # type: ignore[no-untyped-def]
    with factory() as session:
        user, path = session.execute(
            select(User, Unit.path)
            .join(Unit, Unit.id == User.unit_id)
            .where(User.username == "city")
        ).one()
        return Principal(
            user.id, user.username, user.display_name, Role(user.role), user.unit_id, path, ""
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=16, help="GRIDSAFE_PUSH_THREADS")
    parser.add_argument("--embedded", action="store_true", help="use the SQLite broker")
    parser.add_argument("--database-url", default="", help="an empty database (default SQLite)")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="gridsafe-warning-bench-"))
    broker = (
        REDIS
        if redis_reachable() and not args.embedded
        else f"sqla+sqlite:///{data_dir / 'broker.sqlite3'}"
    )
    settings = Settings(
        env="dev",
        data_dir=data_dir,
        database_url=args.database_url,
        broker_url=broker,
        secret_key=SECRET,
        second_channel="none",
        push_threads=args.threads,
    )
    url = settings.resolved_database_url
    from alembic import command

    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    factory = make_session_factory(engine, settings)
    with session_scope(factory) as session:
        seed(session)
    resolve(settings)  # the worker reads the same generated keys

    queue = f"gridsafe-bench-{uuid.uuid4().hex[:8]}"
    configure(settings).conf.update(task_default_queue=queue)
    env = {
        **os.environ,
        "GRIDSAFE_DATA_DIR": str(data_dir),
        "GRIDSAFE_DATABASE_URL": args.database_url,
        "GRIDSAFE_BROKER_URL": broker,
        "GRIDSAFE_SECRET_KEY": SECRET,
        "GRIDSAFE_SECOND_CHANNEL": "none",
        "GRIDSAFE_PUSH_THREADS": str(args.threads),
        # A push refused under load (the loopback service's accept queue overflows) waits for
        # its retry; with beat, one lost retry is picked up by the sweep within seconds.
        "GRIDSAFE_PUSH_SWEEP_SECONDS": "5",
    }
    # The worker's own default queue is the bench's, so the retries it queues and beat's sweep
    # come back to it rather than to a queue nobody here listens on.
    worker_main = (
        "import sys; from backend.worker import celery_app;"
        f" celery_app.conf.task_default_queue = {queue!r};"
        " celery_app.worker_main(sys.argv[1:])"
    )
    worker = subprocess.Popen(  # noqa: S603 (our own interpreter)
        [
            sys.executable,
            "-c",
            worker_main,
            "worker",
            "--beat",
            "--pool=solo",
            "--loglevel=warning",
            "-Q",
            queue,
        ],
        cwd=ROOT,
        env=env,
    )
    receiver = Receiver(expected_vapid_key=resolve(settings).public_key).start()
    say(
        f"database: {url.split(':')[0]}, broker: {broker.split('://')[0]},"
        f" push threads: {args.threads}, cpus: {os.cpu_count()}"
    )
    try:
        add_people(factory, receiver, args.recipients)
        sender = city_officer(factory)
        time.sleep(3)  # the worker connects
        draft = services.Draft(
            title="暴雨红色预警",
            level="red",
            body="未来 3 小时有特大暴雨，请立即检查排水和地下空间。",
            instructions="撤离低洼地带人员。",
            valid_until=utcnow() + timedelta(hours=6),
            targeting=Targeting(roles=(Role.GRID_INSPECTOR.value,)),
        )
        started = time.monotonic()
        with factory() as session:
            warning = services.send(session, sender, draft, utcnow())
            session.commit()  # the deliveries are queued by the after-commit listener
        committed = time.monotonic()
        pushes = receiver.wait_for(args.recipients, timeout=900)
        arrivals = [push.at - started for push in pushes]
        last = max(arrivals)
        with factory() as session:
            retried = session.execute(
                select(func.count()).where(Delivery.channel == "webpush", Delivery.attempts > 1)
            ).scalar_one()
        say(
            f"warning to {warning.recipients} people ({args.recipients} devices):"
            f" send transaction {committed - started:5.2f} s;"
            f" send→arrival p50 {percentile(arrivals, 0.5):6.2f} s,"
            f" p95 {percentile(arrivals, 0.95):6.2f} s, last {last:6.2f} s"
            f" ({args.recipients / last:5.0f} pushes/s; {retried} sent again after a refused"
            f" connection; receiver errors: {len(receiver.errors)})"
        )
    finally:
        receiver.stop()
        worker.terminate()
        worker.wait(timeout=20)
        engine.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
