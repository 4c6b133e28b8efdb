"""Listening statistics for one user (or all) over a period, in the listener's time zone.

``Insights(engine, user, period)`` is the read layer's face for the CLI and the dashboard: each
method returns a frozen result (``results.py``) and queries at most once per instance, so a page
that shows totals and top lists costs one pass over the period's plays.

Counting rules: a play counts once, as the warehouse keeps it (an API play an export matched is one
row). Tracks are told apart by Spotify id, else by normalised artist + track name (account-data
exports have no ids). Artists are the track's primary (position 0) artist. Minutes are
``ms_played`` where an export gave it, else the track's duration.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from ..exports.matching import normalise_name as _normalise_name
from . import queries as q
from . import rollup_queries as rq
from .localtime import local_hour_start, offset_segments
from .period import InsightsError, Period, local_midnight
from .results import (
    ClockGrid,
    Day,
    DiscoveryMonth,
    FollowEvent,
    Following,
    Skips,
    Stats,
    Streak,
    Streaks,
    TopList,
    Totals,
    minutes,
)
from .toplists import Acc, Tables, count_groups, pick, top_list, with_candidates

EPOCH_DAY = date(1970, 1, 1)
SHORT = timedelta(days=62)  # periods shorter than this count their days and hours from the plays
# The same names come back thousands of times over a long history (an artist per track).
normalise_name = lru_cache(maxsize=1 << 16)(_normalise_name)


@dataclass(frozen=True)
class _Split:
    ids: rq.IdTotals  # the catalogued track ids, summed in the database
    rest: rq.IdTotals  # ids the catalogue lacks and the name groups (``ids`` 0)
    tables: Tables | None  # ``_tables`` of the rest; None: name groups only, counted in SQL by key


def users(engine: Engine) -> list[str]:
    """Every user the warehouse holds, sorted (for a user selector)."""
    with engine.connect() as conn:
        return q.user_ids(conn)


def check_user(engine: Engine, user: str | None) -> None:
    """InsightsError naming the users there are when ``user`` is not one of them."""
    if user is not None:
        known = users(engine)
        if user not in known:
            raise InsightsError(
                f"unknown user {user!r}: the warehouse holds {', '.join(known) or 'no user yet'}"
            )


class Insights:
    """Read-only statistics of ``user`` (None: every user together) over ``period``."""

    def __init__(
        self,
        engine: Engine,
        user: str | None,
        period: Period,
        now: datetime | None = None,
        rollups: bool = True,
    ) -> None:
        """``rollups=False`` reads every number from ``plays`` (the equality tests compare both)."""
        self.engine = engine
        self.rollups = rollups
        self.user = user
        self.period = period
        self.now = now or datetime.now(UTC)
        self.scope = q.Scope(user, period.start_utc, period.end_utc)
        self._catalogue: dict[str, q.TrackInfo] = {}
        # Top lists and totals in SQL over the rollups; a period without a whole UTC month groups
        # its few plays into rows per track and counts them here (fewer queries on MariaDB).
        self._in_sql = rollups and rq.reads_rollups(self.scope)
        check_user(engine, user)

    # --- the passes over the period's plays --------------------------------------------------
    @cached_property
    def _groups(self) -> list[q.TrackGroup]:
        """Every track of the period from the plays (a period without a whole UTC month, or
        ``rollups=False``; else see ``_split``)."""
        with self.engine.connect() as conn:
            groups = q.track_groups(conn, self.scope)
        self._load(g.track_id for g in groups if g.track_id)
        return groups

    def _load(self, track_ids: Iterable[str]) -> None:
        """Fetch the catalogue rows of the ids not fetched yet (and, for ids the catalogue lacks,
        the names the plays gave)."""
        missing = {t for t in track_ids if t not in self._catalogue}
        if not missing:
            return
        with self.engine.connect() as conn:
            found = q.track_info(conn, missing)
            unknown = sorted(missing - set(found))
            names = q.names_of_tracks(conn, unknown) if unknown else {}
        self._catalogue.update(found)
        for tid in unknown:
            track, artist, album = names.get(tid, (None, None, None))
            self._catalogue[tid] = q.TrackInfo(None, None, album, (), track, artist)

    @cached_property
    def _hours(self) -> list[q.HourRow]:
        with self.engine.connect() as conn:
            first, last = q.play_bounds(conn, self.scope)
            if first is None or last is None:
                return []
            segments = offset_segments(self.period.zone, first, last + timedelta(seconds=1))
            return q.hours(conn, self.scope, segments)

    @cached_property
    def _first_plays(self) -> list[tuple[str | None, str | None, str | None, datetime]]:
        """The first play ever of every track of the scope's users (``play_tracks`` and
        ``play_names``: one row per track, whatever the period)."""
        with self.engine.connect() as conn:
            if not self.rollups:
                return list(q.first_plays(conn, self.scope))
            firsts, infos = rq.catalogued_first_plays(conn, self.user)
        self._catalogue.update(infos)
        return firsts

    # --- keys ---------------------------------------------------------------------------------
    def _track(self, g: q.TrackGroup) -> tuple[str, str, str | None]:
        info = self._catalogue.get(g.track_id) if g.track_id else None
        if g.track_id and info:
            artist = info.artists[0][1] if info.artists else info.artist_name
            return g.track_id, info.name or g.track_id, artist
        if g.track_id:
            return g.track_id, g.track_id, None
        return (
            f"name:{normalise_name(g.artist_name)}|{normalise_name(g.track_name)}",
            g.track_name or "?",
            g.artist_name,
        )

    def _artist(self, track_id: str | None, artist_name: str | None) -> tuple[str, str] | None:
        info = self._catalogue.get(track_id) if track_id else None
        if info and info.artists:
            return info.artists[0]
        if info:
            artist_name = info.artist_name
        norm = normalise_name(artist_name)
        return (f"name:{norm}", artist_name or norm) if norm else None

    def _album(self, g: q.TrackGroup) -> tuple[str, str] | None:
        info = self._catalogue.get(g.track_id) if g.track_id else None
        if info and info.album_id:
            return info.album_id, info.album_name or info.album_id
        album, artist = (info.album_name, info.artist_name) if info else (g.album_name, g.artist_name)
        norm = normalise_name(album)
        return (f"name:{normalise_name(artist)}|{norm}", album or norm) if norm else None

    def _ms(self, g: q.TrackGroup) -> int:
        info = self._catalogue.get(g.track_id) if g.track_id else None
        duration = info.duration_ms if info and info.duration_ms else 0
        return g.ms_known + g.plays_without_ms * duration

    # --- results ------------------------------------------------------------------------------
    def _tables(self, groups: Iterable[q.TrackGroup]) -> Tables:
        """``toplists.count_groups`` with the rules of ``_track``, ``_artist``, ``_album`` and ``_ms``
        for a group not catalogued with its primary artist and album."""
        return count_groups(groups, self._catalogue, self._uncatalogued)

    def _uncatalogued(
        self, g: q.TrackGroup
    ) -> tuple[int, tuple[str, str], str | None, tuple[str, str] | None, tuple[str, str] | None]:
        ms = self._ms(g)
        key, name, artist = self._track(g)
        return ms, (key, name), artist, self._artist(g.track_id, g.artist_name), self._album(g)

    @cached_property
    def _aggregates(self) -> Tables:
        return self._tables(self._groups)

    @cached_property
    def _split(self) -> _Split:
        """With the rollups: the catalogued track ids summed in the database (``_sums``, totals
        and top lists in SQL), the rest (ids the catalogue lacks, plays without an id: the names
        are merged by normalised name) counted here by the rules of ``_tables``."""
        with self.engine.connect() as conn:
            ids = rq.id_totals(conn, self._sums)
            unknown = rq.uncatalogued(conn, self._sums) if ids.ids > ids.tracks else {}
            if not unknown and self.scope.start is None and self.scope.end is None:
                # All of history, every id catalogued: the name groups by their stored keys.
                return _Split(ids, rq.name_totals(conn, self.user), None)
            names = rq.name_groups(conn, self.scope)
        rest = q.ordered_groups(unknown, names)
        self._load(unknown)
        tables = self._tables(rest)
        tracks, artists, albums, ms = tables
        sums = [sum(g.plays for g in rest), sum(g.skipped for g in rest), sum(g.skip_known for g in rest)]
        counted = rq.IdTotals(sums[0], ms, sums[1], sums[2], len(tracks), len(artists), len(albums), 0)
        return _Split(ids, counted, tables)

    @cached_property
    def _sums(self) -> Any:
        return rq.track_sums(self.scope)

    def totals(self) -> Totals:
        if self._in_sql:
            ids, rest = self._split.ids, self._split.rest
            return Totals(ids.plays + rest.plays, ids.ms + rest.ms, ids.tracks + rest.tracks,
                          ids.artists + rest.artists, ids.albums + rest.albums)  # fmt: skip
        tracks, artists, albums, ms = self._aggregates
        plays = sum(g.plays for g in self._groups)
        return Totals(plays, ms, len(tracks), len(artists), len(albums))

    def _table(self, kind: str, n: int) -> dict[str, Acc]:
        if kind not in ("artists", "tracks", "albums"):
            raise InsightsError(f"unknown top list {kind!r}: use artists, tracks or albums")
        if not self._in_sql:
            return pick(self._aggregates, kind)
        # The database's candidates are keyed by catalogue ids, the rest by names or by ids the
        # catalogue lacks: no key is in both, so the first n of their union are the first n.
        split = self._split
        with self.engine.connect() as conn:
            found = rq.top_candidates(conn, self._sums, kind, n)
            named = (
                q.primary_artists(conn, sorted({c.artist for c in found if c.artist}))
                if kind == "albums"
                else {}
            )
            rest = pick(split.tables, kind) if split.tables is not None else _named(conn, self.user, kind, n)
        return with_candidates(rest, kind, found, named)

    def top(self, kind: str, n: int = 10) -> TopList:
        """The ``n`` most played ``kind`` (artists, tracks, albums) by plays and by minutes; ties
        are broken by name, then key, so two runs list them in the same order."""
        return top_list(kind, self._table(kind, n), n)

    @cached_property
    def _local(self) -> rq.LocalSums | None:
        """Days and week hours from the rollups (None: they cannot answer, the plays do). A period
        under ``SHORT`` reads its few plays instead: an index-only scan of a month costs less than
        the rollups' duration check over every track of the listener."""
        start, end = self.scope.start, self.scope.end
        if not self.rollups or (start is not None and end is not None and end - start < SHORT):
            return None
        with self.engine.connect() as conn:
            return rq.local_from_rollups(conn, self.scope, self.period.zone)

    def _days(self) -> dict[date, list[int]]:
        if self._local is not None:
            return {EPOCH_DAY + timedelta(days=d): [n, ms] for d, (n, ms) in self._local.days.items()}
        days: dict[date, list[int]] = {}
        for h in self._hours:
            d = local_hour_start(h.hour).date()
            acc = days.setdefault(d, [0, 0])
            acc[0] += h.plays
            acc[1] += h.ms
        return days

    def _today(self) -> date:
        return self.now.astimezone(self.period.zone).date()

    def minutes_per_day(self) -> tuple[Day, ...]:
        """Every local day from the period's first day (or first play) to its last day (or the
        last play), days without plays included as zeros, never past today."""
        days = self._days()
        if not days and self.period.first_day is None:
            return ()
        first = self.period.first_day or min(days)
        last = min(self.period.last_day or max(days, default=self._today()), max([self._today(), *days]))
        out = []
        d = first
        while d <= last:
            plays, ms = days.get(d, [0, 0])
            out.append(Day(d, plays, ms))
            d += timedelta(days=1)
        return tuple(out)

    def clock(self) -> ClockGrid:
        plays = [[0] * 24 for _ in range(7)]
        ms = [[0] * 24 for _ in range(7)]
        if self._local is not None:
            for k, (n, total) in self._local.week_hours.items():
                weekday, hour = (k // 24 + 3) % 7, k % 24  # local hour 0 was a Thursday
                plays[weekday][hour] += n
                ms[weekday][hour] += total
        for h in [] if self._local is not None else self._hours:
            at = local_hour_start(h.hour)
            plays[at.weekday()][at.hour] += h.plays
            ms[at.weekday()][at.hour] += h.ms
        return ClockGrid(
            tuple(tuple(row) for row in plays), tuple(tuple(minutes(v) for v in row) for row in ms)
        )

    def discoveries(self) -> tuple[DiscoveryMonth, ...]:
        """Per local month of the period: tracks and artists played for the first time ever."""
        zone = self.period.zone
        first_track: dict[str, datetime] = {}
        first_artist: dict[str, datetime] = {}
        start, end = self.scope.start, self.scope.end
        in_scope: list[datetime] = []  # the id tracks' firsts, already limited to the period
        if self.rollups:  # id tracks counted and credited artists grouped in the database
            with self.engine.connect() as conn:
                counted = rq.discovery_counts(conn, self.scope, lambda lo, hi: _month_cuts(zone, lo, hi))
                found = rq.discovery_firsts(conn, self.scope) if counted is None else None
            if counted is not None:  # everything counted in SQL
                return tuple(
                    DiscoveryMonth(counted.months[i], counted.tracks.get(i, 0), counted.artists.get(i, 0))
                    for i in sorted(set(counted.tracks) | set(counted.artists))
                )
            assert found is not None
            in_scope = found.tracks_in_scope
            first_artist.update(found.credited_artists)
            self._load(tid for tid, _ in found.uncredited)
            rows: list[tuple[str | None, str | None, str | None, datetime]] = [
                (tid, None, None, at) for tid, at in found.uncredited
            ]
            rows += [(None, artist, track, at) for artist, track, at in found.names]
        else:
            self._load(t for t, *_ in self._first_plays if t)
            rows = self._first_plays
        for track_id, artist_name, track_name, at in rows:
            if not (self.rollups and track_id):  # the rollups counted the id tracks already
                key = track_id or f"name:{normalise_name(artist_name)}|{normalise_name(track_name)}"
                first_track[key] = min(at, first_track.get(key, at))
            artist = self._artist(track_id, artist_name)
            if artist is not None:
                first_artist[artist[0]] = min(at, first_artist.get(artist[0], at))
        firsts = [*first_track.values(), *first_artist.values(), *in_scope]
        cuts, names = _month_cuts(zone, min(firsts, default=None), max(firsts, default=None))

        def months(firsts: Iterable[datetime]) -> Counter[str]:
            return Counter(
                names[bisect_right(cuts, at) - 1]
                for at in firsts
                if (start is None or at >= start) and (end is None or at < end)
            )

        tracks, artists = months([*first_track.values(), *in_scope]), months(first_artist.values())
        return tuple(DiscoveryMonth(m, tracks[m], artists[m]) for m in sorted(set(tracks) | set(artists)))

    def streaks(self) -> Streaks:
        days = sorted(self._days())
        runs: list[Streak] = []
        for d in days:
            if runs and runs[-1].last == d - timedelta(days=1):
                runs[-1] = Streak(runs[-1].days + 1, runs[-1].first, d)
            else:
                runs.append(Streak(1, d, d))
        none = Streak(0, None, None)
        longest = max(runs, key=lambda r: (r.days, r.last or date.min), default=none)
        reference = min(self.period.last_day or self._today(), self._today())
        current = next(
            (r for r in reversed(runs) if r.last is not None and reference - r.last <= timedelta(days=1)),
            none,
        )
        return Streaks(current, longest)

    def skips(self) -> Skips:
        if self._in_sql:
            ids, rest = self._split.ids, self._split.rest
            return Skips(ids.skip_known + rest.skip_known, ids.skipped + rest.skipped)
        return Skips(sum(g.skip_known for g in self._groups), sum(g.skipped for g in self._groups))

    def following(self) -> Following:
        zone = self.period.zone
        start, end = self.scope.start, self.scope.end
        with self.engine.connect() as conn:
            periods = q.follow_periods(conn, self.user)
        events = []
        for row in periods:
            for event, at in (("followed", row["first_seen"]), ("unfollowed", row["unfollowed_at"])):
                if at is not None and (start is None or at >= start) and (end is None or at < end):
                    events.append(FollowEvent(at, at.astimezone(zone).date(), row["user_id"],
                                              row["artist_id"], row["name"], event))  # fmt: skip
        events.sort(key=lambda e: (e.at, e.user, e.artist_id, e.event))
        followed_now = sum(1 for row in periods if row["unfollowed_at"] is None)
        return Following(followed_now, tuple(events))

    def summary(self, n: int = 10) -> Stats:
        """Everything at once (what ``stats`` prints)."""
        return Stats(
            self.user, self.period, self.totals(), self.top("artists", n), self.top("tracks", n),
            self.top("albums", n), self.minutes_per_day(), self.clock(), self.discoveries(),
            self.streaks(), self.skips(), self.following(),
        )  # fmt: skip


def _named(conn: Any, user: str | None, kind: str, n: int) -> dict[str, Acc]:
    """The name groups' candidates for the first ``n`` ``kind`` (``rollup_queries.name_candidates``),
    each named as ``_tables`` names it: after its first group in ``queries.ordered_groups``' order."""
    found, rows = rq.name_candidates(conn, user, kind, n)
    first: dict[str, rq.NamedRow] = {}
    for row in sorted(rows, key=lambda r: q.names_order((r.track_name, r.artist_name, r.album_name))):
        first.setdefault(row.key, row)
    out = {}
    for digest, plays, ms in found:
        row = first[digest]
        key = rq.name_key(kind, row)
        if kind == "tracks":
            out[key] = Acc(row.track_name or "?", row.artist_name, plays, ms)
        elif kind == "artists":
            out[key] = Acc(row.artist_name or key.removeprefix("name:"), None, plays, ms)
        else:
            out[key] = Acc(row.album_name or key, row.artist_name, plays, ms)
    return out


def _month_cuts(
    zone: ZoneInfo, first: datetime | None, last: datetime | None
) -> tuple[list[datetime], list[str]]:
    """The UTC instants local months begin at from ``first``'s month to past ``last``, and their
    names (YYYY-MM): a local month is then a bisection, not a time-zone conversion per play."""
    if first is None or last is None:
        return [], []
    month = first.astimezone(zone).date().replace(day=1)
    end = last.astimezone(zone).date()
    cuts, names = [], []
    while month <= end:
        cuts.append(local_midnight(month, zone))
        names.append(month.strftime("%Y-%m"))
        month = (month + timedelta(days=32)).replace(day=1)
    return cuts, names
