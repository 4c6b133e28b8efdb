"""Wide ``INSERT IGNORE`` batches on MySQL/MariaDB, with fewer values for the driver to escape.

PyMySQL escapes every bound value in Python (a chain of calls per value): on an export import's 23
columns that was most of the time not spent reading the export. ``insert_ignore_bulk`` sends the
same rows with the same checks and the same count of rows inserted, but each statement binds

* a value the whole chunk shares (the user, ``source``, the import id, ``loaded_at``, a flag that
  never changes) once, into a session variable (``SET @sp_bulk_0 = %s``), and the rows refer to it;
* a column that is NULL in every row of the chunk not at all (it is left out: it defaults to NULL);
* every other value as a ``%s`` parameter of one multi-row ``VALUES`` list, datetimes as their
  ``YYYY-MM-DD HH:MM:SS.fff`` text (exactly what ``DATETIME(3)`` keeps; escaped as a string, which
  costs a fifth of formatting a datetime).

Statements are at most ``CHUNK`` rows and ``MAX_TEXT`` characters of text, far below the smallest
``max_allowed_packet`` a server ships with (4 MiB). Every value is still a bound parameter: the SQL
text is built from the table's own column names only. Other engines use ``upsert.insert_ignore``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import StatementError
from sqlalchemy.types import String

from .types import MYSQL, LongText, UtcDateTime
from .upsert import check_rows, insert_ignore

CHUNK = 1000  # rows per statement
MAX_TEXT = 256 * 1024  # characters of string values per statement: at most ~2 MiB once escaped
_VAR = "@sp_bulk_"

Converter = Callable[[Any], Any] | None


def insert_ignore_bulk(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    checked: frozenset[str] = frozenset(),
) -> int:
    """``upsert.insert_ignore`` (the same rows inserted, the same checks, the same count; ``checked``
    as there), made for wide rows on MySQL/MariaDB; on other engines it is ``insert_ignore`` itself."""
    if conn.dialect.name not in MYSQL or not rows:
        return insert_ignore(conn, table, rows, checked=checked)
    try:
        chunks = list(_chunks(table, rows))
    except KeyError:
        check_rows(table, rows)  # a row without a column the first has: named there
        raise
    return sum(_insert_chunk(conn, table, chunk, checked) for chunk in chunks)


def _chunks(table: Table, rows: Sequence[Mapping[str, Any]]) -> Iterator[Sequence[Mapping[str, Any]]]:
    """Slices of at most CHUNK rows and about MAX_TEXT characters of text each."""
    text = [name for name in rows[0] if name in table.c and _is_text(table, name)]
    columns = [[len(v) if v.__class__ is str else 0 for v in (row[name] for row in rows)] for name in text]
    sizes = [sum(row) for row in zip(*columns, strict=True)] if columns else [0] * len(rows)
    start = 0
    while start < len(rows):
        end = min(start + CHUNK, len(rows))
        if sum(sizes[start:end]) > MAX_TEXT:  # long names: fewer rows (at least one)
            size, cut = sizes[start], start + 1
            while cut < end and size + sizes[cut] <= MAX_TEXT:
                size += sizes[cut]
                cut += 1
            end = cut
        yield rows[start:end]
        start = end


def _is_text(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, String | LongText)


def _insert_chunk(
    conn: Connection, table: Table, chunk: Sequence[Mapping[str, Any]], checked: frozenset[str] = frozenset()
) -> int:
    # Each column read once: shared (every row holds the same object) or not, checked as such.
    columns: dict[str, list[Any]] = {}
    try:
        for name in chunk[0]:
            column = [row[name] for row in chunk]
            first = column[0]
            columns[name] = [first] if all(v is first for v in column) else column
    except KeyError:
        check_rows(table, chunk)  # a row without a column the first has: named there
        raise
    check_rows(table, chunk, columns, skip=checked)
    convert = _converters(conn.dialect, table)
    shared: list[tuple[str, Any]] = []  # (column, its one value), bound once
    varying: list[tuple[str, list[Any]]] = []  # (column, its values), bound per row
    for name, column in columns.items():
        if len(column) < len(chunk):
            first = column[0]
            if first is not None or not _defaults_to_null(table, name):
                shared.append((name, _converted(convert[name], column, table, name, chunk)[0]))
        else:
            varying.append((name, _converted(convert[name], column, table, name, chunk)))
    if shared:
        conn.exec_driver_sql(_set_sql(len(shared)), tuple(value for _, value in shared))
    sql = _insert_sql(
        table, tuple(name for name, _ in shared), tuple(name for name, _ in varying), len(chunk)
    )
    params = tuple(v for row in zip(*(values for _, values in varying), strict=True) for v in row)
    return int(conn.exec_driver_sql(sql, params).rowcount)


def _defaults_to_null(table: Table, name: str) -> bool:
    column = table.c[name]
    return bool(column.nullable) and column.default is None and column.server_default is None


def _converted(
    convert: Converter, values: list[Any], table: Table, name: str, chunk: Sequence[Mapping[str, Any]]
) -> list[Any]:
    if convert is None:
        return values
    try:
        return [None if v is None else convert(v) for v in values]
    except Exception as exc:
        # As SQLAlchemy raises it for a value its bind processing refuses (a naive datetime).
        n = next(i for i, v in enumerate(values) if v is not None and not _converts(convert, v))
        raise StatementError(
            f"({type(exc).__name__}) {exc}", f"INSERT INTO {table.name}", dict(chunk[n]), exc
        ) from exc


def _converts(convert: Callable[[Any], Any], value: Any) -> bool:
    try:
        convert(value)
    except Exception:
        return False
    return True


# What each column's values become before the driver sees them: the column type's own bind
# processor, then, for a UtcDateTime, its text. One small cache per dialect object and table.
_CONVERTERS: weakref.WeakKeyDictionary[Dialect, dict[str, dict[str, Converter]]] = weakref.WeakKeyDictionary()


def _converters(dialect: Dialect, table: Table) -> dict[str, Converter]:
    by_table = _CONVERTERS.setdefault(dialect, {})
    found = by_table.get(table.name)
    if found is None:
        found = {}
        for column in table.columns:
            proc = column.type.dialect_impl(dialect).bind_processor(dialect)
            if isinstance(column.type, UtcDateTime):
                found[column.name] = _as_text(proc)
            else:
                found[column.name] = proc
        by_table[table.name] = found
    return found


def _as_text(proc: Converter) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        value = proc(value) if proc is not None else value
        return value.isoformat(" ", "milliseconds") if isinstance(value, datetime) else value

    return convert


_SQL: dict[tuple[str, tuple[str, ...], tuple[str, ...], int], str] = {}
_SQL_MAX = 256


def _set_sql(n: int) -> str:
    return "SET " + ", ".join(f"{_VAR}{i} = %s" for i in range(n))


def _insert_sql(table: Table, shared: tuple[str, ...], varying: tuple[str, ...], rows: int) -> str:
    key = (table.name, shared, varying, rows)
    sql = _SQL.get(key)
    if sql is None:
        columns = ", ".join(f"`{table.c[name].name}`" for name in (*shared, *varying))
        one = "(" + ", ".join([f"{_VAR}{i}" for i in range(len(shared))] + ["%s"] * len(varying)) + ")"
        # Names of our own schema's columns and placeholders only: every value is bound.
        sql = f"INSERT IGNORE INTO `{table.name}` ({columns}) VALUES " + ", ".join([one] * rows)  # noqa: S608
        if len(_SQL) >= _SQL_MAX:
            _SQL.clear()
        _SQL[key] = sql
    return sql
