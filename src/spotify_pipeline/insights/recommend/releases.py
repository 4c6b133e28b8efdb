"""The new-releases list: albums and singles the release checks found, that are new and unplayed.

New: found in the ``WINDOW`` before the moment asked about, and out at most ``FRESH`` before the
check that found it (so an artist's back catalogue, seen at its first check, is never "new").
Unplayed: no play of a track of that album (by id), nor a play whose normalised artist and album
names match (for export rows without ids). Ranked by how much the user plays the artist, then by
how recent the release is.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ...exports.matching import normalise_name
from ...warehouse import schema as s
from ...warehouse.releases import ReleaseRow, followed_artist_ids, releases_seen

WINDOW = timedelta(days=28)
FRESH = timedelta(days=28)


def release_day(text: str | None) -> date | None:
    if not text:
        return None
    parts = text.split("-")
    try:
        return date(
            int(parts[0]), int(parts[1]) if len(parts) > 1 else 1, int(parts[2]) if len(parts) > 2 else 1
        )
    except (ValueError, IndexError):
        return None


def is_new(row: ReleaseRow, now: datetime) -> bool:
    day = release_day(row.release_date)
    if day is None or not now - WINDOW <= row.first_seen_at < now:
        return False
    return day >= (row.first_seen_at - FRESH).date()


def new_releases(
    conn: Connection, user_id: str, now: datetime, limit: int
) -> list[tuple[ReleaseRow, float, str]]:
    rows = [r for r in releases_seen(conn, user_id, now) if is_new(r, now)]
    if not rows:
        return []
    played_albums, played_names, artist_plays = _played(conn, user_id, now)
    followed = set(followed_artist_ids(conn, user_id))
    out = []
    for r in rows:
        artist = normalise_name(r.artist_name)
        if r.album_id in played_albums or (artist, normalise_name(r.name)) in played_names:
            continue
        day = release_day(r.release_date)
        age = (now.date() - day).days if day else 0
        plays = artist_plays.get(artist, 0)
        score = (1 + math.log1p(plays) + (1 if r.artist_id in followed else 0)) / (1 + max(age, 0) / 7)
        why = "you follow them" if r.artist_id in followed else f"you played them {plays} times"
        reason = f"new {r.album_type or 'release'} from {r.artist_name or r.artist_id}, out {r.release_date}; {why}"
        out.append((r, score, reason))
    out.sort(key=lambda x: (-x[1], x[0].album_id))
    return out[:limit]


def _played(
    conn: Connection, user_id: str, before: datetime
) -> tuple[set[str], set[tuple[str, str]], Counter[str]]:
    p, t = s.plays, s.tracks
    albums = set(
        conn.execute(
            select(t.c.album_id)
            .select_from(p.join(t, t.c.id == p.c.track_id))
            .where(p.c.user_id == user_id, p.c.played_at < before)
            .distinct()
        ).scalars()
    )
    names: set[tuple[str, str]] = set()
    artist_plays: Counter[str] = Counter()
    rows = conn.execute(
        select(p.c.artist_name, p.c.album_name).where(p.c.user_id == user_id, p.c.played_at < before)
    )
    for artist_name, album_name in rows:
        artist = normalise_name(artist_name)
        artist_plays[artist] += 1
        if album_name:
            names.add((artist, normalise_name(album_name)))
    return {a for a in albums if a}, names, artist_plays
