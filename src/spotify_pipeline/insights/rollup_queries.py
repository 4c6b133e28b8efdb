"""The read layer's SQL over the rollup tables (``play_tracks``, ``play_track_months``,
``play_hours``, ``play_names``), the same on SQLite and MariaDB: the per-track sums, totals, top-list
candidates, first plays and local days and hours that ``queries.py`` otherwise groups from the plays.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Integer, and_, case, func, literal, or_, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from ..warehouse import schema as s
from ..warehouse.reads import _aware
from ..warehouse.rollups import hour_of, hour_start, month_start, name_keys, whole_months
from .localtime import offset_segments
from .queries import Scope, TrackGroup, TrackInfo, names_from_plays, plays_sums
from .sql import Ordered, must

SUM_COLUMNS = ("plays", "ms_known", "plays_without_ms", "skipped", "skip_known")


def _month_sums(scope: Scope, first: int | None, end: int | None) -> Any:
    m = s.play_track_months
    query = select(
        m.c.track_id.label("track_id"),
        *(
            func.sum(c).label(c.name)
            for c in (m.c.plays, m.c.ms_known, m.c.plays_without_ms, m.c.skipped, m.c.skip_known)
        ),
    ).group_by(m.c.track_id)
    if scope.user_id is not None:
        query = query.where(m.c.user_id == scope.user_id)
    if first is not None:
        query = query.where(m.c.month >= first)
    if end is not None:
        query = query.where(m.c.month < end)
    return query.subquery()


def _all_sums(user_id: str | None) -> Any:
    r = s.play_tracks
    sums = (r.c.plays, r.c.ms_known, r.c.plays_without_ms, r.c.skipped, r.c.skip_known)
    if user_id is not None:  # one row per track already: no grouping (and no sort) needed
        return select(r.c.track_id, *sums, r.c.first_played_at).where(r.c.user_id == user_id).subquery()
    query = select(
        r.c.track_id.label("track_id"),
        *(func.sum(c).label(c.name) for c in sums),
        func.min(r.c.first_played_at).label("first_played_at"),
    ).group_by(r.c.track_id)
    return query.subquery()


def _joined(conn: Connection, sums: Any, extra: list[Any]) -> Iterator[tuple[Any, ...]]:
    """Rows of ``sums`` (a per-track subquery) with the catalogue's columns of the track joined in
    the database: (track_id, *extra, catalogue id, name, duration, album id, album, artist id, artist)."""
    t, ta, a, al = s.tracks, s.track_artists, s.artists, s.albums
    query = select(
        sums.c.track_id, *extra, t.c.id, t.c.name, t.c.duration_ms, t.c.album_id, al.c.name, ta.c.artist_id,
        func.coalesce(a.c.name, ta.c.artist_id),
    ).select_from(
        sums.outerjoin(t, t.c.id == sums.c.track_id)
        .outerjoin(al, al.c.id == t.c.album_id)
        .outerjoin(ta, and_(ta.c.track_id == sums.c.track_id, ta.c.position == 0))
        .outerjoin(a, a.c.id == ta.c.artist_id)
    )  # fmt: skip
    yield from conn.execute(query)


def _info(row: tuple[Any, ...]) -> TrackInfo:
    _, name, duration, album_id, album, artist_id, artist = row
    return TrackInfo(duration, album_id, album, ((artist_id, artist),) if artist_id is not None else (), name)


def catalogued_first_plays(
    conn: Connection, user_id: str | None
) -> tuple[list[tuple[str | None, str | None, str | None, datetime]], dict[str, TrackInfo]]:
    """``first_plays`` from the rollups, with the catalogue rows of the ids (one joined query)."""
    sums = _all_sums(user_id)
    out: list[tuple[str | None, str | None, str | None, datetime]] = []
    infos: dict[str, TrackInfo] = {}
    for row in _joined(conn, sums, [sums.c.first_played_at]):
        out.append((row[0], None, None, must(_aware(row[1]))))
        if row[2] is not None:
            infos[row[0]] = _info(row[2:])
    n = s.play_names
    by_name = select(n.c.artist_name, n.c.track_name, func.min(n.c.first_played_at)).group_by(
        n.c.artist_name, n.c.track_name
    )
    if user_id is not None:
        by_name = by_name.where(n.c.user_id == user_id)
    out += [(None, r[0], r[1], must(_aware(r[2]))) for r in conn.execute(by_name)]
    return out, infos


@dataclass(frozen=True)
class Firsts:
    """What discoveries need from the rollups: the first plays of the id tracks first played in the
    scope's dates; the first play of each credited primary artist (catalogued tracks); the id tracks
    without a catalogued primary artist with their first play; the name groups' first plays."""

    tracks_in_scope: list[datetime]
    credited_artists: dict[str, datetime]
    uncredited: list[tuple[str, datetime]]
    names: list[tuple[str | None, str | None, datetime]]


