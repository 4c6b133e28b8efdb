"""Open the warehouse for reading: never creates or migrates it (a reader must not write)."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.engine import Engine

from ..warehouse.engine import head_revision, make_engine
from .period import InsightsError


def open_warehouse(url: str) -> Engine:
    """An engine on an existing warehouse at the newest schema; InsightsError (one line naming
    the command that fixes it) when it was never initialised or is behind this version."""
    try:
        engine = make_engine(url)
    except ValueError as exc:
        raise InsightsError(str(exc)) from None
    try:
        revision = _revision(engine)
    except Exception as exc:  # an unreachable server, a locked or unreadable file
        raise InsightsError(
            f"cannot read the warehouse: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    if revision is None:
        raise InsightsError(
            "the warehouse has no schema yet: run `spotify-pipeline init` (and collect some plays)"
        )
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)  # reading the shipped scripts logs at INFO: not news here
    try:
        head = head_revision()
    finally:
        alembic_log.setLevel(level)
    if revision != head:
        raise InsightsError(
            f"the warehouse schema is at {revision}, this version needs {head}: "
            "run `spotify-pipeline db upgrade`"
        )
    return engine


def _revision(engine: Engine) -> str | None:
    """The warehouse's Alembic revision, read without Alembic (which logs each connection)."""
    with engine.connect() as conn:
        if not engine.dialect.has_table(conn, "alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


# The engine type as the faces name it (they import no sqlalchemy): what open_warehouse returns.
Warehouse = Engine
