"""The warehouse side of recommendations: release checks and releases (loaded from ``artist_albums``
raw objects, so ``rebuild`` restores them), the remembered playlists, and the reads the release
job needs. Rows are checked by ``upsert.check_rows`` like every other write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ..transform.releases import ReleaseCheck
from . import schema as s
from .memo import WriteMemo
from .upsert import insert_ignore, upsert
from .writes import ensure_user, save_catalog


def save_release_checks(
    conn: Connection,
    user_id: str,
    checks: Iterable[ReleaseCheck],
    memo: WriteMemo | None = None,
    *,
    at: datetime,
) -> int:
    """Record each check (first and last time per artist) and every album it listed; returns the
    number of releases seen for the first time (``at``: when the user is new, its creation time).
    Loading the same object twice changes nothing."""
    ensure_user(conn, user_id, at, memo=memo)
    new = 0
    for check in sorted(checks, key=lambda c: c.checked_at):
        _record_check(conn, user_id, check)
        save_catalog(conn, check.catalog, seen_at=check.checked_at, memo=memo)
        for album in check.albums:
            row = {
                "user_id": user_id,
                "album_id": album.id,
                "artist_id": check.artist_id,
                "name": album.name,
                "album_type": album.album_type,
                "release_date": album.release_date,
                "release_date_precision": album.release_date_precision,
                "total_tracks": album.total_tracks,
                "first_seen_at": check.checked_at,
            }
            if insert_ignore(conn, s.releases, [row]):
                new += 1
                continue
            # Seen before: keep the earliest sighting (objects may load out of time order).
            conn.execute(
                s.releases.update()
                .where(s.releases.c.user_id == user_id, s.releases.c.album_id == album.id)
                .where(s.releases.c.first_seen_at > check.checked_at)
                .values(first_seen_at=check.checked_at)
            )
    return new


def _record_check(conn: Connection, user_id: str, check: ReleaseCheck) -> None:
    t = s.release_checks
    found = conn.execute(
        select(t.c.first_checked_at, t.c.last_checked_at).where(
            t.c.user_id == user_id, t.c.artist_id == check.artist_id
        )
    ).first()
    first, last = check.checked_at, check.checked_at
    if found is not None:
        first = min(first, found.first_checked_at)
        last = max(last, found.last_checked_at)
    status = check.status if last == check.checked_at else None
    row = {
        "user_id": user_id,
        "artist_id": check.artist_id,
        "first_checked_at": first,
        "last_checked_at": last,
        "last_status": status,
    }
    upsert(
        conn,
        t,
        [row],
        ["user_id", "artist_id"],
        ["first_checked_at", "last_checked_at"],
        keep_cols=["last_status"],
    )


def last_checks(conn: Connection, user_id: str) -> dict[str, datetime]:
    """Artist id -> the last time its albums were checked for this user."""
    t = s.release_checks
    rows = conn.execute(select(t.c.artist_id, t.c.last_checked_at).where(t.c.user_id == user_id))
    return {r.artist_id: r.last_checked_at for r in rows}


def checks_since(conn: Connection, user_id: str, since: datetime) -> int:
    """How many artists were last checked at or after ``since`` (the day's budget already used)."""
    t = s.release_checks
    return int(
        conn.execute(
            select(func.count()).select_from(t).where(t.c.user_id == user_id, t.c.last_checked_at >= since)
        ).scalar_one()
    )


def followed_artist_ids(conn: Connection, user_id: str) -> list[str]:
    t = s.followed_artists
    rows = conn.execute(
        select(t.c.artist_id).where(t.c.user_id == user_id, t.c.unfollowed_at.is_(None)).distinct()
    )
    return sorted(r.artist_id for r in rows)


def most_played_artist_ids(conn: Connection, user_id: str, n: int) -> list[str]:
    """The main artists of the user's most played tracks (by plays), most played first."""
    ta, p = s.track_artists, s.plays
    plays = func.count().label("plays")
    rows = conn.execute(
        select(ta.c.artist_id, plays)
        .select_from(p.join(ta, ta.c.track_id == p.c.track_id))
        .where(p.c.user_id == user_id, ta.c.position == 0)
        .group_by(ta.c.artist_id)
        .order_by(plays.desc(), ta.c.artist_id)
        .limit(n)
    )
    return [r.artist_id for r in rows]


@dataclass(frozen=True)
class ReleaseRow:
    album_id: str
    artist_id: str
    artist_name: str | None
    name: str
    album_type: str | None
    release_date: str | None
    first_seen_at: datetime


def releases_seen(conn: Connection, user_id: str, before: datetime) -> list[ReleaseRow]:
    """Every release the user's checks saw before ``before``, with the artist's name when known."""
    r, a = s.releases, s.artists
    rows = conn.execute(
        select(r, a.c.name.label("artist_name"))
        .select_from(r.outerjoin(a, a.c.id == r.c.artist_id))
        .where(r.c.user_id == user_id, r.c.first_seen_at < before)
    )
    return [
        ReleaseRow(
            x.album_id, x.artist_id, x.artist_name, x.name, x.album_type, x.release_date, x.first_seen_at
        )
        for x in rows
    ]


# --- playlists written back -------------------------------------------------------------------------
def remembered_playlist(conn: Connection, user_id: str, kind: str) -> dict[str, Any] | None:
    t = s.recommendation_playlists
    row = conn.execute(select(t).where(t.c.user_id == user_id, t.c.list_kind == kind)).mappings().first()
    return dict(row) if row is not None else None


def remember_playlist(
    conn: Connection,
    user_id: str,
    kind: str,
    *,
    name: str,
    playlist_id: str,
    snapshot_id: str | None,
    track_count: int,
    at: datetime,
    created: bool,
) -> None:
    ensure_user(conn, user_id, at)
    row = {
        "user_id": user_id,
        "list_kind": kind,
        "name": name,
        "playlist_id": playlist_id,
        "snapshot_id": snapshot_id,
        "track_count": track_count,
        "created_at": at,
        "updated_at": at,
    }
    update = ["name", "playlist_id", "snapshot_id", "track_count", "updated_at"]
    upsert(
        conn,
        s.recommendation_playlists,
        [row],
        ["user_id", "list_kind"],
        [*update, "created_at"] if created else update,
    )