def _uncredited(conn: Connection, scope: Scope, limit: int | None = None) -> list[tuple[str, datetime]]:
    """The id tracks without a catalogued primary artist, with their first play (``limit``: only
    whether there is one: the first found, not grouped)."""
    r, t, ta = s.play_tracks, s.tracks, s.track_artists
    first = func.min(r.c.first_played_at)
    credit = and_(ta.c.track_id == r.c.track_id, ta.c.position == 0)
    query = (
        select(r.c.track_id, first)
        .select_from(r.outerjoin(t, t.c.id == r.c.track_id).outerjoin(ta, credit))
        .where(or_(t.c.id.is_(None), ta.c.track_id.is_(None)))
        .group_by(r.c.track_id)
    )
    if scope.user_id is not None:
        query = query.where(r.c.user_id == scope.user_id)
    if limit is not None:
        query = query.with_only_columns(r.c.track_id, r.c.first_played_at).group_by(None).limit(limit)
    return [(row[0], must(_aware(row[1]))) for row in conn.execute(query)]


@dataclass(frozen=True)
class DiscoveryCounts:
    """New tracks and new artists per local month (``months[i]`` names bucket ``i``)."""

    months: list[str]
    tracks: dict[int, int]
    artists: dict[int, int]


Cutter = Callable[[datetime, datetime], tuple[list[datetime], list[str]]]


