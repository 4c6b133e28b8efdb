"""Rollups of ``plays`` (0007), kept exact by the jobs that write plays; docs/schema.md, docs/stats.md.

* ``play_hours``: per user and UTC hour, plays and milliseconds (``ms_played``, else the track's
  duration, else 0) and the API / matched counts coverage needs.
* ``play_tracks``: per user and track id, all-time totals and the first play; ``duration_ms`` is the
  duration ``play_hours`` summed the track's plays without ``ms_played`` with.
* ``play_names``: the same for plays without a track id, per exact (track, artist, album) names,
  with digests of the read side's normalised keys of the names (``name_keys``, ``key_digests``, 0008).
* ``play_track_months``: per user, UTC month and track id, the totals of a long bounded period.

Every row is a pure function of ``plays`` and ``tracks.duration_ms``. ``refresh(conn, user, start,
end)`` recomputes every row the plays in ``[start, end)`` feed: the hours and months it overlaps
(deleted and re-inserted by a grouped ``INSERT ... SELECT``), every track with a play in it (all of
its history), the user's name groups when the range holds a play without an id. A play deleted in
the range whose track has no other play there leaves that track's row too high; the totals of
``play_tracks`` + ``play_names`` then differ from ``play_hours``' and both are recomputed for the
user. A track whose catalogue duration changed since its hours were summed (``duration_ms`` differs)
has those hours recomputed first, whoever changed the catalogue.

Callers: ``process`` (the plays it inserted, found by ``loaded_at``), ``import-history`` (the span
of the export, which holds every row it inserted, moved, matched or deleted), ``rebuild`` and
migration 0007 (everything). The same SQL on SQLite, MySQL/MariaDB and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Integer, and_, case, delete, func, insert, literal, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from ..transform.names import normalise_name
from . import schema as s
from .engine import writing
from .state import get_in, set_in

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
CHUNK = 500  # ids per IN list (SQLite allows 999 bound parameters)
ROLLUP_TABLES = (s.play_hours, s.play_tracks, s.play_names, s.play_track_months)
p = s.plays


class UtcHour(FunctionElement[int]):
    """Whole hours from 1970-01-01 00:00 UTC to a (naive UTC) datetime column."""

    type = Integer()
    name = "utc_hour"
    inherit_cache = True


class UtcMonth(FunctionElement[int]):
    """Calendar months from 1970-01 to a (naive UTC) datetime column's month."""

    type = Integer()
    name = "utc_month"
    inherit_cache = True


@compiles(UtcHour)
@compiles(UtcHour, "sqlite")
def _hour_sqlite(element: UtcHour, compiler: Any, **kw: Any) -> str:
    (at,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST(strftime('%s', {at}) AS INTEGER) / 3600)"


@compiles(UtcHour, "mysql")
@compiles(UtcHour, "mariadb")
def _hour_mysql(element: UtcHour, compiler: Any, **kw: Any) -> str:
    (at,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"(TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {at}) DIV 3600)"


@compiles(UtcHour, "postgresql")
def _hour_pg(element: UtcHour, compiler: Any, **kw: Any) -> str:
    (at,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {at}) / 3600) AS INTEGER)"


@compiles(UtcMonth)
@compiles(UtcMonth, "sqlite")
def _month_sqlite(element: UtcMonth, compiler: Any, **kw: Any) -> str:
    (at,) = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"((CAST(strftime('%Y', {at}) AS INTEGER) - 1970) * 12 + CAST(strftime('%m', {at}) AS INTEGER) - 1)"
    )


@compiles(UtcMonth, "mysql")
@compiles(UtcMonth, "mariadb")
def _month_mysql(element: UtcMonth, compiler: Any, **kw: Any) -> str:
    (at,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"((YEAR({at}) - 1970) * 12 + MONTH({at}) - 1)"


@compiles(UtcMonth, "postgresql")
def _month_pg(element: UtcMonth, compiler: Any, **kw: Any) -> str:
    (at,) = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"((CAST(EXTRACT(YEAR FROM {at}) AS INTEGER) - 1970) * 12"
        f" + CAST(EXTRACT(MONTH FROM {at}) AS INTEGER) - 1)"
    )


