"""Expressions that differ between SQLite and MySQL/MariaDB, compiled per dialect.

``LocalHour(played_at, offset)``: whole hours since 1970-01-01 in local time, where ``offset`` is
a SQL expression of seconds east of UTC (a CASE over the zone's transitions). Integer arithmetic
only: no engine time-zone tables, and ``TIMESTAMPDIFF`` (unlike ``UNIX_TIMESTAMP``) does not read
the MySQL session's time zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, case, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Join

from .localtime import offset_segments


class LocalHour(FunctionElement[int]):
    type = Integer()
    name = "local_hour"
    inherit_cache = True


@compiles(LocalHour)  # str(query) in logs and debuggers: the SQLite spelling
@compiles(LocalHour, "sqlite")
def _local_hour_sqlite(element: LocalHour, compiler: Any, **kw: Any) -> str:
    at, offset = (compiler.process(c, **kw) for c in element.clauses)
    return f"((CAST(strftime('%s', {at}) AS INTEGER) + {offset}) / 3600)"


@compiles(LocalHour, "mysql")
@compiles(LocalHour, "mariadb")
def _local_hour_mysql(element: LocalHour, compiler: Any, **kw: Any) -> str:
    at, offset = (compiler.process(c, **kw) for c in element.clauses)
    return f"((TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {at}) + {offset}) DIV 3600)"


def offset_case(column: Any, segments: list[tuple[Any, int]]) -> ColumnElement[int]:
    """Seconds east of UTC at ``column``'s instant, from ``localtime.offset_segments``: a balanced
    tree of CASEs, so a row costs log2(transitions) comparisons (about 5 over ten years), not 20."""
    if len(segments) == 1:
        return literal(segments[0][1], Integer)
    mid = len(segments) // 2
    at = segments[mid][0]
    return case((column < at, offset_case(column, segments[:mid])), else_=offset_case(column, segments[mid:]))


class Unindexed(FunctionElement[Any]):
    """A column as a grouping key SQLite will not read an index for: ``GROUP BY track_id`` over a
    few days of plays otherwise walks ``(user_id, track_id, ...)`` through every play of the user
    to skip a sort, instead of the ``(user_id, played_at, ...)`` range. Plain elsewhere."""

    inherit_cache = True
    name = "unindexed"

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(Unindexed)
def _unindexed(element: Unindexed, compiler: Any, **kw: Any) -> str:
    (column,) = (str(compiler.process(c, **kw)) for c in element.clauses)
    return column


@compiles(Unindexed, "sqlite")
def _unindexed_sqlite(element: Unindexed, compiler: Any, **kw: Any) -> str:
    (column,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"+{column}"


def must(at: datetime | None) -> datetime:
    """A MIN over a non-empty group: never None."""
    assert at is not None
    return at


__all__ = ["LocalHour", "Unindexed", "must", "offset_case", "offset_segments"]


class Ordered(Join):
    """An inner join whose left side SQLite reads first (``CROSS JOIN ... ON``, which SQLite never
    reorders): without statistics it otherwise starts from a listener's whole ``play_tracks`` range
    to meet a short list of artists. A plain join elsewhere."""

    inherit_cache = True


@compiles(Ordered, "sqlite")
def _ordered_sqlite(element: Ordered, compiler: Any, **kw: Any) -> str:
    kw.pop("asfrom", None)
    left = element.left._compiler_dispatch(compiler, asfrom=True, **kw)
    right = element.right._compiler_dispatch(compiler, asfrom=True, **kw)
    assert element.onclause is not None  # built with one
    on = element.onclause._compiler_dispatch(compiler, **kw)
    return f"{left} CROSS JOIN {right} ON {on}"
