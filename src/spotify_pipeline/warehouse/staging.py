"""Build a whole warehouse beside the configured one, then put it in place in one atomic step.

``rebuild`` loads into a staging database and swaps only when everything is in, so the configured
warehouse is the old one or the new one, never half of one, whatever stops the rebuild (an error,
Ctrl-C, SIGKILL, a power cut); a new rebuild first removes what an interrupted one left.

- SQLite ``path.db``: staging file ``path.db.rebuild``; the swap checkpoints the old file's WAL
  (refusing if another process is using it), ``os.replace``s the fsynced new file over it, fsyncs the
  folder and removes the old, empty ``-wal`` / ``-shm``. One rebuild at a time: ``flock`` on
  ``path.db.rebuild-lock``.
- MySQL/MariaDB database ``D``: staging database ``D__rebuild`` (same character set and collation);
  the swap is one ``RENAME TABLE`` moving every table of ours from ``D`` to ``D__old`` and from
  ``D__rebuild`` to ``D`` (atomic in MariaDB and MySQL 8), then ``D__old`` and ``D__rebuild`` are
  dropped. The user needs CREATE and DROP on those two names. One rebuild at a time: ``GET_LOCK``.
- PostgreSQL, tables in schema ``S`` (the connection's current schema, usually ``public``): staging
  schema ``S__rebuild`` in the same database; the swap is one transaction (PostgreSQL's DDL is
  transactional) of ``ALTER TABLE ... SET SCHEMA`` moving every table of ours from ``S`` to
  ``S__old`` and from ``S__rebuild`` to ``S`` (indexes, constraints and owned sequences move with
  their table), then both side schemas are dropped. The user needs CREATE on the database. One
  rebuild at a time: ``pg_try_advisory_lock``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, func, inspect, select
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError

from ..errors import PipelineError
from ..fsutil import fsync_dir
from . import schema
from .engine import make_engine, upgrade
from .types import MYSQL

log = logging.getLogger(__name__)

STAGING_SUFFIX = ".rebuild"  # SQLite: next to the file
LOCK_SUFFIX = ".rebuild-lock"
STAGING_DB = "__rebuild"  # MySQL: a sibling database
OLD_DB = "__old"
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
_MYSQL_NAME = re.compile(r"[A-Za-z0-9_$]{1,55}")  # 64 minus the longest suffix


class Stage:
    """An empty, migrated warehouse to load into; ``swap()`` puts it in place of the target."""

    url: URL  # of the staging database
    swapped = False  # set the moment the atomic step is done: from then on the target is the new one
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        assert self._engine is not None, "create() first"
        return self._engine

    def locked(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def create(self) -> None:
        raise NotImplementedError

    def swap(self) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the connections the stage holds (after discard)."""
        admin = getattr(self, "admin", None)
        if admin is not None:
            admin.dispose()


@contextmanager
def staged(target_url: str) -> Iterator[Stage]:
    """A fresh staging warehouse for ``target_url``; removed on the way out unless swapped in."""
    url = make_url(target_url)
    stage: Stage
    if url.get_backend_name() == "sqlite":
        stage = _SqliteStage(url)
    elif url.get_backend_name() in MYSQL:
        stage = _MysqlStage(url)
    elif url.get_backend_name() == "postgresql":
        from .staging_pg import PostgresStage  # deferred: psycopg is the optional postgres extra

        stage = PostgresStage(url)
    else:
        raise PipelineError(
            f"cannot rebuild into {url.get_backend_name()!r}: use SQLite, MySQL/MariaDB or PostgreSQL"
        )
    with stage.locked():
        stage.discard()  # what an interrupted rebuild left
        try:
            stage.create()
            yield stage
        finally:
            try:
                stage.discard()
            except PipelineError as exc:  # never hide why the rebuild stopped; the next one cleans up
                log.warning("%s", exc)
            finally:
                stage.close()


