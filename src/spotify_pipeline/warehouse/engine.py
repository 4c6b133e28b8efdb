"""Engines and schema migrations.

``make_engine(url)`` sets each engine up the same way everywhere (CLI, jobs, DAGs, tests);
``upgrade(engine)`` runs the Alembic migrations shipped inside the package, so no ``alembic.ini``
is needed at runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url

from .types import MYSQL

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str | URL) -> Engine:
    """An engine for a SQLite or MySQL/MariaDB URL.

    SQLite: the parent folder of a file database is created; WAL (readers never block the loader),
    foreign keys on, a busy timeout, and transactions that really begin at ``BEGIN`` (pysqlite's own
    implicit transactions would let a read and a later write run outside one transaction).
    MySQL: utf8mb4 on the connection, pre-ping (long-lived Airflow workers outlive server timeouts),
    READ COMMITTED (no gap locks between loaders of different users).
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend in MYSQL:
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        return create_engine(parsed, pool_pre_ping=True, pool_recycle=3600, isolation_level="READ COMMITTED")
    raise ValueError(
        f"warehouse URL scheme {parsed.drivername!r} is not supported: use sqlite:///path/to/file.db "
        "or mysql+pymysql://user:password@host/db (setting SPOTIFY_PIPELINE_WAREHOUSE_URL)"
    )


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def _alembic_config(engine: Engine, connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the warehouse to ``revision`` (the newest by default). Idempotent."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(_alembic_config(engine, conn), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, None for a database never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this package."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()
