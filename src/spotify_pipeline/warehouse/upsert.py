"""Every dialect-specific statement of the warehouse, in one place.

``insert_ignore`` adds rows whose key is not there yet and reports how many it added;
``upsert`` adds or updates. Both are chunked executemany statements (a year of plays loads in
well under a second). SQLite and PostgreSQL use ``ON CONFLICT DO NOTHING / DO UPDATE``;
MySQL/MariaDB ``INSERT IGNORE`` and ``ON DUPLICATE KEY UPDATE``.

``INSERT IGNORE`` ignores more than duplicate keys: MySQL turns an over-long string into a
truncated one, a number out of its column's range into the nearest one it can hold (3,000,000,000
into 2,147,483,647) and a NULL in a NOT NULL column into '' or 0, with only a warning. So rows are
checked against the table first (``check_rows``), which also makes SQLite (which enforces no
lengths or ranges at all) reject exactly what MySQL would, and refuse text that is no valid
Unicode (a lone surrogate), which neither can store as UTF-8.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, func
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import StatementError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import BigInteger, Boolean, Integer, String

from .types import MYSQL, LongText

CHUNK = 1000  # rows per executemany: well under MySQL's max_allowed_packet for our widest rows
_NOTHING = object()


class RowRejected(ValueError):
    """A row does not fit its table (a NOT NULL column empty, a string too long)."""


def insert_ignore(conn: Connection, table: Table, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert the rows whose primary/unique key is new; return how many were inserted."""
    inserted = 0
    for chunk in _chunks(rows):
        check_rows(table, chunk)
        # Both drivers report the rows actually inserted for an executemany: sqlite3 sums the
        # changes, MySQL counts an ignored duplicate as 0 affected rows (also with FOUND_ROWS).
        inserted += _executemany(conn, table, _Statement(table, "ignore", tuple(chunk[0])), chunk)
    return inserted


class _Statement(NamedTuple):
    """What identifies one compiled statement: the same key always compiles to the same SQL on
    the same dialect, so it is compiled once per dialect and reused (see ``_compiled``)."""

    table: Table
    op: str  # "ignore" or "upsert"
    columns: tuple[str, ...]  # the rows' keys, in the rows' order
    key_cols: tuple[str, ...] = ()
    update_cols: tuple[str, ...] = ()
    keep_cols: tuple[str, ...] = ()

    def build(self, conn: Connection) -> Any:
        table = self.table
        if self.op == "ignore":
            if _is_mysql(conn):
                return mysql.insert(table).prefix_with("IGNORE")
            return _on_conflict_insert(conn, table).on_conflict_do_nothing()
        if _is_mysql(conn):
            my = mysql.insert(table)
            sets = _assignments(table, my.inserted, self.update_cols, self.keep_cols)
            return my.on_duplicate_key_update(sets) if sets else my.prefix_with("IGNORE")
        # SQLite and PostgreSQL share the ON CONFLICT ... DO UPDATE / DO NOTHING form.
        lite = _on_conflict_insert(conn, table)
        sets = _assignments(table, lite.excluded, self.update_cols, self.keep_cols)
        if sets:
            return lite.on_conflict_do_update(index_elements=list(self.key_cols), set_=sets)
        return lite.on_conflict_do_nothing(index_elements=list(self.key_cols))


class _Compiled(NamedTuple):
    sql: str
    positional: bool
    names: list[str]  # parameter order (positional) or names (named paramstyle)
    convert: Sequence[tuple[int, Callable[[Any], Any]]]  # (index in names, the column's bind processor)


# One small cache per dialect object (weak: an engine disposed of takes its entries with it). The SQL
# depends on the dialect's server version too (MySQL 8.0.20+ spells ON DUPLICATE KEY UPDATE with an
# alias), which a per-dialect-object cache respects; the bound is far above the statements we use.
_COMPILED: weakref.WeakKeyDictionary[Dialect, dict[_Statement, _Compiled]] = weakref.WeakKeyDictionary()
_COMPILED_MAX = 512


def _compiled(conn: Connection, statement: _Statement) -> _Compiled:
    dialect = conn.dialect
    cache = _COMPILED.setdefault(dialect, {})
    hit = cache.get(statement)
    if hit is not None:
        return hit
    keys = list(statement.columns)
    compiled = statement.build(conn).compile(dialect=dialect, column_keys=keys)
    names = list(compiled.positiontup) if compiled.positional and compiled.positiontup else keys
    if set(names) != set(keys) or set(compiled.binds) - set(keys):
        # Every bind must come from a row value: no literal is bound into these statements.
        raise RuntimeError(
            f"{statement.table.name}: unexpected parameters {sorted(compiled.binds)} for {keys}"
        )
    table = statement.table
    procs = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    convert = [(i, proc) for i, proc in enumerate(procs) if proc is not None]
    result = _Compiled(str(compiled), bool(compiled.positional), names, convert)
    if len(cache) >= _COMPILED_MAX:
        cache.clear()
    cache[statement] = result
    return result