def holds_data(url: str) -> bool:
    """Whether any of the schema's tables at ``url`` holds a row (a missing database holds none)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").expanduser().is_file():
        return False  # connecting would create the file
    engine = make_engine(parsed)
    try:
        names = set(inspect(engine).get_table_names()) & set(schema.metadata.tables)
        with engine.connect() as conn:
            return any(conn.execute(select(schema.metadata.tables[t]).limit(1)).first() for t in names)
    except DBAPIError:
        return False
    finally:
        engine.dispose()


# --- SQLite -------------------------------------------------------------------------------------


class _SqliteStage(Stage):
    def __init__(self, url: URL) -> None:
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise PipelineError("an in-memory SQLite warehouse cannot be rebuilt: name a file")
        self.target = Path(database).expanduser().absolute()
        self.staging = self.target.with_name(self.target.name + STAGING_SUFFIX)
        self.url = url.set(database=str(self.staging))

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.target.with_name(self.target.name + LOCK_SUFFIX), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PipelineError(
                    f"another rebuild of {self.target} is running; wait for it to finish"
                ) from None
            yield
        finally:
            os.close(fd)

    def create(self) -> None:
        self._engine = make_engine(self.url)
        upgrade(self._engine)

    def swap(self) -> None:
        self.engine.dispose()
        conn = sqlite3.connect(self.staging, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")  # folds the WAL in: one self-contained file to move
        finally:
            conn.close()
        _fsync_file(self.staging)
        _checkpoint(self.target)
        os.replace(self.staging, self.target)
        self.swapped = True
        fsync_dir(self.target.parent)
        for side in ("-wal", "-shm"):  # the old file's: empty after the checkpoint
            self.target.with_name(self.target.name + side).unlink(missing_ok=True)

    def discard(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        for path in (
            self.staging,
            *(self.staging.with_name(self.staging.name + s) for s in _SQLITE_SIDE_FILES),
        ):
            path.unlink(missing_ok=True)


def _checkpoint(target: Path) -> None:
    """Empty the target's WAL into it, so no frame of the old file is ever read with the new one."""
    if not target.exists():
        return
    conn = sqlite3.connect(target, timeout=10)
    try:
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    except sqlite3.OperationalError:
        busy = 1  # locked past the timeout
    except sqlite3.DatabaseError:
        return  # not a database (damaged): nothing to keep from it, the new file replaces it
    finally:
        conn.close()
    if busy:
        raise PipelineError(
            f"{target} is in use by another process (a cron or Airflow run?); it was not changed. "
            "Stop the other runs and run rebuild again"
        )


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- MySQL / MariaDB ----------------------------------------------------------------------------


