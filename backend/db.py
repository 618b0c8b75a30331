"""Database engine and sessions: one engine per process, created from settings, never at import."""

from __future__ import annotations

import fcntl
import itertools
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    URL,
    Connection,
    Engine,
    Select,
    bindparam,
    create_engine,
    event,
    func,
    make_url,
    select,
)
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from backend.settings import Settings

# How long a SQLite writer waits for the write slot before giving up (the push then answers
# `sync_retry`); also the longest a push waits for its turn in the queue (WriterTurn).
SQLITE_BUSY_SECONDS = 30.0
# Every this many sync pushes of a process, the one that has just given its turn back copies
# SQLite's log into the database file (see WriterTurn.checkpoint_due).
CHECKPOINT_EVERY_PUSHES = 40


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False},
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives
            # the application crashing, but a power cut or kernel crash may lose the last ones
            # (never corrupting the file), pushes already answered included. FULL would
            # close that, at one fsync per push. PostgreSQL keeps synchronous_commit on.
            cursor.execute("PRAGMA synchronous=NORMAL")
            # A checkpoint copies the log into the database and syncs both files; at SQLite's
            # default (every 1,000 pages, ~20 pushes of 50 reports) it was a third of a push's
            # commit time. Every 10,000 pages (~40 MB of log) copies each hot index page once
            # instead of ten times and syncs a tenth as often: +10% pushes/s. The price: a log
            # of up to 40 MB to replay after a crash; the size limit gives the disk back after.
            # Sync pushes checkpoint sooner, outside their turn (WriterTurn.checkpoint_due): this
            # is the backstop for the other writers.
            cursor.execute("PRAGMA wal_autocheckpoint=10000")
            cursor.execute("PRAGMA journal_size_limit=67108864")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def sqlite_file(url: str | URL) -> str | None:
    """The database file a SQLite URL names; None for PostgreSQL and for an in-memory SQLite."""
    parsed = make_url(url)
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    return database if database and database != ":memory:" else None


def pool_options(settings: Settings) -> dict[str, Any]:
    """The web process's connection pool: a fixed number of connections, and a bounded wait for
    one (a request that cannot get one in time is answered 503, see backend.errors)."""
    url = settings.resolved_database_url
    if make_url(url).get_backend_name() == "sqlite" and sqlite_file(url) is None:
        return {}  # one connection per thread; there is no pool to size
    return {
        "pool_size": settings.database_pool_size,
        "max_overflow": 0,
        "pool_timeout": settings.database_pool_timeout_seconds,
    }


@dataclass(frozen=True)
class Paged:
    """One page of a statement's rows with the count of all of them as a window column (`total`,
    last), so a list page needs no second, counting query; and the counting query for a page
    past the end, where no row carries the count. Both take the bound values `limit` and
    `offset` (and whatever the statement itself binds), so a list builds them once per shape of
    its filters instead of once per request."""

    rows: Select[Any]
    count: Select[Any]


def paged(stmt: Select[Any], *order: Any) -> Paged:
    return Paged(
        rows=stmt.add_columns(func.count().over().label("total"))
        .order_by(*order)
        .limit(bindparam("limit"))
        .offset(bindparam("offset")),
        count=select(func.count()).select_from(stmt.subquery()),
    )


def run_page(
    session: OrmSession,
    statements: Paged,
    params: dict[str, Any],
    *,
    limit: int,
    offset: int = 0,
) -> tuple[list[Any], int]:
    rows = list(session.execute(statements.rows, {**params, "limit": limit, "offset": offset}))
    if rows:
        return rows, int(rows[0].total)
    if not offset:
        return rows, 0
    return rows, int(session.execute(statements.count, params).scalar_one())


def make_loop_engine(url: str) -> Engine | None:
    """For a SQLite file: one connection of its own for the event loop, which alone uses it.

    Every signed-in request looks its session up before anything else; in a worker thread that
    cost a thread hop, a session and a pool checkout, more than the indexed read itself (a page
    with nothing else to do served ~40% fewer requests per second signed in than signed out). A
    read in WAL mode waits for no writer, so it runs on the loop. It never checks out from the
    request pool: waiting on the loop for a connection that only the loop gives back would be the
    stall again. PostgreSQL reads cross the network and stay in a thread: None."""
    return make_engine(url, poolclass=StaticPool) if sqlite_file(url) else None