# --- hour and month numbers <-> instants -----------------------------------------------------------
def hour_start(hour: int) -> datetime:
    return EPOCH + timedelta(hours=hour)


def hour_of(at: datetime) -> int:
    """The number of the UTC hour ``at`` lies in."""
    return int((at - EPOCH).total_seconds() // 3600)


def month_start(month: int) -> datetime:
    return datetime(1970 + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def month_of(at: datetime) -> int:
    at = at.astimezone(UTC)
    return (at.year - 1970) * 12 + at.month - 1


def whole_months(start: datetime | None, end: datetime | None) -> tuple[int | None, int | None]:
    """The UTC months lying wholly in ``[start, end)``: ``(first, end)`` month numbers (end
    exclusive; None where the range is unbounded)."""
    first = None if start is None else month_of(start) + (0 if start == month_start(month_of(start)) else 1)
    last = None if end is None else month_of(end)
    return first, last


# --- the aggregates, as SQL ------------------------------------------------------------------------
def _skip_flag() -> ColumnElement[Any]:
    return case((p.c.skipped.is_(None), None), (p.c.skipped == True, 1), else_=0)  # noqa: E712


def _track_sums() -> list[ColumnElement[Any]]:
    """plays, ms_known, plays_without_ms, skipped, skip_known of a group of plays."""
    sk = _skip_flag()
    return [
        func.count(),
        func.coalesce(func.sum(p.c.ms_played), 0),
        func.count() - func.count(p.c.ms_played),
        func.coalesce(func.sum(sk), 0),
        func.count(sk),
    ]


def _user(query: Any, user_id: str | None) -> Any:
    return query if user_id is None else query.where(p.c.user_id == user_id)


def _in_range(query: Any, start: datetime | None, end: datetime | None) -> Any:
    if start is not None:
        query = query.where(p.c.played_at >= start)
    if end is not None:
        query = query.where(p.c.played_at < end)
    return query


def _hours(conn: Connection, user_id: str | None, first: int | None, end: int | None) -> None:
    """Recompute ``play_hours`` for the hours ``[first, end)`` (None: unbounded)."""
    h, t = s.play_hours, s.tracks
    gone = delete(h)
    if user_id is not None:
        gone = gone.where(h.c.user_id == user_id)
    if first is not None:
        gone = gone.where(h.c.hour >= first)
    if end is not None:
        gone = gone.where(h.c.hour < end)
    conn.execute(gone)
    hour = UtcHour(p.c.played_at)
    api = p.c.source == "api"
    query = select(
        p.c.user_id,
        hour,
        func.count(),
        func.coalesce(func.sum(func.coalesce(p.c.ms_played, t.c.duration_ms, 0)), 0),
        func.coalesce(func.sum(case((api, 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(api, p.c.matched_import_id.is_not(None)), 1), else_=0)), 0),
    ).select_from(p.outerjoin(t, t.c.id == p.c.track_id))
    query = _in_range(
        _user(query, user_id),
        None if first is None else hour_start(first),
        None if end is None else hour_start(end),
    ).group_by(p.c.user_id, hour)
    cols = ["user_id", "hour", "plays", "ms", "api_plays", "api_matched"]
    conn.execute(insert(h).from_select(cols, query))


def _months(conn: Connection, user_id: str | None, first: int | None, end: int | None) -> None:
    """Recompute ``play_track_months`` for the months ``[first, end)`` (None: unbounded)."""
    m = s.play_track_months
    gone = delete(m)
    if user_id is not None:
        gone = gone.where(m.c.user_id == user_id)
    if first is not None:
        gone = gone.where(m.c.month >= first)
    if end is not None:
        gone = gone.where(m.c.month < end)
    conn.execute(gone)
    month = UtcMonth(p.c.played_at)
    query = select(p.c.user_id, month, p.c.track_id, *_track_sums()).where(p.c.track_id.is_not(None))
    query = _in_range(
        _user(query, user_id),
        None if first is None else month_start(first),
        None if end is None else month_start(end),
    ).group_by(p.c.user_id, month, p.c.track_id)
    cols = ["user_id", "month", "track_id", "plays", "ms_known", "plays_without_ms", "skipped", "skip_known"]
    conn.execute(insert(m).from_select(cols, query))


def _tracks(conn: Connection, user_id: str | None, track_ids: Iterable[str] | None) -> None:
    """Recompute ``play_tracks`` for ``track_ids`` (None: every track) over all of history."""
    r, t = s.play_tracks, s.tracks
    cols = ["user_id", "track_id", "plays", "ms_known", "plays_without_ms", "skipped", "skip_known",
            "first_played_at", "duration_ms"]  # fmt: skip
    ids = None if track_ids is None else sorted(set(track_ids))
    chunks: list[list[str] | None] = (
        [None] if ids is None else [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
    )
    for chunk in chunks:
        gone = delete(r)
        if user_id is not None:
            gone = gone.where(r.c.user_id == user_id)
        if chunk is not None:
            gone = gone.where(r.c.track_id.in_(chunk))
        conn.execute(gone)
        query = _user(
            select(p.c.user_id, p.c.track_id, *_track_sums(), func.min(p.c.played_at), literal(0)).where(
                p.c.track_id.is_not(None)
            ),
            user_id,
        )
        if chunk is not None:
            query = query.where(p.c.track_id.in_(chunk))
        conn.execute(insert(r).from_select(cols, query.group_by(p.c.user_id, p.c.track_id)))
        # The durations the hours were summed with: the catalogue's now (one row per track).
        known = (
            select(func.coalesce(func.max(t.c.duration_ms), 0))
            .where(t.c.id == r.c.track_id)
            .scalar_subquery()
        )
        fix = update(r).values(duration_ms=func.coalesce(known, 0))
        if user_id is not None:
            fix = fix.where(r.c.user_id == user_id)
        if chunk is not None:
            fix = fix.where(r.c.track_id.in_(chunk))
        conn.execute(fix)


def names_digest(track: str | None, artist: str | None, album: str | None) -> str:
    return hashlib.sha256(json.dumps([track, artist, album], ensure_ascii=False).encode()).hexdigest()


def name_keys(track: str | None, artist: str | None, album: str | None) -> tuple[str, str | None, str | None]:
    """The keys the read side counts a play without an id under (``insights.stats``): its track
    (normalised artist + track), its artist and its album (normalised artist + album; None where the
    artist, the album, normalises to nothing)."""
    who, what, where = normalise_name(artist), normalise_name(track), normalise_name(album)
    return f"name:{who}|{what}", f"name:{who}" if who else None, f"name:{who}|{where}" if where else None


def key_digests(track: str | None, artist: str | None, album: str | None) -> dict[str, str | None]:
    """``play_names``' key columns for these names: the SHA-256 (hex) of each of ``name_keys`` (short
    keys that group, compare and index cheaply on every engine; the read side names a group from its
    names, ``name_keys`` again)."""
    keys = name_keys(track, artist, album)
    return {
        column: None if key is None else hashlib.sha256(key.encode()).hexdigest()
        for column, key in zip(("track_key", "artist_key", "album_key"), keys, strict=True)
    }


def _names(conn: Connection, user_id: str | None) -> None:
    """Recompute ``play_names`` of ``user_id`` (None: every user): grouped in SQL as the read side
    groups plays without an id, the key hashed here."""
    n = s.play_names
    gone = delete(n)
    if user_id is not None:
        gone = gone.where(n.c.user_id == user_id)
    conn.execute(gone)
    query = _user(
        select(
            p.c.user_id,
            p.c.track_name,
            p.c.artist_name,
            p.c.album_name,
            *_track_sums(),
            func.min(p.c.played_at),
        ).where(p.c.track_id.is_(None)),  # fmt: skip
        user_id,
    ).group_by(p.c.user_id, p.c.track_name, p.c.artist_name, p.c.album_name)
    rows = [
        {
            "user_id": r[0],
            "names_sha256": names_digest(r[1], r[2], r[3]),
            "track_name": r[1],
            "artist_name": r[2],
            "album_name": r[3],
            "plays": int(r[4]),
            "ms_known": int(r[5]),
            "plays_without_ms": int(r[6]),
            "skipped": int(r[7]),
            "skip_known": int(r[8]),
            "first_played_at": _aware(r[9]),
            **key_digests(r[1], r[2], r[3]),
        }  # fmt: skip
        for r in conn.execute(query)
    ]
    for i in range(0, len(rows), 1000):
        conn.execute(insert(n), rows[i : i + 1000])


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _stale_durations(conn: Connection, user_id: str | None) -> None:
    """Tracks whose catalogue duration is not the one their hours were summed with: recompute those
    hours (the ones holding a play of the track without ``ms_played``), then the tracks' rows."""
    r, t = s.play_tracks, s.tracks
    current = (
        select(func.coalesce(func.max(t.c.duration_ms), 0)).where(t.c.id == r.c.track_id).scalar_subquery()
    )
    # Every such track (its row is rewritten), though only those with plays without ms_played have hours to fix.
    query = select(r.c.user_id, r.c.track_id).where(r.c.duration_ms != current)
    if user_id is not None:
        query = query.where(r.c.user_id == user_id)
    stale: dict[str, list[str]] = {}
    for u, tid in conn.execute(query):
        stale.setdefault(u, []).append(tid)
    for u, ids in stale.items():
        hours: set[int] = set()
        for i in range(0, len(ids), CHUNK):
            hour = UtcHour(p.c.played_at)
            q = (
                select(hour)
                .where(p.c.user_id == u, p.c.track_id.in_(ids[i : i + CHUNK]), p.c.ms_played.is_(None))
                .group_by(hour)
            )
            hours.update(int(h) for (h,) in conn.execute(q))
        for first, end in _runs(sorted(hours)):
            _hours(conn, u, first, end)
        _tracks(conn, u, ids)


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Sorted numbers as half-open runs of consecutive ones."""
    out: list[tuple[int, int]] = []
    for n in numbers:
        if out and out[-1][1] == n:
            out[-1] = (out[-1][0], n + 1)
        else:
            out.append((n, n + 1))
    return out


def _totals_agree(conn: Connection, user_id: str) -> bool:
    h, r, n = s.play_hours, s.play_tracks, s.play_names
    hours = conn.execute(select(func.coalesce(func.sum(h.c.plays), 0)).where(h.c.user_id == user_id)).scalar()
    tracks = conn.execute(
        select(func.coalesce(func.sum(r.c.plays), 0)).where(r.c.user_id == user_id)
    ).scalar()
    names = conn.execute(select(func.coalesce(func.sum(n.c.plays), 0)).where(n.c.user_id == user_id)).scalar()
    return int(hours or 0) == int(tracks or 0) + int(names or 0)


# --- the entry points ------------------------------------------------------------------------------
def refresh(
    conn: Connection, user_id: str, start: datetime | None = None, end: datetime | None = None
) -> None:
    """Make every rollup row of ``user_id`` that plays in ``[start, end)`` feed exact again (both
    None: all of the user's rows), inside the caller's transaction. Idempotent."""
    _stale_durations(conn, user_id)
    if start is None and end is None:
        _hours(conn, user_id, None, None)
        _months(conn, user_id, None, None)
        _tracks(conn, user_id, None)
        _names(conn, user_id)
        return
    first_hour = None if start is None else hour_of(start)
    end_hour = None if end is None else hour_of(end - timedelta(microseconds=1)) + 1
    _hours(conn, user_id, first_hour, end_hour)
    first_month = None if start is None else month_of(start)
    end_month = None if end is None else month_of(end - timedelta(microseconds=1)) + 1
    _months(conn, user_id, first_month, end_month)
    touched = _in_range(
        select(p.c.track_id).where(p.c.user_id == user_id, p.c.track_id.is_not(None)), start, end
    )
    _tracks(conn, user_id, [tid for (tid,) in conn.execute(touched.group_by(p.c.track_id))])
    nameless = _in_range(
        select(p.c.played_at).where(p.c.user_id == user_id, p.c.track_id.is_(None)), start, end
    )
    if conn.execute(nameless.limit(1)).first() is not None:
        _names(conn, user_id)
    if not _totals_agree(conn, user_id):  # a play deleted in the range, of a track not otherwise in it
        _tracks(conn, user_id, None)
        _names(conn, user_id)


def refresh_all(conn: Connection, names: bool = True) -> None:
    """Recompute every rollup of every user from ``plays`` (``rebuild``, migration 0007, which
    leaves ``play_names`` to 0008: ``names=False``)."""
    _hours(conn, None, None, None)
    _months(conn, None, None, None)
    _tracks(conn, None, None)
    if names:
        _names(conn, None)


def refresh_names(conn: Connection) -> None:
    """Recompute ``play_names`` of every user (migration 0008, which adds its keys)."""
    _names(conn, None)


def refresh_loaded(conn: Connection, since: datetime) -> int:
    """Refresh what the plays loaded at or after ``since`` feed, per user (``process``: it only
    inserts plays). A full scan of ``plays`` by ``loaded_at``; returns how many users were refreshed."""
    query = select(p.c.user_id, func.min(p.c.played_at), func.max(p.c.played_at)).where(
        p.c.loaded_at >= since
    )
    spans = conn.execute(query.group_by(p.c.user_id)).all()
    for user_id, first, last in spans:
        refresh(conn, user_id, _aware(first), _aware(last) + timedelta(milliseconds=1))
    return len(spans)


def refresh_durations(conn: Connection) -> None:
    """Only the hours whose tracks' catalogue durations changed, every user."""
    _stale_durations(conn, None)


STATE_KEY = "rollups:process"  # app_state: the start of the last process run whose refresh committed


def after_process(engine: Engine, since: datetime, plays_inserted: int) -> None:
    """``process``'s one call after its writes: the plays loaded since the earlier of ``since``
    (this run's start) and the start of the last run that got here (so the plays of a run that
    stopped before its refresh, interrupted or with the warehouse gone, are caught up by the next
    run that inserts any), and the hours of any track whose duration changed. One transaction."""

    with writing(engine).begin() as conn:
        last = get_in(conn, STATE_KEY)
        if plays_inserted:
            earlier = datetime.fromisoformat(last["since"]) if last and last.get("since") else since
            refresh_loaded(conn, min(since, earlier))
        else:
            refresh_durations(conn)
        if plays_inserted or last is None:
            set_in(conn, STATE_KEY, {"since": since.isoformat()}, since)


def after_import(engine: Engine, user_id: str, first: datetime | None, last: datetime | None) -> None:
    """``import-history``'s one call, on every way a run ends (batches before a failure are in):
    every row the export's span feeds, with an hour of margin on both sides for the rows an import
    moves, matches or deletes around a record's time (they lie within a minute and 30 s of it)."""
    if first is None or last is None:
        return
    with writing(engine).begin() as conn:
        refresh(conn, user_id, first - HOUR, last + HOUR)


def rebuild_all(engine: Engine) -> None:
    """Every rollup of every user recomputed, one transaction (``rebuild``)."""
    with writing(engine).begin() as conn:
        refresh_all(conn)
