"""The read layer's SQL over the plays table, the catalogue and the pipeline's state (SQLAlchemy
Core over ``warehouse.schema``), the same on SQLite and MariaDB. ``rollup_queries.py`` answers the
same questions from the rollup tables where they can.

Each function aggregates in the database as far as a portable query can and returns small rows:
at most one per track, per local hour or per followed artist, never one per play. The Python
modules beside it (``stats.py``, ``health.py``) turn these rows into results.

Grouping rule: a play with a track id is grouped by the id; a play without one (an account-data
export row, a local file) by its artist, track and album names as stored, which ``stats.py``
merges further by normalised name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from ..warehouse import schema as s
from ..warehouse.reads import _aware
from .sql import LocalHour, Unindexed, must, offset_case

p = s.plays
WHOLE_CATALOGUE = 5_000  # ids above which track_info reads the whole catalogue
Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True)
class Scope:
    """Whose plays (``user_id`` None: every user) between two UTC instants (None: unbounded)."""

    user_id: str | None
    start: datetime | None = None
    end: datetime | None = None

    def where(self, query: Q) -> Q:
        if self.user_id is not None:
            query = query.where(p.c.user_id == self.user_id)
        if self.start is not None:
            query = query.where(p.c.played_at >= self.start)
        if self.end is not None:
            query = query.where(p.c.played_at < self.end)
        return query

    def unbounded(self) -> Scope:
        return Scope(self.user_id)


@dataclass(frozen=True)
class TrackGroup:
    """The plays of one track (by id, or by names when the plays have no id)."""

    track_id: str | None
    track_name: str | None
    artist_name: str | None
    album_name: str | None
    plays: int
    ms_known: int  # the sum of ms_played where the export gave it
    plays_without_ms: int  # plays whose minutes come from the track's duration
    skipped: int
    skip_known: int  # plays whose export said whether they were skipped


def _skip_flag() -> ColumnElement[Any]:
    return case((p.c.skipped.is_(None), None), (p.c.skipped == True, 1), else_=0)  # noqa: E712


def _ids_from_plays(conn: Connection, scope: Scope) -> dict[str, list[int]]:
    sk = _skip_flag()
    track = Unindexed(p.c.track_id)
    by_id = scope.where(
        select(
            track,
            func.count(),
            func.coalesce(func.sum(p.c.ms_played), 0),
            func.count() - func.count(p.c.ms_played),
            func.coalesce(func.sum(sk), 0),
            func.count(sk),
        )  # fmt: skip
        .where(p.c.track_id.is_not(None))
        .group_by(track)
    )
    return {r[0]: [int(v) for v in r[1:]] for r in conn.execute(by_id)}


def names_from_plays(conn: Connection, scope: Scope) -> list[TrackGroup]:
    sk = _skip_flag()
    by_name = scope.where(
        select(
            p.c.track_name,
            p.c.artist_name,
            p.c.album_name,
            func.count(),
            func.coalesce(func.sum(p.c.ms_played), 0),
            func.count() - func.count(p.c.ms_played),
            func.coalesce(func.sum(sk), 0),
            func.count(sk),
        )  # fmt: skip
        .where(p.c.track_id.is_(None))
        .group_by(p.c.track_name, p.c.artist_name, p.c.album_name)
    )
    return [TrackGroup(None, r[0], r[1], r[2], *(int(v) for v in r[3:])) for r in conn.execute(by_name)]


def names_order(k: tuple[str | None, str | None, str | None]) -> tuple[bool, str, bool, str, bool, str]:
    """The order of name groups (track, artist, album names; None first): ``ordered_groups``'."""
    return (k[0] is not None, k[0] or "", k[1] is not None, k[1] or "", k[2] is not None, k[2] or "")


def ordered_groups(ids: dict[str, list[int]], names: list[TrackGroup]) -> list[TrackGroup]:
    """Id groups by id, then name groups by their names: the same order from either source, so
    a name two groups share (merged by normalised name) is shown as the same one."""
    out = [TrackGroup(tid, None, None, None, *v) for tid, v in sorted(ids.items())]
    merged: dict[tuple[str | None, str | None, str | None], list[int]] = {}
    for g in names:
        key = (g.track_name, g.artist_name, g.album_name)
        sums = [g.plays, g.ms_known, g.plays_without_ms, g.skipped, g.skip_known]
        have = merged.get(key)
        merged[key] = sums if have is None else [a + b for a, b in zip(have, sums, strict=True)]

    for key in sorted(merged, key=names_order):
        out.append(TrackGroup(None, *key, *merged[key]))
    return out