@contextmanager
def planned_for_values(connection: Connection) -> Iterator[None]:
    """Statements run inside are planned for the values they are given, every time.

    psycopg prepares a statement once it has run five times, and PostgreSQL then settles on one
    generic plan for it. For a lookup by a list of ids in a table that grows, that plan was made
    while the table was small: a sequential scan, kept until autovacuum next analyzes the table
    (in `make bench`, a sync push's hazard-id lookup took 16.5 ms at 20,000 hazards instead of
    0.45 ms; a morning's backlog of phones syncing would see the same). Planning every
    statement instead would cost a one-report push 1.8 ms, so only such lookups do. Nothing
    changes on SQLite, which plans every statement."""
    driver: Any = connection.connection.driver_connection
    if not hasattr(driver, "prepare_threshold"):
        yield
        return
    threshold = driver.prepare_threshold
    driver.prepare_threshold = None  # this statement goes unprepared: planned with its values
    try:
        yield
    finally:
        driver.prepare_threshold = threshold


class WriterTurnTimeout(Exception):
    """A push waited too long for SQLite's write slot: nothing was written, it may be sent again."""


class WriterTurn:
    """A queue for SQLite's one write slot among sync pushes, across this process's threads and
    the other server processes on the same database file.

    A writer that finds the slot taken is left by SQLite to poll it, asleep 1, 2, 5, 10 … ms
    between tries: a push that writes in 3 ms leaves the next one asleep for longer than that.
    Waiting here before the first write instead (a lock for the threads, then `flock` on a file
    beside the database for the processes), the next push starts the moment the previous one
    ends its transaction. Other writers (pages, workers) do not queue here and are not waited
    for: SQLite's own lock stays the guard, this only orders the pushes among themselves.

    SQLite checkpoints (copies its log into the database file) inside the commit that takes the
    log past `wal_autocheckpoint` pages: ~50 ms once every ~80 pushes of 50 reports, with the turn
    held, so every other push waited as well (measured in process: a commit's mean 1.27 ms against
    a median 0.47 ms). Pushes checkpoint sooner instead, after giving the turn back: a passive
    checkpoint waits for no reader or writer, and the next push writes meanwhile; only the push
    that checkpoints answers later. Two processes, two clients, batches of 50 for 15 s: 7,280-7,620
    against 6,950-7,120 mutations/s, and 56-62 pushes slower than 40 ms against 92-94."""

    def __init__(self, path: Path) -> None:
        self._threads = threading.Lock()
        self._pushes = itertools.count(1)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        # Closed with the turn, which goes with its engine (one per app; the tests make many).
        weakref.finalize(self, os.close, self._fd)

    def acquire(self) -> None:
        """Wait for the turn; `WriterTurnTimeout` after SQLITE_BUSY_SECONDS behind this process's
        other pushes (a page or worker holding SQLite's lock long makes them queue), so a push
        gives up as it would have in SQLite's own wait. Another process's holder gives up on its
        own within that time, so the `flock` wait is bounded too."""
        if not self._threads.acquire(timeout=SQLITE_BUSY_SECONDS):
            raise WriterTurnTimeout()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def checkpoint_due(self) -> bool:
        """Asked by each push stored, after its turn: whether it is the one in
        CHECKPOINT_EVERY_PUSHES of this process to run `checkpoint` now."""
        return next(self._pushes) % CHECKPOINT_EVERY_PUSHES == 0


def checkpoint(connection: Connection) -> None:
    """Copy what SQLite's log holds into the database file as far as no reader still needs it,
    waiting for nobody (PASSIVE); once all of it is copied, the next writer starts the log again
    from its beginning."""
    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


_writer_turns: weakref.WeakKeyDictionary[Engine, WriterTurn] = weakref.WeakKeyDictionary()
_writer_turns_lock = threading.Lock()


def writer_turn(engine: Engine) -> WriterTurn | None:
    """The queue for this SQLite file's write slot (one per engine); None for PostgreSQL, whose
    writers do not shut each other out, and for an in-memory database."""
    database = sqlite_file(engine.url)
    if database is None:
        return None
    with _writer_turns_lock:
        turn = _writer_turns.get(engine)
        if turn is None:
            turn = _writer_turns[engine] = WriterTurn(Path(f"{database}.writer"))
        return turn


# Where a session keeps the application's settings, for code that has a session and nothing
# else: sync mutation handlers (a scanned code's keys), the after-commit notification hook.
SETTINGS_KEY = "gridsafe.settings"


def make_session_factory(engine: Engine, settings: Settings | None = None) -> sessionmaker[Session]:
    info = {SETTINGS_KEY: settings} if settings is not None else {}
    return sessionmaker(engine, class_=Session, expire_on_commit=False, info=info)


def settings_of(session: OrmSession) -> Settings | None:
    settings = session.info.get(SETTINGS_KEY)
    return settings if isinstance(settings, Settings) else None


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for one unit of work outside a request (CLI, worker): commit or roll back."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
