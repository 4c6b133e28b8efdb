"""Engines and schema migrations.

``make_engine(url)`` sets each engine up the same way everywhere (CLI, jobs, DAGs, tests);
``upgrade(engine)`` runs the Alembic migrations shipped inside the package, so no ``alembic.ini``
is needed at runtime.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from ..errors import WarehouseError
from ..settings import mask_url
from .types import MYSQL

if TYPE_CHECKING:
    from ..settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class DbTimeouts:
    """How long any connection may wait: a database that accepts but never answers must fail a
    run within these, never hang it (cron would pile up runs behind it)."""

    connect: float = 10.0  # the TCP connect; for SQLite the wait for another writer's lock
    read: float = 60.0  # each answer (the login handshake and every statement) and each write

    @classmethod
    def from_settings(cls, settings: Settings) -> DbTimeouts:
        return cls(settings.db_connect_timeout_seconds, settings.db_read_timeout_seconds)


# The timeouts of engines built from a URL alone (jobs that take a URL, not a Runtime): the CLI sets
# them from the settings for the length of one command, so the settings apply to every connection.
_process_timeouts: DbTimeouts | None = None


def use_default_timeouts(timeouts: DbTimeouts | None) -> None:
    """Timeouts for engines made without explicit ones; None restores the built-in defaults."""
    global _process_timeouts
    _process_timeouts = timeouts


# Whether a missing SQLite file may be created on first use. The CLI turns this off for a fetch: a
# mistyped path must not start an empty warehouse somewhere else, and the fetch still lands (its
# bookkeeping waits for the next run, as when a database server is down).
_may_create_sqlite = True


def allow_creating_sqlite(allowed: bool) -> None:
    global _may_create_sqlite
    _may_create_sqlite = allowed


def make_engine(url: str | URL, timeouts: DbTimeouts | None = None) -> Engine:
    """An engine for a SQLite or MySQL/MariaDB URL.

    SQLite: the parent folder of a file database is created; WAL (readers never block the loader),
    foreign keys on, a busy timeout (``timeouts.connect``), and transactions that really begin at
    ``BEGIN`` (pysqlite's own implicit transactions would let a read and a later write run outside
    one transaction).
    MySQL: utf8mb4 on the connection, pre-ping (long-lived Airflow workers outlive server timeouts),
    READ COMMITTED (no gap locks between loaders of different users), and connect/read/write
    timeouts (PyMySQL's default is to wait forever).
    """
    timeouts = timeouts or _process_timeouts or DbTimeouts()
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, timeouts)
    if backend in MYSQL:
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        try:
            return create_engine(
                parsed,
                pool_pre_ping=True,
                pool_recycle=3600,
                isolation_level="READ COMMITTED",
                # PyMySQL waits forever by default; the handshake is bounded by read_timeout.
                connect_args={
                    "connect_timeout": timeouts.connect,
                    "read_timeout": timeouts.read,
                    "write_timeout": timeouts.read,
                },
            )
        except ModuleNotFoundError as exc:
            raise WarehouseError(
                f"the MySQL driver ({exc.name}) is not installed: pip install 'spotify-pipeline[mysql]' "
                "and use a mysql+pymysql://user:password@host/db URL"
            ) from None
    if backend == "postgresql" and parsed.get_driver_name() == "psycopg":
        return _postgres_engine(parsed, timeouts)
    raise WarehouseError(
        f"warehouse URL scheme {parsed.drivername!r} is not supported: use sqlite:///path/to/file.db, "
        "mysql+pymysql://user:password@host/db or postgresql+psycopg://user:password@host/db "
        "(setting SPOTIFY_PIPELINE_WAREHOUSE_URL)"
    )


def _postgres_engine(url: URL, timeouts: DbTimeouts) -> Engine:
    """PostgreSQL through psycopg 3: pre-ping, READ COMMITTED (its default, said aloud), UTC sessions
    (our ``UtcDateTime`` columns are naive UTC), a connect timeout and a statement timeout, so a
    server that accepts but never answers fails a run instead of hanging it."""
    try:
        import psycopg  # noqa: F401 - only to name the missing driver in one line
    except ModuleNotFoundError as exc:
        raise WarehouseError(
            f"the PostgreSQL driver ({exc.name}) is not installed: pip install 'spotify-pipeline[postgres]' "
            "and use a postgresql+psycopg://user:password@host/db URL"
        ) from None
    statement_ms = int(timeouts.read * 1000)
    options = f"-c timezone=UTC -c statement_timeout={statement_ms} -c lock_timeout={statement_ms}"
    if url.query.get("options"):  # the URL's own (e.g. a search_path), after ours so they win
        options += " " + str(url.query["options"])
        url = url.difference_update_query(["options"])
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_recycle=3600,
        isolation_level="READ COMMITTED",
        connect_args={
            "connect_timeout": max(1, round(timeouts.connect)),
            "options": options,
        },
    )


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL, None for other engines and in-memory databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    return Path(database).expanduser()


def _sqlite_engine(url: URL, timeouts: DbTimeouts) -> Engine:
    path = sqlite_path(url)
    in_memory = path is None
    if path is not None:
        if not _may_create_sqlite and not path.is_file():
            raise WarehouseError(
                f"no warehouse at {path} (setting warehouse_url): run `spotify-pipeline init` to create it"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    # sqlite3's `timeout` is SQLite's busy timeout: how long to wait for another writer's lock.
    engine = create_engine(url, connect_args={"timeout": timeouts.connect})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                # WAL's own recommendation: a commit writes the log without waiting for the disk;
                # the database stays consistent on a power cut, which may undo the last commits
                # (each carries its manifest entry or import batch, so the next run redoes them).
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A transaction that reads before it writes takes the write lock first when asked
        # (``writing(engine)``): in WAL mode a reader whose snapshot another writer has since moved
        # cannot become a writer, and SQLite says "database is locked" at once, without waiting.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "BEGIN")

    return engine


_IMMEDIATE = "spotify_pipeline_immediate"


def writing(engine: Engine) -> Engine:
    """``engine`` for a transaction that reads, then writes what it read (a refresh, a counter): on
    SQLite it takes the write lock when it begins, so a concurrent writer makes it wait its busy
    timeout instead of failing; other engines lock rows as they always do."""
    return engine.execution_options(**{_IMMEDIATE: True})


def _alembic_config(engine: Engine, connection: Any) -> Any:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the warehouse to ``revision`` (the newest by default). Idempotent."""

    with engine.begin() as conn:
        command.upgrade(_alembic_config(engine, conn), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, None for a database never migrated."""

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this package."""

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def is_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the database driver's (wrapped by SQLAlchemy): the faces name the warehouse
    for it without importing SQLAlchemy themselves."""

    return isinstance(exc, DBAPIError)


def describe_db_error(exc: BaseException, url: str | URL, timeouts: DbTimeouts | None = None) -> str:
    """One line for a person: which warehouse, what went wrong, what to do. Never the password."""

    timeouts = timeouts or DbTimeouts()
    where = f"warehouse {mask_url(str(url) if isinstance(url, str) else url.render_as_string())}"
    orig = getattr(exc, "orig", None) or exc
    args: tuple[Any, ...] = tuple(getattr(orig, "args", None) or ())
    code = args[0] if args and isinstance(args[0], int) else None
    text = " ".join(str(args[1] if code is not None and len(args) > 1 else orig).split())
    if code == 1045:
        return f"{where}: access denied (wrong user or password?): {text}"
    if code == 1049:
        return f"{where}: {text}: create the database (CHARACTER SET utf8mb4) or fix the URL"
    if code == 2003:
        hint = f" within db_connect_timeout_seconds = {timeouts.connect:g} s" if "timed out" in text else ""
        return f"{where}: cannot connect{hint}: is the server running and the host/port right? ({text})"
    if code == 2013 or "timed out" in text:
        return (
            f"{where}: the server did not answer within db_read_timeout_seconds = {timeouts.read:g} s "
            f"(or db_connect_timeout_seconds = {timeouts.connect:g} s): is it overloaded or stuck? ({text})"
        )
    if "database is locked" in text:
        return (
            f"{where}: locked by another process for longer than db_connect_timeout_seconds = "
            f"{timeouts.connect:g} s: is another run still going?"
        )
    if "unable to open database file" in text:
        return f"{where}: cannot open the database file: check the path and its permissions"
    return f"{where}: {type(orig).__name__}: {text}"


@contextmanager
def warehouse_errors(url: str | URL, timeouts: DbTimeouts | None = None) -> Iterator[None]:
    """Turn a driver's connection failure into a WarehouseError that names the warehouse."""

    try:
        yield
    except DBAPIError as exc:
        if not exc.connection_invalidated and not _is_operational(exc):
            raise
        raise WarehouseError(describe_db_error(exc, url, timeouts)) from exc


def _is_operational(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)
