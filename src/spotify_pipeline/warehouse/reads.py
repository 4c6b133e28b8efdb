"""Read-only queries the jobs and the faces share (status, enrichment work lists, top lists)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, and_, func, select

from . import schema as s


class TopArtist(NamedTuple):
    name: str
    plays: int


class TopTrack(NamedTuple):
    name: str
    artist: str
    plays: int


def newest_play_at(conn: Connection, user_id: str, source: str | None = None) -> datetime | None:
    """The newest stored play of the user (any source unless ``source`` is given)."""
    query = select(func.max(s.plays.c.played_at)).where(s.plays.c.user_id == user_id)
    if source is not None:
        query = query.where(s.plays.c.source == source)
    value = conn.execute(query).scalar()
    # func.max() loses the column type on some dialects: convert here, the one boundary.
    return _aware(value)


def counts(conn: Connection, user_id: str | None = None) -> dict[str, int]:
    """Row counts for ``status``. Plays, followed artists, gaps and runs are the user's when given."""
    p, g, fa = s.plays, s.gaps, s.followed_artists

    def n(query: Select[Any]) -> int:
        return int(conn.execute(query).scalar() or 0)

    def mine(query: Select[Any], table: Any) -> Select[Any]:
        return query if user_id is None else query.where(table.c.user_id == user_id)

    return {
        "plays": n(mine(select(func.count()).select_from(p), p)),
        "plays_api": n(mine(select(func.count()).select_from(p).where(p.c.source == "api"), p)),
        "plays_export": n(mine(select(func.count()).select_from(p).where(p.c.source == "export"), p)),
        "tracks": n(select(func.count()).select_from(s.tracks)),
        "albums": n(select(func.count()).select_from(s.albums)),
        "albums_fetched": n(
            select(func.count()).select_from(s.albums).where(s.albums.c.fetched_at.is_not(None))
        ),
        "artists": n(select(func.count()).select_from(s.artists)),
        "artists_fetched": n(
            select(func.count()).select_from(s.artists).where(s.artists.c.fetched_at.is_not(None))
        ),
        "audio_features": n(select(func.count()).select_from(s.audio_features)),
        "metadata_misses": n(select(func.count()).select_from(s.metadata_misses)),
        "followed_artists": n(
            mine(select(func.count()).select_from(fa).where(fa.c.unfollowed_at.is_(None)), fa)
        ),
        "landed_files": n(
            select(func.count()).select_from(s.landed_files).where(s.landed_files.c.status == "loaded")
        ),
        "quarantined_files": n(
            select(func.count()).select_from(s.landed_files).where(s.landed_files.c.status == "quarantined")
        ),
        "open_gaps": n(mine(select(func.count()).select_from(g).where(g.c.closed_at.is_(None)), g)),
    }


def _missing(conn: Connection, table: Any, kind: str, limit: int | None) -> list[str]:
    m = s.metadata_misses
    query = (
        select(table.c.id)
        .where(table.c.fetched_at.is_(None))
        # Older versions recorded a lookup's 404 under the endpoint's name ("artists"): honour both.
        .where(~select(m.c.id).where(and_(m.c.kind.in_((kind, kind + "s")), m.c.id == table.c.id)).exists())
        .order_by(table.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).scalars())


def missing_artist_ids(conn: Connection, limit: int | None = None) -> list[str]:
    """Artists seen (on tracks, albums) but never fetched in full, minus known misses."""
    return _missing(conn, s.artists, "artist", limit)


def missing_album_ids(conn: Connection, limit: int | None = None) -> list[str]:
    """Albums seen on tracks but never fetched in full, minus known misses."""
    return _missing(conn, s.albums, "album", limit)


def tracks_without_audio_features(conn: Connection, limit: int | None = None) -> list[str]:
    """Tracks with no audio features row and no recorded miss (kind ``audio_features``)."""
    t, af, m = s.tracks, s.audio_features, s.metadata_misses
    query = (
        select(t.c.id)
        .where(~select(af.c.track_id).where(af.c.track_id == t.c.id).exists())
        .where(~select(m.c.id).where(and_(m.c.kind == "audio_features", m.c.id == t.c.id)).exists())
        .order_by(t.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).scalars())