def discovery_counts(conn: Connection, scope: Scope, cutter: Cutter) -> DiscoveryCounts | None:
    """Discoveries counted in SQL when every id track has a catalogued primary artist (else None:
    ``discovery_firsts``, whose name-keyed artists Python merges): the firsts of the id tracks
    (``ix_play_tracks_user_id_first_played_at``), of the credited primary artists and of the name
    groups' stored keys (``play_names.track_key``, ``artist_key``) that lie in the scope, each put in
    its local month by a CASE over the months' first instants (``cutter(first, last)``: the instants
    local months begin at from ``first``'s month to past ``last``, and their names)."""
    if _uncredited(conn, scope, 1):
        return None
    r, t, ta, n, h = s.play_tracks, s.tracks, s.track_artists, s.play_names, s.play_hours
    bounds = select(func.min(h.c.hour), func.max(h.c.hour))  # every first play lies in these hours
    if scope.user_id is not None:
        bounds = bounds.where(h.c.user_id == scope.user_id)
    lo, hi = conn.execute(bounds).one()
    if lo is None:
        return DiscoveryCounts([], {}, {})
    first, last = hour_start(int(lo)), hour_start(int(hi) + 1)
    if scope.start is not None:
        first = max(first, scope.start)
    if scope.end is not None:
        last = min(last, scope.end)
    if first >= last:
        return DiscoveryCounts([], {}, {})
    cuts, months = cutter(first, last)

    def in_scope(query: Any, at: Any) -> Any:
        if scope.start is not None:
            query = query.having(at >= scope.start)
        if scope.end is not None:
            query = query.having(at < scope.end)
        return query

    at = func.min(r.c.first_played_at)
    named_at = func.min(n.c.first_played_at)
    credit = and_(ta.c.track_id == r.c.track_id, ta.c.position == 0)
    if scope.user_id is not None:  # one row per track: no grouping, the index gives the range
        tracks = select(r.c.first_played_at.label("at")).where(
            r.c.user_id == scope.user_id, *_within(r.c.first_played_at, scope)
        )
    else:
        tracks = in_scope(select(at.label("at")).group_by(r.c.track_id), at)
    artists = select(at.label("at")).select_from(r.join(t, t.c.id == r.c.track_id).join(ta, credit))
    if scope.user_id is not None:
        artists = artists.where(r.c.user_id == scope.user_id)
    bounded = scope.user_id is not None and (scope.start is not None or scope.end is not None)
    grouped_artists = in_scope(artists.group_by(ta.c.artist_id), at)

    def count(*parts: Any) -> dict[int, int]:
        every = union_all(*parts).subquery()
        bucketed = (
            select(_bucket(every.c.at, cuts, 0, len(cuts)).label("bucket")).select_from(every).subquery()
        )
        query = select(bucketed.c.bucket, func.count()).group_by(bucketed.c.bucket)
        return {int(k): int(v) for k, v in conn.execute(query)}

    if not bounded:
        by_name = in_scope(_user_names(select(named_at.label("at")), scope).group_by(n.c.track_key), named_at)
        by_artist = in_scope(
            _user_names(select(named_at.label("at")), scope)
            .where(n.c.artist_key.is_not(None))
            .group_by(n.c.artist_key),
            named_at,
        )
        return DiscoveryCounts(months, count(tracks, by_name), count(grouped_artists, by_artist))
    counts = DiscoveryCounts(months, count(tracks), {})
    # Only the artists of the tracks first played in the period can be new in it: their ids first
    # (a few), then each one's first play over its credited tracks (``ix_track_artists_artist_id``).
    r2, ta2 = r.alias("new_tracks"), ta.alias("new_credits")
    newly = (
        select(ta2.c.artist_id)
        .distinct()
        .select_from(r2.join(ta2, and_(ta2.c.track_id == r2.c.track_id, ta2.c.position == 0)))
        .where(r2.c.user_id == scope.user_id, *_within(r2.c.first_played_at, scope))
    )
    ids = sorted(a for (a,) in conn.execute(newly))
    new_artists: list[datetime] = []
    by_credit = select(at).select_from(Ordered(ta, r, credit).join(t, t.c.id == r.c.track_id))
    by_credit = by_credit.where(r.c.user_id == scope.user_id)
    for i in range(0, len(ids), 900):
        query = in_scope(by_credit.where(ta.c.artist_id.in_(ids[i : i + 900])).group_by(ta.c.artist_id), at)
        new_artists += [must(_aware(row[0])) for row in conn.execute(query)]
    for key, into, extra in (
        (n.c.track_key, counts.tracks, []),
        (n.c.artist_key, counts.artists, new_artists),
    ):
        for first_at in [*extra, *_new_names(conn, key, scope)]:
            i = bisect_right(cuts, first_at) - 1
            into[i] = into.get(i, 0) + 1
    return counts


def _within(column: Any, scope: Scope) -> list[ColumnElement[bool]]:
    out = [] if scope.start is None else [column >= scope.start]
    return out if scope.end is None else [*out, column < scope.end]


def _user_names(query: Any, scope: Scope) -> Any:
    return query if scope.user_id is None else query.where(s.play_names.c.user_id == scope.user_id)


def _new_names(conn: Connection, key: Any, scope: Scope) -> list[datetime]:
    """The first plays of the name keys (``key``: a ``play_names`` key column) first played in the
    scope: the keys with a row first played in it (``ix_play_names_user_id_first_played_at``), then
    each key's first play over all of its rows."""
    n = s.play_names
    keys = [
        k
        for (k,) in conn.execute(
            _user_names(select(key).distinct(), scope).where(
                key.is_not(None), *_within(n.c.first_played_at, scope)
            )
        )
    ]
    out: list[datetime] = []
    for i in range(0, len(keys), 900):
        query = _user_names(select(func.min(n.c.first_played_at)), scope).where(key.in_(keys[i : i + 900]))
        for (at,) in conn.execute(query.group_by(key)):
            first_at = must(_aware(at))
            if (scope.start is None or first_at >= scope.start) and (
                scope.end is None or first_at < scope.end
            ):
                out.append(first_at)
    return out