def _executemany(
    conn: Connection, table: Table, statement: _Statement, chunk: Sequence[Mapping[str, Any]]
) -> int:
    """Run the statement once per row of ``chunk`` (all rows have the same keys: ``check_rows``).

    ``conn.execute(stmt, rows)`` rebuilds every row's parameters through the compiled statement's
    generic machinery, which costs several times the database's own work for wide rows (profiled on
    the 500k-record import: 60 % of the write time), and compiling the statement again costs about
    as much as a small page's rows (profiled on ``process``: 1.4 ms per object). Here the statement
    is compiled once per dialect (``_compiled``) and each column's bind processor (the same
    ``UtcDateTime`` and dialect conversions) is applied directly; the driver gets plain tuples, as a
    hand-written executemany would.
    """
    c = _compiled(conn, statement)
    names = c.names
    params: list[Any] = []
    # The last value each processor converted, and what it gave: a value shared by the whole chunk
    # (loaded_at, one object for every row of an import batch) is converted once, not per row.
    # Processors are pure and datetimes immutable, so reusing the result for the same object is exact.
    last: list[tuple[Any, Any]] = [(_NOTHING, None)] * len(c.convert)
    for row in chunk:
        values = [row[name] for name in names]
        try:
            for j, (i, proc) in enumerate(c.convert):
                value = values[i]
                seen, out = last[j]
                if value is not seen:
                    out = proc(value)
                    last[j] = (value, out)
                values[i] = out
        except Exception as exc:
            # The error SQLAlchemy raises for a value its bind processing refuses (a naive datetime):
            # callers catch StatementError whichever path bound the row.
            raise StatementError(f"({type(exc).__name__}) {exc}", c.sql, dict(row), exc) from exc
        params.append(tuple(values) if c.positional else dict(zip(names, values, strict=True)))
    return int(conn.exec_driver_sql(c.sql, params).rowcount)


def upsert(
    conn: Connection,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    key_cols: Sequence[str],
    update_cols: Sequence[str],
    *,
    keep_cols: Sequence[str] = (),
) -> None:
    """Insert rows, or update ``update_cols`` of the row with the same ``key_cols``.

    ``keep_cols`` are updated only when the new value is not NULL (COALESCE(new, old)): a field an
    API answer left out (popularity in Development Mode) does not erase one we already have.
    ``key_cols`` must be the table's primary key or a unique key (MySQL picks the conflict itself).
    """
    for chunk in _chunks(rows):
        check_rows(table, chunk)
        statement = _Statement(
            table, "upsert", tuple(chunk[0]), tuple(key_cols), tuple(update_cols), tuple(keep_cols)
        )
        _executemany(conn, table, statement, chunk)


class _Rules(NamedTuple):
    required: list[str]
    limits: list[tuple[str, int]]  # String columns: most characters
    text: list[str]  # every string column: valid Unicode
    byte_limits: list[tuple[str, int]]  # LongText columns: most UTF-8 bytes
    ranges: list[tuple[str, int, int]]  # integer columns: (name, lowest, highest)


_RULES: weakref.WeakKeyDictionary[Table, _Rules] = weakref.WeakKeyDictionary()


def _rules(table: Table) -> _Rules:
    rules = _RULES.get(table)
    if rules is None:
        required = [
            c.name
            for c in table.columns
            if not c.nullable and c.default is None and c is not table.autoincrement_column
        ]
        limits = [
            (c.name, c.type.length) for c in table.columns if isinstance(c.type, String) and c.type.length
        ]
        text = [c.name for c in table.columns if isinstance(c.type, String | LongText)]
        byte_limits = [(c.name, LongText.MAX_BYTES) for c in table.columns if isinstance(c.type, LongText)]
        ranges = [(c.name, *bounds) for c in table.columns if (bounds := _range(c.type)) is not None]
        rules = _RULES[table] = _Rules(required, limits, text, byte_limits, ranges)
    return rules


def _range(type_: Any) -> tuple[int, int] | None:
    # BigInteger is an Integer subclass: test it first. A Boolean is no Integer in SQLAlchemy.
    if isinstance(type_, BigInteger):
        return -(2**63), 2**63 - 1
    if isinstance(type_, Integer) and not isinstance(type_, Boolean):
        return -(2**31), 2**31 - 1
    return None


