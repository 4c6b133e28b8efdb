"""Column types that behave the same on SQLite, MySQL/MariaDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.dialects import mysql, postgresql
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


class LongText(TypeDecorator[str]):
    """Free text with no limit from Spotify (names, labels): TEXT on SQLite and PostgreSQL, MEDIUMTEXT
    on MySQL.

    MySQL's TEXT holds only 64 KiB (in bytes, and a name takes up to 4 bytes a character);
    MEDIUMTEXT holds 16 MiB. ``MAX_BYTES`` is checked before a row is written
    (``upsert.check_rows``), so SQLite, which has no limit, refuses exactly what MySQL would.
    """

    impl = Text
    cache_ok = True
    MAX_BYTES = 2**24 - 1

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in MYSQL:
            return dialect.type_descriptor(mysql.MEDIUMTEXT())
        if dialect.name == "postgresql":
            # PostgreSQL's TEXT has no limit below 1 GB. Returned as is: PostgreSQL's type_descriptor
            # adapts a generic Text to its string type, which compiles to VARCHAR.
            return postgresql.TEXT()
        return dialect.type_descriptor(Text())


def long_text() -> TypeEngine[str]:
    """The plain column type a migration creates for a ``LongText`` column."""
    return Text().with_variant(mysql.MEDIUMTEXT(), *MYSQL)
