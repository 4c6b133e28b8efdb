"""The rebuild's staging area on PostgreSQL: a sibling schema, swapped in by one transaction.

See ``staging.py`` for the contract; this module holds only what differs on PostgreSQL.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError

from ..errors import PipelineError
from .engine import make_engine, upgrade
from .staging import SiblingStage

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,52}")  # 63 minus the longest suffix; unquoted identifiers


class PostgresStage(SiblingStage):
    kind = "schema"

    def __init__(self, url: URL) -> None:
        self.admin = make_engine(url)
        self.database = url.database or ""
        try:
            with self.admin.connect() as conn:
                target = str(conn.execute(select(func.current_schema())).scalar() or "")
        except DBAPIError as exc:
            raise self._failed("read the current schema", exc) from None
        if not _NAME.fullmatch(target):
            raise PipelineError(
                f"cannot rebuild schema {target!r}: use a schema named with at most 52 lowercase letters, "
                "digits and '_' (the rebuild builds beside it, in a schema named with a suffix)"
            )
        self.target, self.staging, self.old = target, target + "__rebuild", target + "__old"
        # The staging engine sees only the staging schema: the migrations create everything there.
        self.url = url.update_query_dict({"options": f"-c search_path={self.staging}"})

    def _try_lock(self, holder: Connection) -> bool:
        key = "sp-rebuild:" + self.database + ":" + self.target
        # The session's advisory lock ends with the holder's connection.
        return bool(holder.execute(select(func.pg_try_advisory_lock(func.hashtext(key)))).scalar())

    def _drop_sql(self, name: str) -> str:
        return f'DROP SCHEMA IF EXISTS "{name}" CASCADE'

    def create(self) -> None:
        with self._run("create the staging schema") as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{self.staging}"')
        self._engine = make_engine(self.url)
        upgrade(self._engine)

    def swap(self) -> None:
        self.engine.dispose()
        new, old = self.tables()
        try:
            with self.admin.begin() as conn:  # one transaction: all moves or none
                conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.old}"')
                # A long transaction elsewhere holding a table: a minute, then the swap fails whole.
                conn.exec_driver_sql("SET LOCAL lock_timeout = '60s'")
                for table in old:
                    conn.exec_driver_sql(f'ALTER TABLE "{self.target}"."{table}" SET SCHEMA "{self.old}"')
                for table in new:
                    conn.exec_driver_sql(f'ALTER TABLE "{self.staging}"."{table}" SET SCHEMA "{self.target}"')
        except DBAPIError as exc:
            raise self._failed("swap the rebuilt tables in", exc) from None
        self.swapped = True

    def _failed(self, what: str, exc: DBAPIError) -> PipelineError:
        return PipelineError(
            f"rebuild could not {what} beside schema {getattr(self, 'target', '?')} of database "
            f"{self.database} ({type(exc.orig).__name__}: {' '.join(str(exc.orig).split())}); the warehouse "
            f"was not changed. The rebuild builds beside it and needs: GRANT CREATE ON DATABASE "
            f'"{self.database}" TO <user>'
        )
