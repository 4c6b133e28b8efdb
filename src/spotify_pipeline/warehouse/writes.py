"""What the jobs write about users, plays, the catalog and followed artists, one function per fact.
Each takes an open connection: the caller owns the transaction (one per raw object, so a failure
leaves nothing half-loaded). The manifest, the run logs and gaps have their own modules
(``manifest``, ``runs``, ``gaps``).

Times passed in are aware UTC, from the jobs' clock: no writer reads a clock of its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from ..transform.rows import (
    AlbumRow,
    ArtistRow,
    AudioFeaturesRow,
    CatalogRows,
    Credit,
    RecentlyPlayedRows,
    TrackRow,
)
from . import schema as s
from .memo import WriteMemo
from .upsert import insert_ignore, upsert

log = logging.getLogger(__name__)
IN_CHUNK = 500  # ids per IN (...) list


# -- users and plays -------------------------------------------------------------------------------


def ensure_user(conn: Connection, user_id: str, at: datetime, *, memo: WriteMemo | None = None) -> bool:
    """Register a user once; True when the user is new."""
    if memo is not None and not memo.new_keys("users", [user_id], lambda u: u):
        return False  # this run already made sure of it
    return insert_ignore(conn, s.users, [{"id": user_id, "created_at": at}]) == 1


# The memo's keys and values of rows, read in C (a lambda per row was a third of the memo's time).
_ID = attrgetter("id")
_PLAY_KEY = attrgetter("user_id", "played_at")
_CREDIT_KEY = itemgetter(0, 1)  # Credit: (owner_id, position)
_CREDIT_ARTIST = itemgetter(2)  # Credit: artist_id


def _itself(row: Any) -> Any:
    return row


def save_recently_played(
    conn: Connection,
    rows: RecentlyPlayedRows,
    *,
    loaded_at: datetime,
    memo: WriteMemo | None = None,
) -> int:
    """Load one page's rows; return how many plays were new. Loading the same rows again adds nothing.

    Plays are insert-only: a play already stored (same user, same played_at) is never changed.
    Catalog rows follow ``save_catalog``: a full object fetched earlier is never downgraded.
    ``memo`` (one per job run, see ``warehouse.memo``) skips the rows this run already wrote.
    """
    at = loaded_at
    for user_id in sorted({p.user_id for p in rows.plays}):
        ensure_user(conn, user_id, at, memo=memo)
    save_catalog(conn, rows, seen_at=at, memo=memo)
    return save_plays(conn, rows.plays, loaded_at=at, memo=memo)


def save_plays(
    conn: Connection,
    plays: Iterable[Any],
    *,
    loaded_at: datetime,
    memo: WriteMemo | None = None,
) -> int:
    """Insert plays (``PlayRow``s, any source) that are not stored yet; return how many were new.
    The caller ensures the users exist (``ensure_user``)."""
    at = loaded_at
    if memo is not None:
        plays = memo.new_keys("plays", plays, _PLAY_KEY)
    return insert_ignore(conn, s.plays, ({**p.as_dict(), "loaded_at": at} for p in plays))


# -- catalog -----------------------------------------------------------------------------------------


def save_catalog(
    conn: Connection, rows: CatalogRows, *, seen_at: datetime, memo: WriteMemo | None = None
) -> None:
    """Upsert tracks, albums, artists and credits so that knowledge only grows.

    - A simplified album or artist (from a track) is inserted when unknown and otherwise left alone,
      so it never overwrites a full object fetched earlier.
    - A full object overwrites what it carries and stamps ``fetched_at``; fields it lacks
      (popularity, label, followers, genres in Development Mode) keep their earlier value.
    - Tracks come from full track objects; album, ISRC and popularity survive a later simplified copy.

    With a ``memo`` the rows this run already wrote with the same values are not sent again.
    """
    at = seen_at
    _save_artists(conn, rows.artists, at, memo)
    _save_albums(conn, rows.albums, at, memo)
    tracks: Iterable[TrackRow] = rows.tracks
    if memo is not None:
        # A TrackRow holds every column the upsert sets; first_seen_at is written on insert only.
        tracks = memo.changed("tracks", tracks, _ID, _itself)
    upsert(
        conn,
        s.tracks,
        [_track_dict(t, at) for t in tracks],
        ["id"],
        ["name", "duration_ms", "explicit", "track_number", "disc_number", "uri"],
        keep_cols=["album_id", "isrc", "popularity"],
    )
    _save_credits(conn, s.track_artists, "track_id", rows.track_artists, memo)
    _save_credits(conn, s.album_artists, "album_id", rows.album_artists, memo)


def save_artists_full(
    conn: Connection,
    rows: Iterable[ArtistRow],
    *,
    fetched_at: datetime,
    memo: WriteMemo | None = None,
) -> int:
    """Store full artist objects (``GET /artists/{id}``, and followed artists, which are full
    ArtistObjects too: saving them here spares enrichment a lookup each); return how many."""
    full = [r for r in rows if r.full]
    _save_artists(conn, full, fetched_at, memo)
    return len(full)


def save_artists_simplified(conn: Connection, rows: Iterable[ArtistRow]) -> int:
    """Insert artists not known yet, without marking them fetched (enrichment will look them up);
    a known artist is left as it is. Return how many were new."""
    return insert_ignore(conn, s.artists, [_artist_dict(r, None) for r in rows])


def save_albums_full(
    conn: Connection,
    rows: CatalogRows | Iterable[AlbumRow],
    *,
    fetched_at: datetime,
    memo: WriteMemo | None = None,
) -> int:
    """Store full album objects: ``transform.album_rows(obj)`` (album, its artists and credits) or
    bare ``album_row(obj)`` rows. Return how many full albums were stored."""
    catalog = rows if isinstance(rows, CatalogRows) else CatalogRows(albums=list(rows))
    save_catalog(conn, catalog, seen_at=fetched_at, memo=memo)
    return sum(1 for a in catalog.albums if a.full)


def save_tracks_full(
    conn: Connection, rows: CatalogRows, *, seen_at: datetime, memo: WriteMemo | None = None
) -> int:
    """Store ``transform.track_rows(obj)`` from a ``GET /tracks/{id}``; return how many tracks."""
    save_catalog(conn, rows, seen_at=seen_at, memo=memo)
    return len(rows.tracks)


def save_audio_features(conn: Connection, rows: Iterable[AudioFeaturesRow], *, fetched_at: datetime) -> int:
    at = fetched_at
    values = [{**r.as_dict(), "fetched_at": at} for r in rows]
    columns = [c for c in values[0] if c != "track_id"] if values else []
    upsert(conn, s.audio_features, values, ["track_id"], columns)
    return len(values)


def record_miss(conn: Connection, kind: str, id: str, *, status: str | int, attempted_at: datetime) -> None:
    """Remember that ``kind`` ``id`` could not be fetched (404, "unavailable"): never asked again."""
    upsert(
        conn,
        s.metadata_misses,
        [{"kind": kind, "id": id, "status": str(status), "attempted_at": attempted_at}],
        ["kind", "id"],
        ["status", "attempted_at"],
    )


def _save_artists(conn: Connection, rows: Iterable[ArtistRow], at: datetime, memo: WriteMemo | None) -> None:
    full: list[ArtistRow] = []
    simple: list[ArtistRow] = []
    for r in rows:
        (full if r.full else simple).append(r)
    if memo is not None:  # one key space: a simplified insert is a no-op once either kind was written
        simple = memo.new_keys("artists", simple, _ID)
        full = memo.changed("artists", full, _ID, lambda r: (r, at))
    insert_ignore(conn, s.artists, [_artist_dict(r, None) for r in simple])
    upsert(
        conn,
        s.artists,
        [_artist_dict(r, at) for r in full],
        ["id"],
        ["name", "uri", "fetched_at"],
        keep_cols=["genres", "popularity", "followers"],
    )


def _save_albums(conn: Connection, rows: Iterable[AlbumRow], at: datetime, memo: WriteMemo | None) -> None:
    full: list[AlbumRow] = []
    simple: list[AlbumRow] = []
    for r in rows:
        (full if r.full else simple).append(r)
    if memo is not None:
        simple = memo.new_keys("albums", simple, _ID)
        full = memo.changed("albums", full, _ID, lambda r: (r, at))
    insert_ignore(conn, s.albums, [_album_dict(r, None) for r in simple])
    upsert(
        conn,
        s.albums,
        [_album_dict(r, at) for r in full],
        ["id"],
        ["name", "album_type", "release_date", "release_date_precision", "total_tracks", "uri", "fetched_at"],
        keep_cols=["label", "popularity"],
    )


def _save_credits(
    conn: Connection, table: Any, owner_col: str, credits: Iterable[Credit], memo: WriteMemo | None
) -> None:
    if memo is not None:
        credits = memo.changed(table.name, credits, _CREDIT_KEY, _CREDIT_ARTIST)
    upsert(
        conn,
        table,
        [{owner_col: c.owner_id, "position": c.position, "artist_id": c.artist_id} for c in credits],
        [owner_col, "position"],
        ["artist_id"],
    )


def _artist_dict(r: ArtistRow, fetched_at: datetime | None) -> dict[str, Any]:
    d = r.as_dict()
    del d["full"]
    d["genres"] = None if r.genres is None else json.dumps(list(r.genres), ensure_ascii=False)
    d["fetched_at"] = fetched_at
    return d


def _album_dict(r: AlbumRow, fetched_at: datetime | None) -> dict[str, Any]:
    d = r.as_dict()
    del d["full"]
    d["fetched_at"] = fetched_at
    return d


def _track_dict(r: TrackRow, at: datetime) -> dict[str, Any]:
    return {**r.as_dict(), "first_seen_at": at}


# -- followed artists ------------------------------------------------------------------------------


def fold_followed_snapshot(
    conn: Connection, user_id: str, artist_ids: set[str], seen_at: datetime, *, memo: WriteMemo | None = None
) -> tuple[int, int]:
    """Fold one complete snapshot of followed artists into the history; return (followed, unfollowed).

    Open a period for each id not followed yet, bump ``last_seen`` of the ones still followed, and
    close (``unfollowed_at = seen_at``) the open periods missing from the snapshot: the unfollow
    happened between ``last_seen`` and ``unfollowed_at``. A re-follow opens a new period.

    History only moves forward: a snapshot taken at or before the newest one already folded for
    this user is ignored (returns (0, 0)); replaying it would reopen or close periods wrongly. So
    fold a catch-up backlog oldest first; the raw zone keeps every snapshot for a rebuild. Pass
    the union of all pages of one fetch: a partial snapshot would close periods it merely lacks.
    """
    ensure_user(conn, user_id, seen_at, memo=memo)
    fa = s.followed_artists
    newest = newest_followed_fold(conn, user_id)
    if newest is not None and seen_at <= newest:
        log.info(
            "followed-artists snapshot of %s at %s is not newer than the last one folded (%s): ignored",
            user_id, seen_at.isoformat(), newest.isoformat(),
        )  # fmt: skip
        return 0, 0
    open_ids = set(
        conn.execute(
            select(fa.c.artist_id).where(fa.c.user_id == user_id, fa.c.unfollowed_at.is_(None))
        ).scalars()
    )
    new_ids = sorted(artist_ids - open_ids)
    gone_ids = sorted(open_ids - artist_ids)
    kept_ids = sorted(open_ids & artist_ids)
    insert_ignore(
        conn,
        fa,
        [
            {
                "user_id": user_id,
                "artist_id": a,
                "first_seen": seen_at,
                "last_seen": seen_at,
                "unfollowed_at": None,
            }
            for a in new_ids
        ],
    )
    is_open = and_(fa.c.user_id == user_id, fa.c.unfollowed_at.is_(None))
    for chunk in _id_chunks(kept_ids):
        conn.execute(update(fa).where(is_open, fa.c.artist_id.in_(chunk)).values(last_seen=seen_at))
    for chunk in _id_chunks(gone_ids):
        conn.execute(update(fa).where(is_open, fa.c.artist_id.in_(chunk)).values(unfollowed_at=seen_at))
    return len(new_ids), len(gone_ids)


def newest_followed_fold(conn: Connection, user_id: str) -> datetime | None:
    """The time of the newest snapshot folded for the user (None before the first one)."""
    fa = s.followed_artists
    row = conn.execute(
        select(func.max(fa.c.last_seen), func.max(fa.c.unfollowed_at)).where(fa.c.user_id == user_id)
    ).one()
    times = [t for t in row if t is not None]
    return max(times) if times else None


def _id_chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), IN_CHUNK):
        yield ids[start : start + IN_CHUNK]
