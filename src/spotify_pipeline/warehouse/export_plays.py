"""The warehouse side of an export import (``jobs/import_history.py``): the plays around a batch,
the rows it inserts, upgrades, replaces and enriches, and the private-session plays it remembers.

Every function takes an open connection: the import owns the transaction (one per batch). Rows come
back as plain tuples; matching them to export records is the job's (``exports/matching.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, select, update

from . import schema as s
from .bulk import insert_ignore_bulk
from .upsert import insert_ignore

#: The columns an extended record adds to a play (to an API play it matched, or to its own row).
ENRICH_COLUMNS = (
    "ms_played", "reason_start", "reason_end", "shuffle", "skipped", "offline", "incognito", "platform", "country",
)  # fmt: skip
#: The names a row carries besides its track id.
NAME_COLUMNS = ("track_name", "artist_name", "album_name")

#: (played_at, track_id, track_name, artist_name, source, started_at) of a stored play.
StoredPlay = tuple[datetime, str | None, str | None, str | None, str, datetime | None]


def plays_between(
    conn: Connection, user_id: str, lo: datetime, hi: datetime, *, minute_precision_only: bool = False
) -> list[StoredPlay]:
    """The user's plays with ``lo <= played_at <= hi``; with ``minute_precision_only`` only the
    export rows from account data (``source = 'export'`` with no ``started_at``)."""
    plays = s.plays
    query = select(
        plays.c.played_at,
        plays.c.track_id,
        plays.c.track_name,
        plays.c.artist_name,
        plays.c.source,
        plays.c.started_at,
    ).where(plays.c.user_id == user_id, plays.c.played_at >= lo, plays.c.played_at <= hi)
    if minute_precision_only:
        # In SQL: a batch with private records would otherwise read back every row it just wrote
        # (profiled: 9 % of an extended import) to keep almost none.
        query = query.where(plays.c.source == "export", plays.c.started_at.is_(None))
    return [tuple(row) for row in conn.execute(query)]


def track_ids_by_names(conn: Connection, user_id: str) -> list[tuple[str | None, str | None, str]]:
    """(artist name, track name, track id) of every distinct named play of the user with an id."""
    plays = s.plays
    query = (
        select(plays.c.artist_name, plays.c.track_name, plays.c.track_id)
        .where(plays.c.user_id == user_id, plays.c.track_id.is_not(None))
        .distinct()
    )
    return [tuple(row) for row in conn.execute(query)]


def private_plays(conn: Connection, user_id: str) -> list[tuple[str, datetime]]:
    """(names digest, end time) of every private-session play an extended import of the user
    skipped, oldest first."""
    private = s.private_plays
    query = (
        select(private.c.names_sha256, private.c.ended_at)
        .where(private.c.user_id == user_id)
        .order_by(private.c.ended_at, private.c.names_sha256)
    )
    return [(digest, ended_at) for digest, ended_at in conn.execute(query)]


def store_private_plays(
    conn: Connection, user_id: str, import_id: int | None, plays: Iterable[tuple[str, datetime]]
) -> None:
    """Remember private-session plays as (names digest, end time): never their names."""
    rows = [
        {"user_id": user_id, "ended_at": ended_at, "names_sha256": digest, "import_id": import_id}
        for digest, ended_at in plays
    ]
    if rows:
        insert_ignore(conn, s.private_plays, rows)


def delete_export_rows(conn: Connection, user_id: str, played_at: Sequence[datetime]) -> int:
    """Delete the user's export rows at these times; return how many there were."""
    if not played_at:
        return 0
    plays = s.plays
    result = conn.execute(
        delete(plays).where(
            plays.c.user_id == user_id, plays.c.source == "export", plays.c.played_at.in_(played_at)
        )
    )
    return int(result.rowcount)


def upgrade_export_rows(conn: Connection, user_id: str, upgrades: Sequence[Mapping[str, Any]]) -> None:
    """Move account-data rows (``b_old``) to the slot their extended record was given
    (``b_played_at``) with its columns (``b_<column>``); names and id are kept where the record has
    none (local files). The slots are free of every other row, so no update collides."""
    if not upgrades:
        return
    plays = s.plays
    kept: dict[str, Any] = {
        c: bindparam("b_" + c) for c in (*ENRICH_COLUMNS, "started_at", "played_at", "import_id", "loaded_at")
    }
    kept.update({c: func.coalesce(bindparam("b_" + c), plays.c[c]) for c in (*NAME_COLUMNS, "track_id")})
    stmt = (
        update(plays)
        .where(
            plays.c.user_id == user_id, plays.c.played_at == bindparam("b_old"), plays.c.source == "export"
        )
        .values(kept)
    )
    conn.execute(stmt, list(upgrades))


def prepare_batch(conn: Connection) -> None:
    """Before an import batch's writes: on SQLite, a 64 MiB page cache for this connection (the
    default is 2 MiB). A batch inserts thousands of rows into ``plays``, whose primary key and three
    indexes (one led by the track) take them at scattered places: with the default cache each insert
    of a 100k-play import read its index pages back from the OS (measured: a third of the write
    time, more as the table grows). A per-connection setting, memory only; it stays with the pooled
    connection and costs what it holds, at most the 64 MiB."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size = -65536")


def insert_export_plays(
    conn: Connection, rows: Sequence[Mapping[str, Any]], *, checked: frozenset[str] = frozenset()
) -> int:
    """Insert the import's new rows (every column of ``plays``); return how many were new. On
    MySQL/MariaDB in wide batches that bind what the rows share once (``bulk.py``). ``checked``: the
    columns whose values the caller already checked against at most the columns' limits
    (``upsert.insert_ignore``); every other column is checked here."""
    if not rows:
        return 0
    return insert_ignore_bulk(conn, s.plays, rows, checked=checked)


def enrich_api_plays(conn: Connection, user_id: str, enrich: Sequence[Mapping[str, Any]]) -> None:
    """Give matched API plays (``b_played_at``) the export's columns. An extended record's values
    (``b_reason_start`` present) set every ``ENRICH_COLUMNS``, ``started_at`` and
    ``matched_import_id``; account data adds only ``ms_played``, never over what an extended record
    gave, and the first import that matched the play stays its ``matched_import_id``."""
    plays = s.plays
    where = and_(
        plays.c.user_id == user_id, plays.c.played_at == bindparam("b_played_at"), plays.c.source == "api"
    )
    full = [e for e in enrich if "b_reason_start" in e]
    only_ms = [e for e in enrich if "b_reason_start" not in e]
    if full:
        columns = (*ENRICH_COLUMNS, "started_at", "matched_import_id")
        conn.execute(update(plays).where(where).values({c: bindparam("b_" + c) for c in columns}), full)
    if only_ms:
        stmt = (
            update(plays)
            .where(where)
            .values(
                ms_played=func.coalesce(plays.c.ms_played, bindparam("b_ms_played")),
                matched_import_id=func.coalesce(plays.c.matched_import_id, bindparam("b_matched_import_id")),
            )
        )
        conn.execute(stmt, only_ms)
