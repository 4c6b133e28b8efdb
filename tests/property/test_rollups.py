"""The rollups answer exactly what the plays answer (SQLite and MariaDB).

Generated histories (two listeners, tracks with and without a catalogue row or a duration, plays
without an id, export and API plays, matched ones) are written in three steps the way the jobs
change plays: inserts, then more inserts and in-place updates (an import matching API plays), then
deletions (private plays removed), each followed by ``rollups.refresh`` of the span it touched. Then:

* every rollup row equals what a full recomputation from ``plays`` gives;
* for random periods, time zones (whole-hour ones, DST ones, and 30/45-minute ones, which fall
  back to the plays) and users (or every user), ``Insights`` over the rollups equals ``Insights``
  over the plays, result for result, and the health coverage equals per-play counting.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from spotify_pipeline.insights.coverage import coverage
from spotify_pipeline.insights.period import resolve_period
from spotify_pipeline.insights.stats import Insights
from spotify_pipeline.warehouse import rollups
from spotify_pipeline.warehouse import schema as s
from spotify_pipeline.warehouse.engine import make_engine, upgrade

SETTINGS = settings(
    max_examples=25,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
BASE = datetime(2025, 12, 20, tzinfo=UTC)
SPAN_SECONDS = 80 * 86400  # late December to early March: a year boundary, a DST change
NOW = BASE + timedelta(days=75)
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
         "Asia/Kathmandu", "Australia/Adelaide"]  # fmt: skip
TRACKS = [f"t{i:021d}" for i in range(8)]
NAMES = [
    ("Song", "Band", "Album"),
    ("song ", "band", None),
    ("Other", None, None),
    ("Ünïcode", "Bänd", "Ålbum"),
    ("Song (feat. X)", "BAND", "album!"),  # the keys of the first: merged under its names or these
    ("Zed", "!!", "?"),  # an artist and an album that normalise to nothing
]
CREDITED = [TRACKS[i] for i in (0, 1, 2, 3, 5)]  # catalogued, with a primary artist
LOADED = datetime(2026, 3, 10, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def warehouse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('rollups') / 'w.db'}"
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    import pymysql
    from tests.conftest import MYSQL_HOST, MYSQL_PORT

    server = request.getfixturevalue("mysql_server_url")
    name = "sp_roll_" + uuid.uuid4().hex[:12]
    admin = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", autocommit=True)
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        engine = make_engine(f"{server}/{name}?charset=utf8mb4")
        upgrade(engine)
        yield engine
        engine.dispose()
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in (
            s.plays,
            s.tracks,
            s.track_artists,
            s.artists,
            s.albums,
            s.users,
            *rollups.ROLLUP_TABLES,
        ):
            conn.execute(delete(table))
        conn.execute(s.users.insert(), [{"id": u, "created_at": LOADED} for u in ("ann", "bob")])
        conn.execute(s.artists.insert(), [{"id": "a1", "name": "Band"}, {"id": "a2", "name": "Other Band"}])
        conn.execute(s.albums.insert(), [{"id": "l1", "name": "Album"}])
        catalogued = [
            {"id": tid, "name": f"Track {i}", "album_id": "l1" if i % 2 else None,
             "duration_ms": None if i == 3 else 60_000 + i * 1000, "first_seen_at": LOADED}
            for i, tid in enumerate(TRACKS[:6])
        ]  # fmt: skip
        conn.execute(s.tracks.insert(), catalogued)
        conn.execute(s.track_artists.insert(),
                     [{"track_id": t["id"], "position": 0, "artist_id": "a1" if i % 3 else "a2"}
                      for i, t in enumerate(catalogued) if i != 4])  # fmt: skip


play = st.fixed_dictionaries(
    {
        "user_id": st.sampled_from(["ann", "bob"]),
        "second": st.integers(0, SPAN_SECONDS),
        "ms": st.integers(0, 999),
        "track": st.sampled_from(TRACKS + [None, None]),
        "names": st.sampled_from(NAMES),
        "source": st.sampled_from(["api", "export"]),
        "ms_played": st.none() | st.integers(0, 400_000),
        "skipped": st.none() | st.booleans(),
    }
)


def _rows(plays: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[tuple[str, datetime], dict[str, Any]] = {}
    for p in plays:
        at = BASE + timedelta(seconds=p["second"], milliseconds=p["ms"])
        track, artist, album = p["names"]
        out[(p["user_id"], at)] = {
            "user_id": p["user_id"], "played_at": at, "track_id": p["track"], "track_name": track,
            "artist_name": artist, "album_name": album, "source": p["source"], "ms_played": p["ms_played"],
            "skipped": p["skipped"], "loaded_at": LOADED, "matched_import_id": None,
        }  # fmt: skip
    return list(out.values())


def _span(rows: list[dict[str, Any]]) -> tuple[datetime, datetime] | None:
    if not rows:
        return None
    times = [r["played_at"] for r in rows]
    return min(times), max(times) + timedelta(milliseconds=1)


def _refresh(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for user in sorted({r["user_id"] for r in rows}):
            span = _span([r for r in rows if r["user_id"] == user])
            assert span is not None
            rollups.refresh(conn, user, *span)


def _write(engine: Engine, first: list[dict[str, Any]], second: list[dict[str, Any]], gone: int) -> None:
    """Three rounds of changes, each refreshed by the span it touched only."""
    with engine.begin() as conn:
        have = {(r["user_id"], r["played_at"]) for r in first}
        if first:
            conn.execute(s.plays.insert(), first)
        second = [r for r in second if (r["user_id"], r["played_at"]) not in have]
        if second:
            conn.execute(s.plays.insert(), second)
    _refresh(engine, first + second)
    # An import matching API plays and filling ms_played in place, in a span of its own.
    matched = [r for r in second if r["source"] == "api"][:3]
    with engine.begin() as conn:
        for r in matched:
            conn.execute(
                update(s.plays)
                .where(s.plays.c.user_id == r["user_id"], s.plays.c.played_at == r["played_at"])
                .values(matched_import_id=7, ms_played=12_345)
            )
    _refresh(engine, matched)
    # Private plays removed: a deletion whose track may have no other play in the span.
    removed = (first + second)[:gone]
    with engine.begin() as conn:
        for r in removed:
            conn.execute(
                delete(s.plays).where(
                    s.plays.c.user_id == r["user_id"], s.plays.c.played_at == r["played_at"]
                )
            )
    _refresh(engine, removed)


def _snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t))) for t in rollups.ROLLUP_TABLES}


def _coverage_from_plays(
    engine: Engine, user: str, start: datetime | None, end: datetime | None
) -> dict[date, tuple[int, int, int]]:
    p = s.plays
    out: dict[date, list[int]] = {}
    with engine.connect() as conn:
        query = select(p.c.played_at, p.c.source, p.c.matched_import_id).where(p.c.user_id == user)
        for at, source, matched in conn.execute(query):
            if (start is None or at >= start) and (end is None or at < end):
                row = out.setdefault(at.date(), [0, 0, 0])
                row[0] += source == "api"
                row[1] += source == "api" and matched is not None
                row[2] += source != "api"
    return {d: (v[0], v[1], v[2]) for d, v in out.items()}


periods = st.one_of(
    st.sampled_from(["day", "week", "month", "year", "all"]).map(lambda n: (n, None, None)),
    st.tuples(st.just(None), st.integers(-5, 80), st.integers(0, 90)).map(
        lambda t: (None, (BASE + timedelta(days=t[1])).date(), (BASE + timedelta(days=t[1] + t[2])).date())
    ),
    st.tuples(st.just(None), st.integers(-5, 80), st.none()).map(
        lambda t: (None, (BASE + timedelta(days=t[1])).date(), None)
    ),
)


@SETTINGS
@given(
    first=st.lists(play, max_size=40).map(_rows),
    second=st.lists(play, max_size=25).map(_rows),
    gone=st.integers(0, 6),
    asks=st.lists(
        st.tuples(periods, st.sampled_from(ZONES), st.sampled_from(["ann", "bob", None])),
        min_size=1,
        max_size=4,
    ),
    new_duration=st.booleans(),
    credited_only=st.booleans(),
)
def test_rollups_equal_the_plays(
    warehouse: Engine,
    first: list[dict[str, Any]],
    second: list[dict[str, Any]],
    gone: int,
    asks: list[tuple[tuple[str | None, date | None, date | None], str, str | None]],
    new_duration: bool,
    credited_only: bool,
) -> None:
    engine = warehouse
    _empty(engine)
    if credited_only:  # every id catalogued with its artist: name groups counted by their stored keys
        first, second = (
            [{**r, "track_id": r["track_id"] and CREDITED[TRACKS.index(r["track_id"]) % 5]} for r in rows]
            for rows in (first, second)
        )
    _write(engine, first, second, gone)
    if new_duration:  # the catalogue's duration changes after the hours were summed
        with engine.begin() as conn:
            conn.execute(update(s.tracks).where(s.tracks.c.id == TRACKS[0]).values(duration_ms=99_000))
            conn.execute(
                s.tracks.insert(),
                {"id": TRACKS[6], "name": "Late", "duration_ms": 5_000, "first_seen_at": LOADED},
            )
    for (name, first_day, last_day), zone, user in asks:
        period = resolve_period(name, timezone=zone, now=NOW, first=first_day, last=last_day)
        fast = Insights(engine, user, period, now=NOW).summary(5).as_dict()
        slow = Insights(engine, user, period, now=NOW, rollups=False).summary(5).as_dict()
        assert fast == slow, (name, first_day, last_day, zone, user)
        for who in ["ann", "bob"] if user is None else [user]:
            got = {
                c.day: (c.api_plays, c.matched, c.export_only)
                for c in coverage(engine, who, period.start_utc, period.end_utc)
            }
            assert got == _coverage_from_plays(engine, who, period.start_utc, period.end_utc)
    with engine.begin() as conn:  # the stale durations are fixed by the next refresh
        rollups.refresh(conn, "ann", BASE, BASE + timedelta(seconds=1))
        rollups.refresh(conn, "bob", BASE, BASE + timedelta(seconds=1))
    incremental = _snapshot(engine)
    with engine.begin() as conn:
        rollups.refresh_all(conn)
    assert _snapshot(engine) == incremental
