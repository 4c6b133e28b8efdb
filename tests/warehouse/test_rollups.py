"""Migration 0007 fills the rollups from the plays already stored, and ``rollups.refresh`` of a span
keeps them exact, on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from spotify_pipeline.warehouse import rollups
from spotify_pipeline.warehouse import schema as s
from spotify_pipeline.warehouse.engine import make_engine, upgrade

KINDS = [
    "sqlite",
    pytest.param("mysql", marks=pytest.mark.mysql),
    pytest.param("postgres", marks=pytest.mark.postgres),
]
AT = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # a Berlin DST night, across a UTC month end below
LOADED = datetime(2026, 4, 2, tzinfo=UTC)


def _fresh(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Engine:
    if kind == "sqlite":
        return make_engine(f"sqlite:///{tmp_path}/warehouse.db")
    return make_engine(request.getfixturevalue(f"{kind}_url"))


def _plays() -> list[dict[str, Any]]:
    rows = []
    for i in range(60):
        rows.append({"user_id": "ann" if i % 4 else "bob", "played_at": AT + timedelta(hours=i * 1.7, milliseconds=i),
                     "track_id": None if i % 9 == 0 else f"t{i % 5:021d}", "track_name": f"Song {i % 3}",
                     "artist_name": "Band", "album_name": None, "source": "api" if i % 3 else "export",
                     "ms_played": None if i % 2 else 1000 * i, "skipped": None if i % 5 else bool(i % 2),
                     "matched_import_id": 1 if i % 6 == 1 else None, "loaded_at": LOADED})  # fmt: skip
    return rows


def _tables(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(sa.select(t))) for t in rollups.ROLLUP_TABLES}


def _expected(plays: list[dict[str, Any]], user: str) -> dict[int, tuple[int, int, int, int]]:
    """play_hours of ``user`` counted by hand: plays, ms (durations: 200 s for t0, else unknown),
    API plays, matched API plays."""
    out: dict[int, list[int]] = {}
    for p in plays:
        if p["user_id"] != user:
            continue
        row = out.setdefault(rollups.hour_of(p["played_at"]), [0, 0, 0, 0])
        duration = 200_000 if p["track_id"] == f"t{0:021d}" else 0
        row[0] += 1
        row[1] += p["ms_played"] if p["ms_played"] is not None else duration
        row[2] += p["source"] == "api"
        row[3] += p["source"] == "api" and p["matched_import_id"] is not None
    return {h: (v[0], v[1], v[2], v[3]) for h, v in out.items()}


@pytest.mark.parametrize("kind", KINDS)
def test_the_migration_fills_the_rollups_and_refresh_keeps_them(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = _fresh(kind, tmp_path, request)
    upgrade(engine, "0006")
    plays = _plays()
    with engine.begin() as conn:  # plays stored before the rollups existed
        conn.execute(s.users.insert(), [{"id": u, "created_at": LOADED} for u in ("ann", "bob")])
        conn.execute(s.tracks.insert(), {"id": f"t{0:021d}", "name": "Zero", "duration_ms": 200_000,
                                         "first_seen_at": LOADED})  # fmt: skip
        conn.execute(s.plays.insert(), plays)
    upgrade(engine)  # 0007 backfills
    filled = _tables(engine)
    hours = {r[1]: tuple(r[2:]) for r in filled["play_hours"] if r[0] == "ann"}
    assert hours == _expected(plays, "ann")
    assert sum(r[2] for r in filled["play_tracks"]) + sum(r[5] for r in filled["play_names"]) == len(plays)
    assert len({r[1] for r in filled["play_track_months"]}) == 2  # March and April (UTC)
    firsts = {r[1]: r[7] for r in filled["play_tracks"] if r[0] == "ann"}
    assert firsts[f"t{1:021d}"] == min(
        p["played_at"].replace(microsecond=p["played_at"].microsecond // 1000 * 1000)
        for p in plays
        if p["user_id"] == "ann" and p["track_id"] == f"t{1:021d}"
    )

    # A span changed by hand (insert, update in place, delete) and refreshed: equal to recomputing all.
    later = AT + timedelta(days=2)
    with engine.begin() as conn:
        conn.execute(s.plays.insert(), {**plays[1], "played_at": later, "track_id": f"t{9:021d}"})
        conn.execute(
            sa.update(s.plays).where(s.plays.c.played_at == plays[5]["played_at"]).values(ms_played=7)
        )
        conn.execute(sa.delete(s.plays).where(s.plays.c.played_at == plays[9]["played_at"]))
        rollups.refresh(conn, "ann", plays[5]["played_at"], later + timedelta(seconds=1))
        rollups.refresh(conn, "bob", plays[5]["played_at"], later + timedelta(seconds=1))
        rollups.refresh(conn, "ann", plays[5]["played_at"], later + timedelta(seconds=1))  # idempotent
    kept = _tables(engine)
    with engine.begin() as conn:
        rollups.refresh_all(conn)
    assert _tables(engine) == kept
    assert kept != filled
    engine.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_0008_fills_the_name_keys_the_read_side_groups_by(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = _fresh(kind, tmp_path, request)
    upgrade(engine, "0006")
    plays = _plays()
    plays[0] = {**plays[0], "track_name": "Song 0 (feat. Guest)", "artist_name": "BAND!"}  # same keys
    plays[9] = {**plays[9], "artist_name": "??", "album_name": "Lôp"}  # an artist normalising to nothing
    with engine.begin() as conn:
        conn.execute(s.users.insert(), [{"id": u, "created_at": LOADED} for u in ("ann", "bob")])
        conn.execute(s.plays.insert(), plays)
    upgrade(engine, "0007")  # play_names is left to 0008, which adds the key columns
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.play_names)).scalar() == 0
    upgrade(engine)
    n = s.play_names
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                n.c.track_name, n.c.artist_name, n.c.album_name, n.c.track_key, n.c.artist_key, n.c.album_key
            )
        ).all()
    assert len(rows) >= 3
    for track, artist, album, *keys in rows:
        assert dict(zip(("track_key", "artist_key", "album_key"), keys, strict=True)) == rollups.key_digests(
            track, artist, album
        )
    assert rollups.name_keys("Song 0 (feat. Guest)", "BAND!", None) == ("name:band|song 0", "name:band", None)
    assert rollups.name_keys("Song 0", "??", "Lôp") == ("name:|song 0", None, "name:|lop")
    by_key = {r[3] for r in rows if r[0] and r[0].startswith("Song 0") and r[1] and "and" in r[1].lower()}
    assert len(by_key) == 1  # "Song 0"/"Band" and "Song 0 (feat. Guest)"/"BAND!" share a track key
    engine.dispose()