def top_tracks(conn: Connection, user_id: str, n: int = 10) -> list[TopTrack]:
    """The user's most played tracks (plays with a track id) as (name, primary artist, plays)."""
    p, t, ta, a = s.plays, s.tracks, s.track_artists, s.artists
    plays = func.count().label("plays")
    track_name = func.coalesce(t.c.name, func.max(p.c.track_name)).label("name")
    artist_name = func.coalesce(a.c.name, func.max(p.c.artist_name)).label("artist")
    query = (
        select(p.c.track_id, track_name, artist_name, plays)
        .select_from(
            p.outerjoin(t, t.c.id == p.c.track_id)
            .outerjoin(ta, and_(ta.c.track_id == p.c.track_id, ta.c.position == 0))
            .outerjoin(a, a.c.id == ta.c.artist_id)
        )
        .where(p.c.user_id == user_id, p.c.track_id.is_not(None))
        .group_by(p.c.track_id, t.c.name, a.c.name)
        .order_by(plays.desc(), track_name, p.c.track_id)
        .limit(n)
    )
    return [TopTrack(r.name or r.track_id, r.artist or "", int(r.plays)) for r in conn.execute(query)]


def top_artists(conn: Connection, user_id: str, n: int = 10) -> list[TopArtist]:
    """The user's most played artists as (name, plays), crediting each play to the track's primary
    artist (position 0), as scrobblers do: a feature does not inflate a guest's count."""
    p, ta, a = s.plays, s.track_artists, s.artists
    plays = func.count().label("plays")
    query = (
        select(ta.c.artist_id, a.c.name, plays)
        .select_from(
            p.join(ta, and_(ta.c.track_id == p.c.track_id, ta.c.position == 0)).outerjoin(
                a, a.c.id == ta.c.artist_id
            )
        )
        .where(p.c.user_id == user_id)
        .group_by(ta.c.artist_id, a.c.name)
        .order_by(plays.desc(), a.c.name, ta.c.artist_id)
        .limit(n)
    )
    return [TopArtist(r.name or r.artist_id, int(r.plays)) for r in conn.execute(query)]


def play_keys(conn: Connection, user_id: str) -> list[tuple[datetime, str | None]]:
    """(played_at, track_id) of every stored play of the user, oldest first: what to compare with a
    ground truth (the simulator's, an export's)."""
    p = s.plays
    query = select(p.c.played_at, p.c.track_id).where(p.c.user_id == user_id).order_by(p.c.played_at)
    return [(r.played_at, r.track_id) for r in conn.execute(query)]


def gaps(conn: Connection, user_id: str | None = None) -> list[dict[str, Any]]:
    """Every recorded gap, open and closed, oldest first (``open_gaps`` for the open ones)."""
    g = s.gaps
    query = select(g).order_by(g.c.gap_from, g.c.id)
    if user_id is not None:
        query = query.where(g.c.user_id == user_id)
    return [dict(r._mapping) for r in conn.execute(query)]


def open_gaps(conn: Connection, user_id: str | None = None) -> list[dict[str, Any]]:
    """Gaps not closed yet, oldest first (all users when ``user_id`` is None)."""
    query = select(s.gaps).where(s.gaps.c.closed_at.is_(None)).order_by(s.gaps.c.gap_from, s.gaps.c.id)
    if user_id is not None:
        query = query.where(s.gaps.c.user_id == user_id)
    return [dict(r._mapping) for r in conn.execute(query)]


def count_open_gaps(conn: Connection) -> int:
    """How many gaps, of every user, are still open."""
    query = select(func.count()).select_from(s.gaps).where(s.gaps.c.closed_at.is_(None))
    return int(conn.execute(query).scalar_one())


def last_fetch(conn: Connection, user_id: str, kind: str) -> dict[str, Any] | None:
    """The newest fetch run of ``kind`` for the user (any status), None if there was none."""
    f = s.fetch_runs
    row = conn.execute(
        select(f)
        .where(f.c.user_id == user_id, f.c.kind == kind)
        .order_by(f.c.started_at.desc(), f.c.id.desc())
        .limit(1)
    ).first()
    return dict(row._mapping) if row else None


def last_successful_fetch(conn: Connection, user_id: str, kind: str) -> datetime | None:
    """When the newest successful fetch run of ``kind`` for the user started, None if none did."""
    f = s.fetch_runs
    value = conn.execute(
        select(f.c.started_at)
        .where(f.c.user_id == user_id, f.c.kind == kind, f.c.status == "ok")
        .order_by(f.c.started_at.desc())
        .limit(1)
    ).scalar()
    return _aware(value)


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns text for an aggregate over a DATETIME column
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime from the warehouse, got {type(value).__name__}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)