def _bucket(column: Any, cuts: list[datetime], lo: int, hi: int) -> ColumnElement[int]:
    """The index of the last of ``cuts[lo:hi]`` at or before ``column``: a balanced tree of CASEs."""
    if hi - lo <= 1:
        return literal(lo, Integer)
    mid = (lo + hi) // 2
    return case((column < cuts[mid], _bucket(column, cuts, lo, mid)), else_=_bucket(column, cuts, mid, hi))


def discovery_firsts(conn: Connection, scope: Scope) -> Firsts:
    """Every first play discoveries need (``discovery_counts`` could not count them in SQL)."""
    return _every_first(conn, scope, _uncredited(conn, scope))


def _every_first(conn: Connection, scope: Scope, uncredited: list[tuple[str, datetime]]) -> Firsts:
    r, t, ta, n = s.play_tracks, s.tracks, s.track_artists, s.play_names
    first = func.min(r.c.first_played_at)
    tracks = select(first).group_by(r.c.track_id)
    if scope.start is not None:
        tracks = tracks.having(first >= scope.start)
    if scope.end is not None:
        tracks = tracks.having(first < scope.end)
    credit = and_(ta.c.track_id == r.c.track_id, ta.c.position == 0)
    artists = (
        select(ta.c.artist_id, first)
        .select_from(r.join(t, t.c.id == r.c.track_id).join(ta, credit))
        .group_by(ta.c.artist_id)
    )
    names = select(n.c.artist_name, n.c.track_name, func.min(n.c.first_played_at)).group_by(
        n.c.artist_name, n.c.track_name
    )
    if scope.user_id is not None:
        tracks, artists = (
            tracks.where(r.c.user_id == scope.user_id),
            artists.where(r.c.user_id == scope.user_id),
        )
        names = names.where(n.c.user_id == scope.user_id)
    return Firsts(
        [must(_aware(row[0])) for row in conn.execute(tracks)],
        {row[0]: must(_aware(row[1])) for row in conn.execute(artists)},
        uncredited,
        [(row[0], row[1], must(_aware(row[2]))) for row in conn.execute(names)],
    )


@dataclass(frozen=True)
class LocalSums:
    """Plays and milliseconds per local day (days since 1970-01-01) and per hour of the local week
    (``local hour % 168``: 0 is a Thursday 00:00, as 1970-01-01 was)."""

    days: dict[int, tuple[int, int]]
    week_hours: dict[int, tuple[int, int]]


