"""The log of runs: ``fetch_runs`` (one row per fetch of the API) and ``import_runs`` (one per
export import, with its report). A run row is written when the run starts and finished once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, inspect, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from . import schema as s
from .engine import make_engine
from .writes import ensure_user


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError("the database returned no id for the new run row")
    return int(key[0])


def start_fetch_run(conn: Connection, user_id: str, kind: str, *, started_at: datetime) -> int:
    result = conn.execute(
        s.fetch_runs.insert().values(user_id=user_id, kind=kind, started_at=started_at, status="running")
    )
    return _new_id(result)


def finish_fetch_run(
    conn: Connection,
    run_id: int,
    *,
    finished_at: datetime,
    status: str,
    api_calls: int | None = None,
    items: int | None = None,
    raw_key: str | None = None,
    message: str | None = None,
) -> None:
    conn.execute(
        update(s.fetch_runs)
        .where(s.fetch_runs.c.id == run_id)
        .values(
            finished_at=finished_at,
            status=status,
            api_calls=api_calls,
            items=items,
            raw_key=raw_key,
            message=message,
        )
    )


def start_import_run(conn: Connection, user_id: str, *, source: str, started_at: datetime) -> int:
    ensure_user(conn, user_id, started_at)
    result = conn.execute(
        s.import_runs.insert().values(user_id=user_id, source=source, started_at=started_at, status="running")
    )
    return _new_id(result)


def finish_import_run(
    conn: Connection, run_id: int, *, finished_at: datetime, status: str, report: dict[str, Any]
) -> None:
    conn.execute(
        update(s.import_runs)
        .where(s.import_runs.c.id == run_id)
        .values(
            finished_at=finished_at, status=status, report=json.dumps(report, default=str, sort_keys=True)
        )
    )


def close_abandoned_import_runs(conn: Connection, user_id: str, *, now: datetime) -> None:
    """Import runs of this user still ``running`` were abandoned (SIGKILL, power cut, the warehouse
    gone when the run tried to finish): mark them ``interrupted``, finished ``now``."""
    runs = s.import_runs
    conn.execute(
        update(runs)
        .where(runs.c.user_id == user_id, runs.c.status == "running")
        .values(status="interrupted", finished_at=now)
    )


def import_runs_at(url: str, statuses: Sequence[str]) -> list[tuple[int, str, datetime, str, str | None]]:
    """(id, user, started_at, source, report JSON) of the import runs with one of ``statuses`` in the
    warehouse at ``url`` (not the configured one: a rebuild reads the warehouse it replaces), by id.
    Empty when there is no such warehouse, no ``import_runs`` table, or the database cannot be reached;
    a SQLite file that does not exist is not created."""

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").expanduser().is_file():
        return []  # deleted, or never made: connecting would create it
    engine = make_engine(parsed)
    runs = s.import_runs
    query = (
        select(runs.c.id, runs.c.user_id, runs.c.started_at, runs.c.source, runs.c.report)
        .where(runs.c.status.in_(statuses))
        .order_by(runs.c.id)
    )
    try:
        if not inspect(engine).has_table("import_runs"):
            return []
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]
    except DBAPIError:
        return []  # no such database (yet): the raw zone's records are all there is
    finally:
        engine.dispose()