def track_groups(conn: Connection, scope: Scope) -> list[TrackGroup]:
    """One row per track played in the scope, from the plays: plays with an id grouped by it (an
    index-only scan with ``ix_plays_user_id_played_at_track_id_ms_played_skipped``), the few without
    one by their names as stored. The names of id groups come from the catalogue (``track_info``).
    ``track_sums`` and ``name_groups`` give the same from the rollups."""
    return ordered_groups(_ids_from_plays(conn, scope), names_from_plays(conn, scope))


def names_of_tracks(
    conn: Connection, track_ids: list[str]
) -> dict[str, tuple[str | None, str | None, str | None]]:
    """(track, artist, album) names as the plays gave them, for ids the catalogue lacks."""
    out = {}
    for i in range(0, len(track_ids), 900):
        query = (
            select(
                p.c.track_id, func.max(p.c.track_name), func.max(p.c.artist_name), func.max(p.c.album_name)
            )
            .where(p.c.track_id.in_(track_ids[i : i + 900]))
            .group_by(p.c.track_id)
        )
        out.update({r[0]: (r[1], r[2], r[3]) for r in conn.execute(query)})
    return out


@dataclass(frozen=True)
class TrackInfo:
    """What the catalogue knows of a track: its length, album and credited artists in order."""

    duration_ms: int | None
    album_id: str | None
    album_name: str | None
    artists: tuple[tuple[str, str], ...]  # (artist id, name), position 0 first
    name: str | None = None
    artist_name: str | None = None  # as the plays gave it, for a track the catalogue lacks


def track_info(conn: Connection, track_ids: set[str]) -> dict[str, TrackInfo]:
    """The catalogue rows of ``track_ids`` with their primary (position 0) artist, the only one the
    statistics use, in one joined query per chunk (a long history names ~30k tracks)."""
    t, ta, a, al = s.tracks, s.track_artists, s.artists, s.albums
    ids = sorted(track_ids)
    # Many ids (a year or more of listening): one scan of the catalogue beats dozens of IN lists.
    chunks: list[list[str] | None] = [None] if len(ids) > WHOLE_CATALOGUE else [
        ids[i : i + 900] for i in range(0, len(ids), 900)  # under SQLite's 999 bound parameters
    ]  # fmt: skip
    out: dict[str, TrackInfo] = {}
    for chunk in chunks:
        query = select(
            t.c.id, t.c.name, t.c.duration_ms, t.c.album_id, al.c.name, ta.c.artist_id,
            func.coalesce(a.c.name, ta.c.artist_id),
        ).select_from(
            t.outerjoin(al, al.c.id == t.c.album_id)
            .outerjoin(ta, and_(ta.c.track_id == t.c.id, ta.c.position == 0))
            .outerjoin(a, a.c.id == ta.c.artist_id)
        )  # fmt: skip
        if chunk is not None:
            query = query.where(t.c.id.in_(chunk))
        for tid, name, duration, album_id, album, artist_id, artist in conn.execute(query):
            if tid in track_ids:
                credits = ((artist_id, artist),) if artist_id is not None else ()
                out[tid] = TrackInfo(duration, album_id, album, credits, name)
    return out


def play_bounds(conn: Connection, scope: Scope) -> tuple[datetime | None, datetime | None]:
    """The oldest and newest play in the scope (UTC), None when there is none."""
    row = conn.execute(scope.where(select(func.min(p.c.played_at), func.max(p.c.played_at)))).one()
    return _aware(row[0]), _aware(row[1])


@dataclass(frozen=True)
class HourRow:
    hour: int  # local hours since 1970-01-01 00:00
    plays: int
    ms: int  # ms_played where known, else the track's duration


def hours(conn: Connection, scope: Scope, segments: list[tuple[datetime | None, int]]) -> list[HourRow]:
    """Plays and milliseconds per local hour of the scope; ``segments`` from ``offset_segments``."""
    t = s.tracks
    inner = scope.where(
        select(
            LocalHour(p.c.played_at, offset_case(p.c.played_at, segments)).label("h"),
            func.coalesce(p.c.ms_played, t.c.duration_ms, 0).label("ms"),
        ).select_from(p.outerjoin(t, t.c.id == p.c.track_id))
    ).subquery()
    query = select(inner.c.h, func.count(), func.sum(inner.c.ms)).group_by(inner.c.h).order_by(inner.c.h)
    return [HourRow(int(r[0]), int(r[1]), int(r[2] or 0)) for r in conn.execute(query)]