def local_from_rollups(conn: Connection, scope: Scope, zone: ZoneInfo) -> LocalSums | None:
    """Days and the week's hours from ``play_hours``, shifted to local time in SQL (a CASE over the
    zone's offsets, whole hours), or None where they cannot answer exactly: a bound not on a whole
    UTC hour, a zone offset or transition off the whole hour (30/45-minute zones: the plays answer),
    or a track whose catalogue duration changed since its hours were summed."""
    for bound in (scope.start, scope.end):
        if bound is not None and (bound.minute, bound.second, bound.microsecond) != (0, 0, 0):
            return None
    r, t, h = s.play_tracks, s.tracks, s.play_hours
    current = (
        select(func.coalesce(func.max(t.c.duration_ms), 0)).where(t.c.id == r.c.track_id).scalar_subquery()
    )
    stale = select(r.c.track_id).where(r.c.plays_without_ms > 0, r.c.duration_ms != current)
    bounds = select(func.min(h.c.hour), func.max(h.c.hour))
    if scope.user_id is not None:
        stale, bounds = stale.where(r.c.user_id == scope.user_id), bounds.where(h.c.user_id == scope.user_id)
    if scope.start is not None:
        bounds = bounds.where(h.c.hour >= hour_of(scope.start))
    if scope.end is not None:
        bounds = bounds.where(h.c.hour < hour_of(scope.end))
    if conn.execute(stale.limit(1)).first() is not None:
        return None
    lo, hi = conn.execute(bounds).one()
    if lo is None:
        return LocalSums({}, {})
    segments = offset_segments(zone, hour_start(int(lo)), hour_start(int(hi)) + timedelta(hours=1))
    if any(o % 3600 or (at is not None and (at.minute, at.second) != (0, 0)) for at, o in segments):
        return None
    cuts = [(None if at is None else hour_of(at), o // 3600) for at, o in segments]
    local = (h.c.hour + _shift(h.c.hour, cuts)).label("local")
    inner = bounds.with_only_columns(local, h.c.plays, h.c.ms).subquery()

    def sums(key: Any) -> dict[int, tuple[int, int]]:
        query = select(key, func.sum(inner.c.plays), func.sum(inner.c.ms)).group_by(key)
        return {int(k): (int(n), int(ms or 0)) for k, n, ms in conn.execute(query)}

    return LocalSums(sums(inner.c.local // 24), sums(inner.c.local % 168))


def _shift(column: Any, cuts: list[tuple[int | None, int]]) -> ColumnElement[int]:
    """Whole hours east of UTC at ``column``'s hour: a balanced tree of CASEs over the transitions."""
    if len(cuts) == 1:
        return literal(cuts[0][1], Integer)
    mid = len(cuts) // 2
    return case((column < cuts[mid][0], _shift(column, cuts[:mid])), else_=_shift(column, cuts[mid:]))


def reads_rollups(scope: Scope) -> bool:
    """Whether ``track_sums`` reads the rollups for ``scope`` (all of history, or a whole UTC month
    in it); else it groups the period's plays."""
    first, end = whole_months(scope.start, scope.end)
    return first is None or end is None or first < end


def track_sums(scope: Scope, rollups: bool = True) -> Any:
    """One row per track id played in the scope with its five sums, as a subquery: from
    ``play_tracks`` (all of history), ``play_track_months`` plus the plays of the partial months at
    the ends, or the plays alone (no whole month, or ``rollups`` False)."""
    if not rollups:
        return plays_sums(scope).subquery()
    if scope.start is None and scope.end is None:
        return _all_sums(scope.user_id)
    first, end = whole_months(scope.start, scope.end)
    if first is not None and end is not None and first >= end:
        return plays_sums(scope).subquery()
    m = s.play_track_months
    months = select(m.c.track_id, *(getattr(m.c, c) for c in SUM_COLUMNS))
    if scope.user_id is not None:
        months = months.where(m.c.user_id == scope.user_id)
    if first is not None:
        months = months.where(m.c.month >= first)
    if end is not None:
        months = months.where(m.c.month < end)
    parts: list[Any] = [months]
    if scope.start is not None and first is not None and month_start(first) > scope.start:
        parts.append(plays_sums(Scope(scope.user_id, scope.start, month_start(first))))
    if scope.end is not None and end is not None and month_start(end) < scope.end:
        parts.append(plays_sums(Scope(scope.user_id, month_start(end), scope.end)))
    if len(parts) == 1:
        return _month_sums(scope, first, end)
    every = union_all(*parts).subquery()
    return (
        select(every.c.track_id, *(func.sum(every.c[c]).label(c) for c in SUM_COLUMNS))
        .group_by(every.c.track_id)
        .subquery()
    )


def name_groups(conn: Connection, scope: Scope) -> list[TrackGroup]:
    """The groups of plays without a track id (``play_names`` for all of history)."""
    if scope.start is not None or scope.end is not None:
        return names_from_plays(conn, scope)
    n = s.play_names
    by_name = select(n.c.track_name, n.c.artist_name, n.c.album_name, n.c.plays, n.c.ms_known,
                     n.c.plays_without_ms, n.c.skipped, n.c.skip_known)  # fmt: skip
    if scope.user_id is not None:
        by_name = by_name.where(n.c.user_id == scope.user_id)
    return [
        TrackGroup(None, r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), int(r[6]), int(r[7]))
        for r in conn.execute(by_name)
    ]


def _ms_of(sums: Any) -> ColumnElement[Any]:
    ms: ColumnElement[Any] = sums.c.ms_known + sums.c.plays_without_ms * func.coalesce(
        s.tracks.c.duration_ms, 0
    )
    return ms


@dataclass(frozen=True)
class IdTotals:
    """Sums over the catalogued track ids of a ``track_sums`` subquery, how many distinct tracks,
    primary artists and albums they are, and how many track ids there are in all."""

    plays: int
    ms: int
    skipped: int
    skip_known: int
    tracks: int
    artists: int
    albums: int
    ids: int  # every track id, catalogued or not


def id_totals(conn: Connection, sums: Any) -> IdTotals:
    t, ta = s.tracks, s.track_artists
    catalogued = t.c.id.is_not(None)
    query = select(
        *(func.sum(case((catalogued, c), else_=0)) for c in (sums.c.plays, _ms_of(sums), sums.c.skipped,
                                                              sums.c.skip_known)),
        func.count(t.c.id), func.count(ta.c.artist_id.distinct()), func.count(t.c.album_id.distinct()),
        func.count(),
    ).select_from(
        sums.outerjoin(t, t.c.id == sums.c.track_id)
        .outerjoin(ta, and_(ta.c.track_id == t.c.id, ta.c.position == 0))
    )  # fmt: skip
    return IdTotals(*(int(v or 0) for v in conn.execute(query).one()))


def uncatalogued(conn: Connection, sums: Any) -> dict[str, list[int]]:
    """The five sums of the track ids the catalogue lacks."""
    t = s.tracks
    query = (
        select(sums.c.track_id, *(sums.c[c] for c in SUM_COLUMNS))
        .select_from(sums.outerjoin(t, t.c.id == sums.c.track_id))
        .where(t.c.id.is_(None))
    )
    return {r[0]: [int(v) for v in r[1:]] for r in conn.execute(query)}


@dataclass(frozen=True)
class Candidate:
    key: str
    name: str
    artist: str | None  # tracks: the primary artist; albums: the id of the track that names it
    plays: int
    ms: int


def top_candidates(conn: Connection, sums: Any, kind: str, n: int) -> list[Candidate]:
    """The catalogued ``kind`` (tracks, artists by primary artist id, albums by id) that could be in
    the first ``n`` by plays or by minutes: ``rank()`` (ties share a rank) within ``n`` by (plays,
    ms) or by (ms, plays), one pass over the grouping; named after ranking (the tie-break by name
    is ``toplists.best``'s). For albums ``artist`` is the smallest track id of the album (the one
    whose primary artist it is shown with)."""
    inner = _grouped(sums, kind).subquery()
    ranked = select(
        inner,
        func.rank().over(order_by=(inner.c.plays.desc(), inner.c.ms.desc())).label("by_plays"),
        func.rank().over(order_by=(inner.c.ms.desc(), inner.c.plays.desc())).label("by_ms"),
    ).subquery()
    best = select(ranked.c.key, ranked.c.first, ranked.c.plays, ranked.c.ms).where(
        or_(ranked.c.by_plays <= n, ranked.c.by_ms <= n)
    )
    rows = [(r[0], r[1], int(r[2]), int(r[3] or 0)) for r in conn.execute(best)]
    names = _candidate_names(conn, kind, [r[0] for r in rows])
    out = []
    for key, first, plays, total in rows:
        name, artist = names.get(key, (key, None))
        out.append(Candidate(key, name, first if kind == "albums" else artist, plays, total))
    return out


def _grouped(sums: Any, kind: str) -> Any:
    """(key, first, plays, ms) per catalogued track, primary artist or album of ``sums``."""
    t, ta = s.tracks, s.track_artists
    ms = _ms_of(sums)
    joined = sums.join(t, t.c.id == sums.c.track_id)
    credit = and_(ta.c.track_id == t.c.id, ta.c.position == 0)
    if kind == "tracks":
        return select(t.c.id.label("key"), literal(None).label("first"), sums.c.plays.label("plays"),
                      ms.label("ms")).select_from(joined)  # fmt: skip
    if kind == "artists":
        return (
            select(
                ta.c.artist_id.label("key"),
                literal(None).label("first"),
                func.sum(sums.c.plays).label("plays"),
                func.sum(ms).label("ms"),
            )  # fmt: skip
            .select_from(joined.join(ta, credit))
            .group_by(ta.c.artist_id)
        )
    return (
        select(
            t.c.album_id.label("key"),
            func.min(t.c.id).label("first"),
            func.sum(sums.c.plays).label("plays"),
            func.sum(ms).label("ms"),
        )  # fmt: skip
        .select_from(joined)
        .where(t.c.album_id.is_not(None))
        .group_by(t.c.album_id)
    )


def _candidate_names(conn: Connection, kind: str, keys: list[str]) -> dict[str, tuple[str, str | None]]:
    """(name, primary artist for tracks) of the candidates' keys."""
    t, ta, a, al = s.tracks, s.track_artists, s.artists, s.albums
    credit = and_(ta.c.track_id == t.c.id, ta.c.position == 0)
    names: dict[str, tuple[str, str | None]] = {}
    for i in range(0, len(keys), 900):  # under SQLite's 999 bound parameters (many ties)
        chunk = keys[i : i + 900]
        if kind == "tracks":
            query = (
                select(t.c.id, func.coalesce(t.c.name, t.c.id), func.coalesce(a.c.name, ta.c.artist_id))
                .select_from(t.outerjoin(ta, credit).outerjoin(a, a.c.id == ta.c.artist_id))
                .where(t.c.id.in_(chunk))
            )
        else:
            named = a if kind == "artists" else al
            query = select(named.c.id, func.coalesce(named.c.name, named.c.id), literal(None)).where(
                named.c.id.in_(chunk)
            )
        names.update((r[0], (r[1], r[2])) for r in conn.execute(query))
    return names


NAME_KEYS = {"tracks": "track_key", "artists": "artist_key", "albums": "album_key"}


def name_key(kind: str, row: NamedRow) -> str:
    """The read side's key of ``kind`` for a name group (what ``play_names`` stores the digest of)."""
    key = name_keys(row.track_name, row.artist_name, row.album_name)[list(NAME_KEYS).index(kind)]
    assert key is not None  # the row was found by this key's digest
    return key


def name_totals(conn: Connection, user_id: str | None) -> IdTotals:
    """``IdTotals`` of the name groups of all of history (``play_names``), counted by their keys;
    minutes are ``ms_known`` alone (a play without an id has no duration to fall back on)."""
    n = s.play_names
    query = select(
        *(func.coalesce(func.sum(c), 0) for c in (n.c.plays, n.c.ms_known, n.c.skipped, n.c.skip_known)),
        func.count(n.c.track_key.distinct()),
        func.count(n.c.artist_key.distinct()),
        func.count(n.c.album_key.distinct()),
        literal(0),
    )
    if user_id is not None:
        query = query.where(n.c.user_id == user_id)
    return IdTotals(*(int(v or 0) for v in conn.execute(query).one()))


@dataclass(frozen=True)
class NamedRow:
    """A ``play_names`` row's names and the candidate key it was fetched for."""

    key: str
    track_name: str | None
    artist_name: str | None
    album_name: str | None


def name_candidates(
    conn: Connection, user_id: str | None, kind: str, n: int
) -> tuple[list[tuple[str, int, int]], list[NamedRow]]:
    """The name keys of ``kind`` that could be in the first ``n`` by plays or by minutes (as
    ``top_candidates``) with their plays and milliseconds, and every ``play_names`` row of them (the
    caller names each key after its first row in ``queries.ordered_groups``' order)."""
    names = s.play_names
    key = names.c[NAME_KEYS[kind]]
    grouped = select(
        key.label("key"), func.sum(names.c.plays).label("plays"), func.sum(names.c.ms_known).label("ms")
    ).where(key.is_not(None))
    if user_id is not None:
        grouped = grouped.where(names.c.user_id == user_id)
    inner = grouped.group_by(key).subquery()
    ranked = select(
        inner,
        func.rank().over(order_by=(inner.c.plays.desc(), inner.c.ms.desc())).label("by_plays"),
        func.rank().over(order_by=(inner.c.ms.desc(), inner.c.plays.desc())).label("by_ms"),
    ).subquery()
    best = select(ranked.c.key, ranked.c.plays, ranked.c.ms).where(
        or_(ranked.c.by_plays <= n, ranked.c.by_ms <= n)
    )
    found = [(str(r[0]), int(r[1]), int(r[2] or 0)) for r in conn.execute(best)]
    keys = [k for k, _, _ in found]
    rows: list[NamedRow] = []
    for i in range(0, len(keys), 900):
        query = select(key, names.c.track_name, names.c.artist_name, names.c.album_name).where(
            key.in_(keys[i : i + 900])
        )
        if user_id is not None:
            query = query.where(names.c.user_id == user_id)
        rows += [NamedRow(*r) for r in conn.execute(query)]
    return found, rows