class SiblingStage(Stage):
    """A staging namespace beside the target on a server (a database on MySQL, a schema on
    PostgreSQL): what both servers share. Subclasses say how to take the server's lock, drop a
    namespace, create the staging one and swap; ``kind`` names the namespace in messages."""

    kind: str
    target: str
    staging: str
    old: str
    admin: Engine

    def _try_lock(self, holder: Connection) -> bool:
        raise NotImplementedError

    def _drop_sql(self, name: str) -> str:
        raise NotImplementedError

    def _failed(self, what: str, exc: DBAPIError) -> PipelineError:
        raise NotImplementedError

    @contextmanager
    def locked(self) -> Iterator[None]:
        # Its own connection, held for the whole rebuild: the lock is the session's, released when
        # the session ends. Detached from the pool, so closing it ends the session (a pooled one
        # would keep the lock for whoever is handed that connection next).
        try:
            holder = self.admin.connect().execution_options(isolation_level="AUTOCOMMIT")
            holder.detach()
            got = self._try_lock(holder)
        except DBAPIError as exc:
            raise self._failed("take the rebuild lock", exc) from None
        try:
            if not got:
                raise PipelineError(f"another rebuild of {self.kind} {self.target} is running; wait for it")
            yield
        finally:
            holder.close()

    def tables(self) -> tuple[list[str], list[str]]:
        """Our tables (and Alembic's) in the staging namespace and in the target: what a swap moves."""
        ours = set(schema.metadata.tables) | {"alembic_version"}
        new = sorted(set(inspect(self.admin).get_table_names(schema=self.staging)) & ours)
        old = sorted(set(inspect(self.admin).get_table_names(schema=self.target)) & ours)
        return new, old

    def discard(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        with self._run("remove what an earlier rebuild left") as conn:
            for name in (self.staging, self.old):
                conn.exec_driver_sql(self._drop_sql(name))

    @contextmanager
    def _run(self, what: str) -> Iterator[Connection]:
        try:
            with self.admin.connect() as conn:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")
        except DBAPIError as exc:
            raise self._failed(what, exc) from None


class _MysqlStage(SiblingStage):
    kind = "database"

    def __init__(self, url: URL) -> None:
        name = url.database or ""
        if not _MYSQL_NAME.fullmatch(name):
            raise PipelineError(
                f"cannot rebuild into database {name!r}: use a name of at most 55 letters, digits and "
                "'_' (the rebuild builds beside it, in a database named with a suffix)"
            )
        self.target, self.staging, self.old = name, name + STAGING_DB, name + OLD_DB
        self.url = url.set(database=self.staging)
        self.admin = make_engine(url)

    def _try_lock(self, holder: Connection) -> bool:
        # GET_LOCK names are at most 64 characters
        return bool(holder.execute(select(func.get_lock("sp-rebuild:" + self.target, 0))).scalar() == 1)

    def _drop_sql(self, name: str) -> str:
        return f"DROP DATABASE IF EXISTS `{name}`"

    def create(self) -> None:
        with self._run("create the staging database") as conn:
            charset, collation = conn.execute(
                select(_schemata.c.DEFAULT_CHARACTER_SET_NAME, _schemata.c.DEFAULT_COLLATION_NAME).where(
                    _schemata.c.SCHEMA_NAME == self.target
                )
            ).one()
            if not re.fullmatch(r"\w+", charset + collation):
                raise PipelineError(f"database {self.target} has an unexpected collation {collation!r}")
            conn.exec_driver_sql(
                f"CREATE DATABASE `{self.staging}` CHARACTER SET {charset} COLLATE {collation}"
            )
        self._engine = make_engine(self.url)
        upgrade(self._engine)

    def swap(self) -> None:
        self.engine.dispose()
        new, old = self.tables()
        moves = [f"`{self.target}`.`{t}` TO `{self.old}`.`{t}`" for t in old]
        moves += [f"`{self.staging}`.`{t}` TO `{self.target}`.`{t}`" for t in new]
        with self._run("swap the rebuilt tables in") as conn:
            conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{self.old}`")
            # A long transaction elsewhere holding a table would make RENAME wait for a year (the
            # default): a minute, then the rename fails whole and the warehouse is the old one.
            conn.exec_driver_sql("SET SESSION lock_wait_timeout = 60")
            conn.exec_driver_sql("RENAME TABLE " + ", ".join(moves))  # all or nothing
            self.swapped = True

    def _failed(self, what: str, exc: DBAPIError) -> PipelineError:
        return PipelineError(
            f"rebuild could not {what} beside database {self.target} ({type(exc.orig).__name__}: "
            f"{exc.orig}); the warehouse was not changed. The rebuild builds beside it and needs, as "
            f"an administrator would grant: GRANT ALL ON `{self.staging}`.* TO <user>; GRANT ALL ON "
            f"`{self.old}`.* TO <user>"
        )


def _schemata_table() -> Any:
    return Table(
        "SCHEMATA",
        MetaData(schema="information_schema"),
        Column("SCHEMA_NAME", String),
        Column("DEFAULT_CHARACTER_SET_NAME", String),
        Column("DEFAULT_COLLATION_NAME", String),
    )


_schemata = _schemata_table()
