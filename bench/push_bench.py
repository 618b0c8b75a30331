"""`make bench-push`: web-push fan-out through a real Celery worker to the loopback push service
(tests/push/receiver.py, which checks every VAPID signature and decrypts every payload, as a
browser does). Printed, not asserted.

Set-up: a temporary data folder, SQLite migrated with the demo data, N subscriptions spread over
the demo users, one worker process with beat (`--pool=solo` on its own queue; Redis when
reachable, else the embedded SQLite broker). Measured:
- fan-out: one dispatch to every demo user, committed, queued; encrypted pushes per second until
  the last one arrives, and each push's arrival after the commit (p50/p95), for 1,000 and 10,000;
- single: one dispatch to one device, commit to arrival, p50/p95 over repeated dispatches.
The receiver runs in this process and the worker in another, so both share the machine's cores.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import delete, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.cli import alembic_config  # noqa: E402
from backend.db import make_engine, make_session_factory, session_scope  # noqa: E402
from backend.demo.seed import seed  # noqa: E402
from backend.models import PushSubscription, User, utcnow  # noqa: E402
from backend.push.outbox import notify, send_after_commit  # noqa: E402
from backend.push.vapid import resolve  # noqa: E402
from backend.settings import Settings  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="subscription counts to fan out to")
    parser.add_argument("--single", type=int, default=30, help="single-dispatch repetitions")
    parser.add_argument("--threads", type=int, default=16, help="GRIDSAFE_PUSH_THREADS")
    parser.add_argument("--embedded", action="store_true", help="use the SQLite broker")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size]

    data_dir = Path(tempfile.mkdtemp(prefix="gridsafe-push-bench-"))
    broker = (
        REDIS
        if redis_reachable() and not args.embedded
        else f"sqla+sqlite:///{data_dir / 'broker.sqlite3'}"
    )
    settings = Settings(
        env="dev",
        data_dir=data_dir,
        database_url="",
        broker_url=broker,
        secret_key=SECRET,
        second_channel="none",
        push_threads=args.threads,
    )
    url = settings.resolved_database_url
    from alembic import command

    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        seed(session)
    resolve(settings)  # the worker reads the same generated keys

    queue = f"gridsafe-bench-{uuid.uuid4().hex[:8]}"
    configure(settings).conf.update(task_default_queue=queue)
    env = {
        **os.environ,
        "GRIDSAFE_DATA_DIR": str(data_dir),
        "GRIDSAFE_DATABASE_URL": "",
        "GRIDSAFE_BROKER_URL": broker,
        "GRIDSAFE_SECRET_KEY": SECRET,
        "GRIDSAFE_SECOND_CHANNEL": "none",
        "GRIDSAFE_PUSH_THREADS": str(args.threads),
    }
    # As bench/warning_bench.py: the worker's own default queue is the bench's, so the retries it
    # queues (a push refused under load) and beat's sweep of lost ones come back to the queue it
    # listens on. Beat runs the push sweep only: the devices belong to the demo users, and the
    # escalation sweep's notices to them would arrive among the pushes being counted.
    worker_main = (
        "import sys; from backend.worker import celery_app;"
        f" celery_app.conf.task_default_queue = {queue!r};"
        " celery_app.conf.beat_schedule = {"
        "'sweep-push-deliveries': celery_app.conf.beat_schedule['sweep-push-deliveries']};"
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
    say(f"broker: {broker.split('://')[0]}, push threads: {args.threads}, cpus: {os.cpu_count()}")
    try:
        time.sleep(3)  # the worker connects
        with factory() as session:
            users = [int(u) for u in session.execute(select(User.id).order_by(User.id)).scalars()]
        for size in sizes:
            fan_out(factory, settings, receiver, users, size)
        single(factory, settings, receiver, users[0], args.single)
    finally:
        receiver.stop()
        worker.terminate()
        worker.wait(timeout=20)
        engine.dispose()


def subscribe_devices(factory, receiver: Receiver, users: list[int], count: int) -> None:  # type: ignore[no-untyped-def]
    rows = []
    for i in range(count):
        device = receiver.device()
        rows.append(
            {
                "user_id": users[i % len(users)],
                "endpoint": device.endpoint,
                "p256dh": device.p256dh,
                "auth": device.auth,
                "device": "bench",
                "created_at": utcnow(),
            }
        )
    with session_scope(factory) as session:
        session.execute(delete(PushSubscription))
        session.execute(insert(PushSubscription.__table__), rows)  # type: ignore[attr-defined]


def dispatch(factory, settings: Settings, users: list[int]) -> float:  # type: ignore[no-untyped-def]
    with factory() as session:
        ids = notify(
            session,
            user_ids=users,
            kind="task.assigned",
            title="新任务：红卫路 危化品仓库",
            body="受理期限 18:00",
            url="/notifications",
            actions=[{"action": "accept", "title": "接受"}],
        )
        session.commit()
    committed = time.monotonic()
    send_after_commit(settings, ids)
    return committed


def fan_out(factory, settings: Settings, receiver: Receiver, users: list[int], size: int) -> None:  # type: ignore[no-untyped-def]
    subscribe_devices(factory, receiver, users, size)
    receiver.pushes.clear()
    committed = dispatch(factory, settings, users)
    pushes = receiver.wait_for(size, timeout=600)
    arrivals = [push.at - committed for push in pushes]
    total = max(arrivals)
    say(
        f"fan-out {size:>6} devices: {size / total:7.0f} encrypted pushes/s, all in {total:6.1f} s;"
        f" commit→arrival p50 {percentile(arrivals, 0.5):6.2f} s, p95 {percentile(arrivals, 0.95):6.2f} s"
        f"  (receiver errors: {len(receiver.errors)})"
    )


def single(factory, settings: Settings, receiver: Receiver, user: int, rounds: int) -> None:  # type: ignore[no-untyped-def]
    subscribe_devices(factory, receiver, [user], 1)
    latencies = []
    for _ in range(rounds):
        receiver.pushes.clear()
        committed = dispatch(factory, settings, [user])
        [push] = receiver.wait_for(1, timeout=30)
        latencies.append(push.at - committed)
    say(
        f"single dispatch, 1 device, {rounds} rounds: commit→arrival"
        f" p50 {statistics.median(latencies) * 1000:6.0f} ms,"
        f" p95 {percentile(latencies, 0.95) * 1000:6.0f} ms"
    )


if __name__ == "__main__":
    main()
