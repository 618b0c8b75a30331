"""Delivering notifications: claim pending deliveries, send them in parallel (web push through
pywebpush, the second channel through its sender), record what happened.

A delivery is claimed with a conditional UPDATE before anything is sent, so one that was sent is
never sent again, however many times its task runs. A claim is a lease: a worker that dies
mid-send leaves the row `sending` until the lease ends, then the sweep hands it out again."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests
from py_vapid import Vapid
from pywebpush import WebPushException, webpush
from requests.adapters import HTTPAdapter
from sqlalchemy import Table, and_, delete, or_, select, update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from backend.models import (
    Channel,
    Delivery,
    DeliveryState,
    Notification,
    PushSubscription,
    User,
    utcnow,
)
from backend.push.channels import ChannelError, SecondChannel, SecondMessage, second_channel
from backend.push.vapid import resolve
from backend.settings import Settings

LEASE = timedelta(minutes=5)
# A retry queued with a countdown may run a moment before the time the row records.
EARLY = timedelta(seconds=1)
# Push services accept about 4 kB of payload; the body is cut to stay well inside it.
MAX_PAYLOAD = 3000
ROWS_PER_QUERY = 1000
NOTIFICATION_FIELDS = (
    "id",
    "kind",
    "title",
    "body",
    "url",
    "actions",
    "data",
    "task_id",
    "hazard_id",
)

# Core tables: set-based statements read best (and type-check) on columns, not ORM attributes.
D: Table = Delivery.__table__  # type: ignore[attr-defined]
N: Table = Notification.__table__  # type: ignore[attr-defined]
S: Table = PushSubscription.__table__  # type: ignore[attr-defined]
U: Table = User.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Job:
    delivery_id: int
    channel: str
    attempts: int
    notification: dict[str, Any]
    subscription_id: int | None = None
    endpoint: str | None = None
    p256dh: str = ""
    auth: str = ""
    user: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    state: str  # sent, retry, gone, failed, skipped
    error: str = ""


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    retry_in: float | None = None


def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: 2, 4, 8, 16, 32 … at most 5 minutes."""
    return float(min(300, 2**attempts))


