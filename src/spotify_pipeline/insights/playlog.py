"""Every play with its track, artists (all, in credit order), album and source, streamed.

``iter_plays`` holds one batch of rows at a time (``yield_per``; on MySQL a server-side cursor),
so a million plays are exported in constant memory. The only thing held whole is the credits of
the tracks (one entry per distinct track, ~30k for ten years of listening).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from ..warehouse import schema as s
from .queries import Scope

BATCH = 5_000


@dataclass(frozen=True, slots=True)
class PlayRow:
    user: str
    played_at: datetime  # UTC; when the play ended
    started_at: datetime | None  # UTC, from an extended export
    track_id: str | None
    track_name: str | None
    artist_ids: tuple[str, ...]
    artists: tuple[str, ...]  # every credited artist in order; the play's own name if none known
    album_id: str | None
    album_name: str | None
    duration_ms: int | None
    ms_played: int | None
    source: str  # api | export
    context_uri: str | None
    platform: str | None
    skipped: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "played_at": self.played_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "track_id": self.track_id,
            "track_name": self.track_name,
            "artists": list(self.artists),
            "artist_ids": list(self.artist_ids),
            "album_id": self.album_id,
            "album_name": self.album_name,
            "duration_ms": self.duration_ms,
            "ms_played": self.ms_played,
            "source": self.source,
            "context_uri": self.context_uri,
            "platform": self.platform,
            "skipped": self.skipped,
        }


COLUMNS = tuple(PlayRow.__dataclass_fields__)


def _credits(conn: Connection) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    ta, a = s.track_artists, s.artists
    out: dict[str, tuple[list[str], list[str]]] = {}
    query = (
        select(ta.c.track_id, ta.c.artist_id, func.coalesce(a.c.name, ta.c.artist_id))
        .select_from(ta.outerjoin(a, a.c.id == ta.c.artist_id))
        .order_by(ta.c.track_id, ta.c.position)
    )
    for track_id, artist_id, name in conn.execute(query):
        ids, names = out.setdefault(track_id, ([], []))
        ids.append(artist_id)
        names.append(name)
    return {k: (tuple(ids), tuple(names)) for k, (ids, names) in out.items()}


def count_plays(conn: Connection, scope: Scope) -> int:
    return int(conn.execute(scope.where(select(func.count()).select_from(s.plays))).scalar() or 0)


def iter_plays(conn: Connection, scope: Scope) -> Iterator[PlayRow]:
    """The scope's plays, oldest first (by user, then time)."""
    p, t, al = s.plays, s.tracks, s.albums
    credits = _credits(conn)
    query = scope.where(
        select(
            p.c.user_id,
            p.c.played_at,
            p.c.started_at,
            p.c.track_id,
            func.coalesce(t.c.name, p.c.track_name),
            p.c.artist_name,
            t.c.album_id,
            func.coalesce(al.c.name, p.c.album_name),
            t.c.duration_ms,
            p.c.ms_played,
            p.c.source,
            p.c.context_uri,
            p.c.platform,
            p.c.skipped,
        )  # fmt: skip
        .select_from(p.outerjoin(t, t.c.id == p.c.track_id).outerjoin(al, al.c.id == t.c.album_id))
        .order_by(p.c.user_id, p.c.played_at)
    )
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(query)
    with result:  # closed also when the consumer stops early (a server-side cursor holds the connection)
        yield from (_row(r, credits) for r in result)


def _row(r: Any, credits: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]) -> PlayRow:
    ids, names = credits.get(r[3], ((), ())) if r[3] else ((), ())
    if not names and r[5]:
        names = (r[5],)
    return PlayRow(r[0], r[1], r[2], r[3], r[4], ids, names, r[6], r[7], r[8], r[9], r[10],
                   r[11], r[12], None if r[13] is None else bool(r[13]))  # fmt: skip
