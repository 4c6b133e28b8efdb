"""Column types that behave the same on SQLite and MySQL/MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

MYSQL = ("mysql", "mariadb")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in Python, naive UTC ``DATETIME(3)`` in the database.

    The conversion lives in the type, so no query can store local time or a naive value by
    mistake: binding a naive datetime raises. Values are truncated to the millisecond on bind so
    SQLite (which would keep microseconds) and MySQL (``DATETIME(3)``) hold exactly the same thing.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in MYSQL:
            return dialect.type_descriptor(mysql.DATETIME(fsp=3))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"{value!r} is not a timezone-aware datetime; the warehouse stores UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None, microsecond=value.microsecond // 1000 * 1000)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def datetime3() -> TypeEngine[datetime]:
    """The plain column type a migration creates for a ``UtcDateTime`` column."""
    return DateTime().with_variant(mysql.DATETIME(fsp=3), *MYSQL)
