"""(6) The read side on a long history: each `stats` query on 1,000,000 plays, SQLite and MariaDB.

A heavy listener's ten years are generated straight into a migrated warehouse with executemany
(no pipeline run: this measures reading): 30,000 tracks by 3,000 artists on 6,000 albums, chosen
with a Zipf-like skew; a play every 1-9 minutes between 07:00 and 01:00 UTC; 70 % from the API,
25 % from an extended export (ms_played, skipped), 5 % account-data rows with names only.

Each query runs on a fresh ``Insights`` (nothing cached) a few times; the table shows p50 and
p95 wall time per query, period and engine.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from .common import MariaDbDatabase, remove, scratch

USER = "heavy"
END = datetime(2026, 12, 1, tzinfo=UTC)
TRACKS, ARTISTS, ALBUMS = 30_000, 3_000, 6_000
RUNS = 3
TIMEZONE = "Europe/Berlin"


def _id(prefix: str, i: int) -> str:
    return f"{prefix}{i:021d}"[:22]


def catalogue(conn: Any, now: datetime) -> None:
    from spotify_pipeline.warehouse import schema as s

    rng = random.Random(5)
    conn.execute(s.users.insert(), [{"id": USER, "created_at": now}])
    conn.execute(s.artists.insert(), [{"id": _id("a", i), "name": f"Artist {i}"} for i in range(ARTISTS)])
    conn.execute(s.albums.insert(), [{"id": _id("l", i), "name": f"Album {i}"} for i in range(ALBUMS)])
    conn.execute(s.album_artists.insert(),
                 [{"album_id": _id("l", i), "position": 0, "artist_id": _id("a", i % ARTISTS)} for i in range(ALBUMS)])  # fmt: skip
    tracks, credits = [], []
    for i in range(TRACKS):
        album = i % ALBUMS
        tracks.append({"id": _id("t", i), "name": f"Track {i}", "album_id": _id("l", album),
                       "duration_ms": rng.randint(120_000, 360_000), "first_seen_at": now})  # fmt: skip
        credits.append({"track_id": _id("t", i), "position": 0, "artist_id": _id("a", album % ARTISTS)})
        if i % 7 == 0:  # a feature
            credits.append(
                {"track_id": _id("t", i), "position": 1, "artist_id": _id("a", (i * 31) % ARTISTS)}
            )
    conn.execute(s.tracks.insert(), tracks)
    conn.execute(s.track_artists.insert(), credits)


def plays(n: int, seed: int = 7) -> list[tuple[Any, ...]]:
    """``n`` plays ending before END, oldest first, as rows for the insert below."""
    rng = random.Random(seed)
    weights = [1 / (i + 1) ** 0.9 for i in range(TRACKS)]
    picks = rng.choices(range(TRACKS), weights=weights, k=n)
    gaps = [rng.randint(60, 540) for _ in range(n)]
    span = timedelta(seconds=sum(gaps) * 24 / 18)  # six of 24 hours are skipped (night)
    t = END - span
    rows = []
    loaded = END.replace(tzinfo=None)
    for i in range(n):
        t += timedelta(seconds=gaps[i], milliseconds=i % 1000)
        if 1 <= t.hour < 7:
            t = t.replace(hour=7)
        track = picks[i]
        kind = i % 20
        at = t.replace(tzinfo=None)
        if kind == 0:  # account data: names only, to the minute
            rows.append((USER, at, None, f"Track {track}", f"Artist {(track % ALBUMS) % ARTISTS}",
                         None, "export", rng.randint(30_000, 300_000), None, loaded))  # fmt: skip
        elif kind <= 5:  # extended export
            rows.append((USER, at, _id("t", track), f"Track {track}", None, None, "export",
                         rng.randint(30_000, 300_000), rng.random() < 0.2, loaded))  # fmt: skip
        else:
            rows.append((USER, at, _id("t", track), f"Track {track}", None, None, "api", None, None, loaded))
    return rows


def fill(url: str, n: int) -> tuple[float, float]:
    """Migrate the warehouse at ``url`` and fill it; returns the seconds it took, and the seconds the
    rollups then took to compute (``rollups.rebuild_all``: written here by executemany, not by a job)."""
    from spotify_pipeline.warehouse import rollups
    from spotify_pipeline.warehouse.engine import make_engine, upgrade

    t0 = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        catalogue(conn, END)
    rows = plays(n)
    sqlite = engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    columns = "user_id, played_at, track_id, track_name, artist_name, album_name, source, ms_played, skipped, loaded_at"
    sql = f"INSERT INTO plays ({columns}) VALUES ({', '.join([mark] * 10)})"  # noqa: S608 - placeholders only
    if sqlite:  # SQLAlchemy's SQLite DateTime storage format
        rows = [(r[0], r[1].isoformat(" ", "microseconds"), *r[2:9], r[9].isoformat(" ", "microseconds"))
                for r in rows]  # fmt: skip
    with engine.begin() as conn:
        for i in range(0, len(rows), 50_000):
            conn.exec_driver_sql(sql, rows[i : i + 50_000])
    filled = time.perf_counter() - t0
    rollups.rebuild_all(engine)
    engine.dispose()
    return filled, time.perf_counter() - t0 - filled


def _time(fn: Any, runs: int) -> dict[str, float]:
    seconds = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - t0)
    seconds.sort()
    p95 = seconds[min(len(seconds) - 1, round(0.95 * (len(seconds) - 1)))]
    return {"p50_ms": round(statistics.median(seconds) * 1000, 1), "p95_ms": round(p95 * 1000, 1)}


def measure(url: str, runs: int = RUNS) -> dict[str, dict[str, float]]:
    """p50/p95 of each read, per period, on a fresh ``Insights`` each time."""
    from spotify_pipeline.insights.health import health
    from spotify_pipeline.insights.period import resolve_period
    from spotify_pipeline.insights.stats import Insights
    from spotify_pipeline.warehouse.engine import make_engine

    engine = make_engine(url)
    now = END - timedelta(hours=1)
    out: dict[str, dict[str, float]] = {}
    for name in ("month", "year", "all"):
        span = resolve_period(name, timezone=TIMEZONE, now=now)

        def fresh() -> Insights:
            return Insights(engine, USER, span, now=now)  # noqa: B023

        out[f"{name}: totals + top lists"] = _time(lambda: fresh().top("tracks", 10), runs)
        out[f"{name}: minutes per day + clock + streaks"] = _time(lambda: fresh().minutes_per_day(), runs)
        out[f"{name}: discoveries"] = _time(lambda: fresh().discoveries(), runs)
        out[f"{name}: everything (stats)"] = _time(lambda: fresh().summary(10), runs)
    month = resolve_period("month", timezone=TIMEZONE, now=now)
    out["health"] = _time(lambda: health(engine, USER, month, now), runs)
    engine.dispose()
    return out


def _pages(url: str) -> dict[str, dict[str, float]]:
    """(7) every dashboard page and API answer on the same warehouse (bench_dashboard.py)."""
    from . import bench_dashboard

    return bench_dashboard.measure(url, USER, TIMEZONE, END - timedelta(hours=1), RUNS)


def run(n: int, maria: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {"plays": n, "runs": RUNS, "timezone": TIMEZONE, "engines": {}}
    folder = scratch("stats")
    try:
        url = f"sqlite:///{folder / 'w.db'}"
        fill_s, roll_s = fill(url, n)
        result["engines"]["sqlite"] = {"fill_seconds": round(fill_s, 1), "rollup_seconds": round(roll_s, 1),
                                       "queries": measure(url),
                                       "pages": _pages(url)}  # fmt: skip
    finally:
        remove(folder)
    if maria is not None:
        with MariaDbDatabase() as db:
            fill_s, roll_s = fill(db.url, n)
            result["engines"]["mariadb"] = {"fill_seconds": round(fill_s, 1), "rollup_seconds": round(roll_s, 1),
                                            "queries": measure(db.url),
                                            "pages": _pages(db.url)}  # fmt: skip
    return result