def first_plays(
    conn: Connection, scope: Scope
) -> Iterator[tuple[str | None, str | None, str | None, datetime]]:
    """(track id, artist name, track name, first played_at) per track ever played by the scope's
    users (the scope's dates are ignored: a discovery is a first play ever), from the plays: those
    with an id are an index-only scan of ``ix_plays_user_id_track_id_played_at_ms_played_skipped``.
    ``catalogued_first_plays`` gives the same from the rollups."""
    everything = scope.unbounded()
    by_id = everything.where(
        select(p.c.track_id, func.min(p.c.played_at)).where(p.c.track_id.is_not(None)).group_by(p.c.track_id)
    )
    by_name = everything.where(
        select(p.c.artist_name, p.c.track_name, func.min(p.c.played_at))
        .where(p.c.track_id.is_(None))
        .group_by(p.c.artist_name, p.c.track_name)
    )
    for r in conn.execute(by_id):
        yield r[0], None, None, must(_aware(r[1]))
    for n in conn.execute(by_name):
        yield None, n[0], n[1], must(_aware(n[2]))


def follow_periods(conn: Connection, user_id: str | None) -> list[dict[str, Any]]:
    """Every followed-artist period (open and closed) with the artist's name, oldest first."""
    f, a = s.followed_artists, s.artists
    query = (
        select(
            f.c.user_id,
            f.c.artist_id,
            func.coalesce(a.c.name, f.c.artist_id).label("name"),
            f.c.first_seen,
            f.c.last_seen,
            f.c.unfollowed_at,
        )  # fmt: skip
        .select_from(f.outerjoin(a, a.c.id == f.c.artist_id))
        .order_by(f.c.first_seen, f.c.artist_id)
    )
    if user_id is not None:
        query = query.where(f.c.user_id == user_id)
    return [dict(r._mapping) for r in conn.execute(query)]


def user_ids(conn: Connection) -> list[str]:
    """Every user the warehouse names (``users``), sorted."""
    return sorted(conn.execute(select(s.users.c.id)).scalars())


def open_gaps(conn: Connection, user_id: str | None) -> list[dict[str, Any]]:
    g = s.gaps
    query = select(g.c.user_id, g.c.gap_from, g.c.gap_to, g.c.detected_at).where(g.c.closed_at.is_(None))
    if user_id is not None:
        query = query.where(g.c.user_id == user_id)
    return [dict(r._mapping) for r in conn.execute(query.order_by(g.c.gap_from))]


def last_fetches(conn: Connection, user_id: str | None) -> list[dict[str, Any]]:
    """The newest fetch run of each (user, kind), any status."""
    f = s.fetch_runs
    newest = (
        select(f.c.user_id, f.c.kind, func.max(f.c.id).label("id")).group_by(f.c.user_id, f.c.kind)
    ).subquery()
    query = (
        select(f.c.user_id, f.c.kind, f.c.started_at, f.c.finished_at, f.c.status, f.c.message)
        .join(newest, and_(newest.c.id == f.c.id))
        .order_by(f.c.user_id, f.c.kind)
    )
    if user_id is not None:
        query = query.where(f.c.user_id == user_id)
    return [dict(r._mapping) for r in conn.execute(query)]


def app_state(conn: Connection, key: str) -> str | None:
    return conn.execute(select(s.app_state.c.value).where(s.app_state.c.key == key)).scalar()


def plays_sums(scope: Scope) -> Any:
    """Per track id: the five sums of the scope's plays (a select, not grouped further)."""
    sk = _skip_flag()
    track = Unindexed(p.c.track_id)
    return scope.where(
        select(
            track.label("track_id"),
            func.count().label("plays"),
            func.coalesce(func.sum(p.c.ms_played), 0).label("ms_known"),
            (func.count() - func.count(p.c.ms_played)).label("plays_without_ms"),
            func.coalesce(func.sum(sk), 0).label("skipped"),
            func.count(sk).label("skip_known"),
        )  # fmt: skip
        .where(p.c.track_id.is_not(None))
        .group_by(track)
    )


def primary_artists(conn: Connection, track_ids: list[str]) -> dict[str, str | None]:
    """The primary artist's name (else id) of catalogued tracks, None where none is credited."""
    t, ta, a = s.tracks, s.track_artists, s.artists
    out: dict[str, str | None] = {}
    for i in range(0, len(track_ids), 900):
        query = (
            select(t.c.id, func.coalesce(a.c.name, ta.c.artist_id))
            .select_from(
                t.outerjoin(ta, and_(ta.c.track_id == t.c.id, ta.c.position == 0)).outerjoin(
                    a, a.c.id == ta.c.artist_id
                )
            )
            .where(t.c.id.in_(track_ids[i : i + 900]))
        )
        out.update((r[0], r[1]) for r in conn.execute(query))
    return out