def check_rows(
    table: Table, rows: Sequence[Mapping[str, Any]], columns: Mapping[str, Sequence[Any]] | None = None
) -> None:
    """Raise RowRejected when a row would be changed or refused by the database (see module doc).

    Column by column rather than row by row: one comprehension per column costs a third of the
    nested loops (profiled on the import, where this ran for every one of 500k rows). ``columns``:
    the rows' values by column where the caller already has them; a column every row shares one
    value of may hold that value alone (it is then checked once, and reported as row 0's)."""
    if not rows:
        return
    required, limits, *_ = _rules(table)
    keys = rows[0].keys()
    column_of = _column_reader(rows, columns)
    for n, row in enumerate(rows):
        if row.keys() != keys:  # a set comparison, without building a set per row
            raise RowRejected(
                f"{table.name}: row {n} has columns {sorted(row)}, the first row {sorted(keys)}"
            )
    for name in required:
        column = column_of(name)
        if None in column:
            n = column.index(None)
            raise RowRejected(f"{table.name}.{name} is required but row {n} has none: {_brief(rows[n])}")
    for name, length in limits:
        if name not in keys:
            continue
        sizes = [len(v) if isinstance(v, str) else 0 for v in column_of(name)]
        if max(sizes) > length:
            n = next(i for i, size in enumerate(sizes) if size > length)
            raise RowRejected(
                f"{table.name}.{name} holds at most {length} characters; row {n} has {sizes[n]}: {_brief(rows[n])}"
            )
    _check_text(table, rows, keys, column_of)
    _check_ranges(table, rows, keys, column_of)


def _column_reader(
    rows: Sequence[Mapping[str, Any]], columns: Mapping[str, Sequence[Any]] | None
) -> Callable[[str], Sequence[Any]]:
    read: dict[str, Sequence[Any]] = {}  # each column built once: the checks of a column share it

    def column_of(name: str) -> Sequence[Any]:
        column = read.get(name)
        if column is None:
            if columns is not None and name in columns:
                column = columns[name]
            else:
                column = [row.get(name) for row in rows]
            read[name] = column
        return column

    return column_of


def _check_text(
    table: Table, rows: Sequence[Mapping[str, Any]], keys: Any, column_of: Callable[[str], Sequence[Any]]
) -> None:
    """Every string valid Unicode, and within its LongText column's bytes. ASCII (nearly every
    value) is one byte a character and always valid, so only other strings are encoded."""
    rules = _rules(table)
    byte_limits = dict(rules.byte_limits)
    for name in rules.text:
        if name not in keys:
            continue
        column = column_of(name)
        limit = byte_limits.get(name)
        for n in [i for i, v in enumerate(column) if v.__class__ is str and not v.isascii()]:
            try:
                size = len(column[n].encode("utf-8"))
            except UnicodeEncodeError as exc:
                raise RowRejected(
                    f"{table.name}.{name} of row {n} holds a lone surrogate at character {exc.start}, "
                    f"which is no valid Unicode text: {_brief(rows[n])}"
                ) from None
            if limit is not None and size > limit:
                raise RowRejected(f"{table.name}.{name} holds at most {limit:,} bytes; row {n} has {size:,}")
        if limit is not None:
            sizes = [len(v) if v.__class__ is str else 0 for v in column]
            if max(sizes) > limit:
                n = next(i for i, size in enumerate(sizes) if size > limit)
                raise RowRejected(
                    f"{table.name}.{name} holds at most {limit:,} bytes; row {n} has {sizes[n]:,}"
                )


def _check_ranges(
    table: Table, rows: Sequence[Mapping[str, Any]], keys: Any, column_of: Callable[[str], Sequence[Any]]
) -> None:
    """Whole numbers within their column's range: MySQL would clamp the others (``INSERT IGNORE``)."""
    for name, low, high in _rules(table).ranges:
        if name not in keys:
            continue
        column = column_of(name)
        if all(v is None or (v.__class__ is int and low <= v <= high) for v in column):
            continue
        n = next(
            i for i, v in enumerate(column) if not (v is None or (v.__class__ is int and low <= v <= high))
        )
        value = column[n]
        shown = (
            f"a {value.bit_length()}-bit integer"
            if isinstance(value, int) and abs(value) > 10**30
            else repr(value)[:60]
        )
        raise RowRejected(
            f"{table.name}.{name} holds whole numbers {low}..{high}; row {n} has {shown}: {_brief(rows[n])}"
        )


def _assignments(
    table: Table, new: Any, update_cols: Sequence[str], keep_cols: Sequence[str]
) -> dict[str, ColumnElement[Any]]:
    sets: dict[str, ColumnElement[Any]] = {name: new[name] for name in update_cols}
    for name in keep_cols:
        sets[name] = func.coalesce(new[name], table.c[name])
    return sets


def _on_conflict_insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _is_mysql(conn: Connection) -> bool:
    return conn.dialect.name in MYSQL


def _chunks(rows: Iterable[Mapping[str, Any]]) -> Iterator[list[Mapping[str, Any]]]:
    chunk: list[Mapping[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _brief(row: Mapping[str, Any]) -> str:
    shown = {
        k: (v[:40] + "…" if isinstance(v, str) and len(v) > 40 else v)
        for k, v in row.items()
        if v is not None
    }
    return repr(shown)[:300]
