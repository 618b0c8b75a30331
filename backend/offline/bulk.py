"""Set-based inserts for the sync hot path, without SQLAlchemy's per-row parameter work.

`session.execute(insert(table), rows)` builds, checks and converts every value of every row in
Python (`construct_params`, bind processors) before the driver sees it; for a push of 500
reports that is most of the request. Here each (table, columns, dialect) gets its SQL and one
converter per column once; rows become tuples and go to the driver in one call: an
`executemany` of one prepared statement on SQLite, one `COPY … FROM STDIN` on PostgreSQL.
What is stored is what Core would store: the same Python-side column defaults, the same UTC
timestamps (as the same text on SQLite), the same JSON values (written compactly by msgspec),
and database errors still arrive as SQLAlchemy's `DBAPIError` family, so callers roll back
exactly as before. Anything else (another driver, a default that needs SQL) goes through Core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import msgspec
from sqlalchemy import JSON, Connection, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from backend.models.base import UTCDateTime

Converter = Callable[[Any], Any]
# (table, key names, dialect) -> (INSERT, COPY or "", converters, defaults for absent columns)
_Plan = tuple[str, str, tuple[Converter | None, ...], tuple[Callable[[], Any], ...]]
# COPY costs two round trips where a pipelined executemany costs one: it pays from a few rows on.
COPY_FROM_ROWS = 16
_plans: dict[tuple[str, tuple[str, ...], str], _Plan | None] = {}


def _sqlite_utc(value: datetime | None) -> str | None:
    """UTCDateTime then SQLite's DATETIME storage format, in one step."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _json_text(value: Any) -> str:
    # msgspec writes the same JSON values as json.dumps, compact and in UTF-8, four times faster;
    # Python None becomes the JSON text null, as with Core's JSON type (none_as_null is off).
    return _encode_json(value).decode()


_encode_json = msgspec.json.Encoder().encode


def _converter(column: Any, dialect: Dialect) -> Converter | None:
    if isinstance(column.type, UTCDateTime) and dialect.name == "sqlite":
        return _sqlite_utc
    if isinstance(column.type, JSON):
        return _json_text
    processor: Converter | None = column.type._cached_bind_processor(dialect)
    return processor


def _default(column: Any) -> Callable[[], Any] | None:
    """The Python-side default Core would fill in for an absent column; None when it has none
    (the database's own default or autoincrement applies). Raises LookupError when Core would
    need SQL for it, so the caller falls back to Core."""
    default = column.default
    if default is None:
        return None
    if default.is_scalar:
        value = default.arg
        return lambda: value
    if default.is_callable:
        function = default.arg
        return lambda: function(None)
    raise LookupError(column.name)


def _plan(table: Table, keys: tuple[str, ...], dialect: Dialect) -> _Plan | None:
    cache_key = (table.name, keys, dialect.name)
    if cache_key in _plans:
        return _plans[cache_key]
    plan: _Plan | None = None
    fast = dialect.name == "sqlite" or (dialect.name, dialect.driver) == ("postgresql", "psycopg")
    if fast and keys and set(keys) <= set(table.c.keys()):
        try:
            defaults = {
                c.name: d for c in table.c if c.name not in keys and (d := _default(c)) is not None
            }
        except LookupError:
            defaults = None
        if defaults is not None:
            names = keys + tuple(defaults)
            quote = dialect.identifier_preparer.quote
            columns = ", ".join(quote(name) for name in names)
            target = dialect.identifier_preparer.format_table(table)
            marks = ", ".join("?" if dialect.name == "sqlite" else "%s" for _ in names)
            # Names from the table's metadata, quoted by the dialect; values are bound.
            sql = f"INSERT INTO {target} ({columns}) VALUES ({marks})"  # noqa: S608
            copy = f"COPY {target} ({columns}) FROM STDIN" if dialect.name == "postgresql" else ""
            converters = tuple(_converter(table.c[name], dialect) for name in names)
            plan = (sql, copy, converters, tuple(defaults.values()))
    _plans[cache_key] = plan
    return plan


def _tuples(
    rows: Sequence[dict[str, Any]],
    keys: tuple[str, ...],
    converters: tuple[Converter | None, ...],
    defaults: tuple[Callable[[], Any], ...],
) -> list[tuple[Any, ...]]:
    # Column by column: itemgetter, map and zip run in C, and a value repeated down a column
    # (the batch's timestamps) is converted once.
    get = itemgetter(*keys)
    picked = map(get, rows) if len(keys) > 1 else ((get(row),) for row in rows)
    columns: list[Sequence[Any]] = list(zip(*picked, strict=True))
    columns += [[default() for _ in rows] for default in defaults]
    for i, convert in enumerate(converters):
        if convert is None:
            continue
        column = columns[i]
        if convert is _sqlite_utc:
            once = {value: convert(value) for value in set(column)}
            columns[i] = [once[value] for value in column]
        else:
            columns[i] = list(map(convert, column))
    return list(zip(*columns, strict=True))


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts of column values) into `table` in order, as Core's executemany would."""
    start = 0
    while start < len(rows):
        # Consecutive rows with the same columns go together; the order of rows is kept.
        keys = tuple(rows[start])
        end = start + 1
        while end < len(rows) and tuple(rows[end]) == keys:
            end += 1
        _insert_run(connection, table, rows[start:end], keys)
        start = end


def _insert_run(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: tuple[str, ...]
) -> None:
    plan = _plan(table, keys, connection.dialect)
    if plan is None:
        connection.execute(insert(table), list(rows))
        return
    sql, copy_sql, converters, defaults = plan
    values = _tuples(rows, keys, converters, defaults)
    if not copy_sql or len(values) < COPY_FROM_ROWS:
        connection.exec_driver_sql(sql, values)
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    error_base = connection.dialect.loaded_dbapi.Error
    try:
        with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for row in values:
                copy.write_row(row)
    except error_base as error:
        raise DBAPIError.instance(copy_sql, None, error, error_base) from error