def payload(notification: dict[str, Any]) -> str:
    """What the service worker receives: everything it needs to show and act on the push."""
    body = {
        "id": notification["id"],
        "kind": notification["kind"],
        "title": notification["title"],
        "body": notification["body"],
        "url": notification["url"],
        "actions": notification["actions"],
        "data": notification["data"],
        "task_id": notification["task_id"],
        "hazard_id": notification["hazard_id"],
    }
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    while len(text.encode()) > MAX_PAYLOAD and body["body"]:
        body["body"] = body["body"][: len(body["body"]) // 2] + "…"
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return text


class Sender:
    """Sends jobs from a bounded thread pool; each thread keeps its own keep-alive session."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.vapid = Vapid.from_pem(resolve(settings).private_pem.encode())
        self.second: SecondChannel | None = None
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.mount("https://", HTTPAdapter(pool_connections=16, pool_maxsize=4))
            session.mount("http://", HTTPAdapter(pool_connections=16, pool_maxsize=4))
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def send_all(self, jobs: Sequence[Job]) -> list[Outcome]:
        """Send in parallel; the keep-alive connections last as long as this call."""
        self.second = second_channel(self.settings)
        try:
            if len(jobs) <= 1:
                return [self.send(job) for job in jobs]
            workers = min(self.settings.push_threads, len(jobs))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                return list(pool.map(self.send, jobs))
        finally:
            self.close()

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()
        if self.second is not None:
            self.second.close()
            self.second = None

    def send(self, job: Job) -> Outcome:
        try:
            if job.channel == Channel.SECOND:
                return self._send_second(job)
            return self._send_push(job)
        except Exception as error:
            return Outcome("retry", f"{error.__class__.__name__}: {error}"[:500])

    def _send_push(self, job: Job) -> Outcome:
        if job.endpoint is None:  # the subscription was removed since
            return Outcome("gone", "subscription removed")
        n = job.notification
        try:
            webpush(
                {"endpoint": job.endpoint, "keys": {"p256dh": job.p256dh, "auth": job.auth}},
                data=payload(n),
                vapid_private_key=self.vapid,
                # A fresh dict every call: webpush() writes this endpoint's audience into it.
                vapid_claims={"sub": self.settings.vapid_subject},
                ttl=self.settings.push_ttl_seconds,
                timeout=self.settings.push_timeout_seconds,
                headers={"Urgency": "high" if n["kind"].startswith("task.") else "normal"},
                requests_session=self._session(),
            )
        except WebPushException as error:
            status = getattr(error.response, "status_code", None)
            if status in (404, 410):
                return Outcome("gone", f"push service answered {status}")
            if status is None or status >= 500 or status == 429:
                return Outcome("retry", f"push service: {status or error}"[:500])
            return Outcome("failed", f"push service answered {status}")
        except requests.RequestException as error:  # timeouts, refused or cut connections
            return Outcome("retry", f"{error.__class__.__name__}"[:500])
        return Outcome("sent")

    def _send_second(self, job: Job) -> Outcome:
        if self.second is None:
            return Outcome("skipped")
        n, user = job.notification, job.user
        url = n["url"]
        if self.settings.public_url:
            url = self.settings.public_url.rstrip("/") + url
        message = SecondMessage(
            notification_id=n["id"],
            kind=n["kind"],
            user_id=user["id"],
            username=user["username"],
            phone=user["phone"],
            title=n["title"],
            body=n["body"],
            url=url,
            data=n["data"],
        )
        try:
            self.second.send(message)
        except ChannelError as error:
            return Outcome("retry" if error.transient else "failed", str(error)[:500])
        return Outcome("sent")


def claim(session: Session, notification_ids: Sequence[int], now: datetime) -> list[int]:
    """Take the deliveries of these notifications that are due, or whose lease ran out."""
    due = or_(
        and_(D.c.state == DeliveryState.PENDING, D.c.next_attempt_at <= now + EARLY),
        and_(D.c.state == DeliveryState.SENDING, D.c.next_attempt_at <= now),
    )
    claimed = session.execute(
        update(D)
        .where(D.c.notification_id.in_(notification_ids), due)
        .values(state=DeliveryState.SENDING, attempts=D.c.attempts + 1, next_attempt_at=now + LEASE)
        .returning(D.c.id)
    )
    ids = [int(row) for row in claimed.scalars()]
    session.commit()
    return ids


def load(session: Session, delivery_ids: Sequence[int]) -> list[Job]:
    jobs: list[Job] = []
    for start in range(0, len(delivery_ids), ROWS_PER_QUERY):
        rows = session.execute(
            select(
                D.c.id.label("delivery_id"),
                D.c.channel,
                D.c.attempts,
                N.c.id,
                N.c.user_id,
                N.c.kind,
                N.c.title,
                N.c.body,
                N.c.url,
                N.c.actions,
                N.c.data,
                N.c.task_id,
                N.c.hazard_id,
                S.c.id.label("subscription_id"),
                S.c.endpoint,
                S.c.p256dh,
                S.c.auth,
                U.c.username,
                U.c.phone,
            )
            .select_from(D.join(N, N.c.id == D.c.notification_id).join(U, U.c.id == N.c.user_id))
            .outerjoin(S, S.c.id == D.c.subscription_id)
            .where(D.c.id.in_(delivery_ids[start : start + ROWS_PER_QUERY]))
        ).mappings()
        for row in rows:
            jobs.append(
                Job(
                    delivery_id=row["delivery_id"],
                    channel=row["channel"],
                    attempts=row["attempts"],
                    notification={key: row[key] for key in NOTIFICATION_FIELDS},
                    subscription_id=row["subscription_id"],
                    endpoint=row["endpoint"],
                    p256dh=row["p256dh"] or "",
                    auth=row["auth"] or "",
                    user={"id": row["user_id"], "username": row["username"], "phone": row["phone"]},
                )
            )
    session.rollback()
    return jobs


def record(
    session: Session, settings: Settings, jobs: Sequence[Job], outcomes: Sequence[Outcome]
) -> Report:
    """Write every outcome with a few set-based statements; only rows this worker still holds."""
    now = utcnow()
    report = Report()
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    retries: dict[tuple[int, str], list[int]] = defaultdict(list)
    delivered_subscriptions: list[int] = []
    gone_subscriptions: list[int] = []
    for job, outcome in zip(jobs, outcomes, strict=True):
        state = outcome.state
        if state == "retry" and job.attempts >= settings.push_max_attempts:
            state = "failed"
        report.counts[state] += 1
        if state == "retry":
            retries[(job.attempts, outcome.error)].append(job.delivery_id)
            continue
        groups[(state, outcome.error)].append(job.delivery_id)
        if state == "sent" and job.subscription_id is not None:
            delivered_subscriptions.append(job.subscription_id)
        if state == "gone" and job.subscription_id is not None:
            gone_subscriptions.append(job.subscription_id)
    held = D.c.state == DeliveryState.SENDING
    for (state, error), ids in groups.items():
        values: dict[str, Any] = {"state": state, "last_error": error, "next_attempt_at": None}
        if state == "sent":
            values["sent_at"] = now
        if state == "gone":
            values["subscription_id"] = None
        session.execute(update(D).where(D.c.id.in_(ids), held).values(values))
    for (attempts, error), ids in retries.items():
        wait = backoff(attempts)
        report.retry_in = wait if report.retry_in is None else min(report.retry_in, wait)
        session.execute(
            update(D)
            .where(D.c.id.in_(ids), held)
            .values(
                state=DeliveryState.PENDING,
                last_error=error,
                next_attempt_at=now + timedelta(seconds=wait),
            )
        )
    if delivered_subscriptions:
        session.execute(
            update(S).where(S.c.id.in_(set(delivered_subscriptions))).values(last_success_at=now)
        )
    if gone_subscriptions:
        # The push service's word is final: the device unsubscribed or the browser was reset.
        # Its other deliveries keep their rows (subscription_id becomes NULL) and end as gone.
        session.execute(delete(S).where(S.c.id.in_(set(gone_subscriptions))))
    session.commit()
    return report


def deliver(
    settings: Settings,
    factory: sessionmaker[Session],
    notification_ids: Sequence[int],
    sender: Sender | None = None,
) -> Report:
    """Send what is due of these notifications; the report says when to try the rest again."""
    with factory() as session:
        ids = claim(session, notification_ids, utcnow())
        if not ids:
            return Report()
        jobs = load(session, ids)
        outcomes = (sender or Sender(settings)).send_all(jobs)
        return record(session, settings, jobs, outcomes)


def overdue(session: Session, settings: Settings, limit: int = 10_000) -> list[int]:
    """Notifications with deliveries left behind: pending well past their time (the queue
    message was lost, or never sent because the broker was down) or a lease that ran out."""
    now = utcnow()
    grace = timedelta(seconds=settings.push_sweep_seconds)
    rows = session.execute(
        select(D.c.notification_id)
        .where(
            or_(
                and_(D.c.state == DeliveryState.PENDING, D.c.next_attempt_at <= now - grace),
                and_(D.c.state == DeliveryState.SENDING, D.c.next_attempt_at <= now),
            )
        )
        .distinct()
        .limit(limit)
    ).scalars()
    result = sorted(int(row) for row in rows)
    session.rollback()
    return result
