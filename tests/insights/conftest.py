"""Warehouses for the read-layer tests: an empty migrated one per engine, and a way to fill it by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from spotify_pipeline.warehouse import rollups
from spotify_pipeline.warehouse import schema as s
from spotify_pipeline.warehouse.engine import make_engine, upgrade

LOADED = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'w.db'}"
    return str(request.getfixturevalue("mysql_url"))


@pytest.fixture()
def engine(url: str) -> Iterator[Engine]:
    e = make_engine(url)
    upgrade(e)
    yield e
    e.dispose()


def add_track(engine: Engine, tid: str, name: str, artists: list[tuple[str, str]], album: tuple[str, str],
              duration_ms: int) -> None:  # fmt: skip
    with engine.begin() as conn:
        for aid, aname in artists:
            if conn.execute(s.artists.select().where(s.artists.c.id == aid)).first() is None:
                conn.execute(s.artists.insert(), {"id": aid, "name": aname})
        if conn.execute(s.albums.select().where(s.albums.c.id == album[0])).first() is None:
            conn.execute(s.albums.insert(), {"id": album[0], "name": album[1]})
        conn.execute(s.tracks.insert(), {"id": tid, "name": name, "album_id": album[0],
                                         "duration_ms": duration_ms, "first_seen_at": LOADED})  # fmt: skip
        conn.execute(s.track_artists.insert(),
                     [{"track_id": tid, "position": i, "artist_id": a} for i, (a, _) in enumerate(artists)])  # fmt: skip


def add_plays(engine: Engine, user: str, rows: list[dict[str, Any]]) -> None:
    """Plays of ``user``: each row needs ``played_at``; source defaults to api."""
    with engine.begin() as conn:
        if conn.execute(s.users.select().where(s.users.c.id == user)).first() is None:
            conn.execute(s.users.insert(), {"id": user, "created_at": LOADED})
        keys = {k for r in rows for k in r} - {
            "source"
        }  # executemany needs every row to name the same columns
        full = [
            {"user_id": user, "source": "api", "loaded_at": LOADED, **dict.fromkeys(keys), **r} for r in rows
        ]
        if full:
            conn.execute(s.plays.insert(), full)
        # Written by hand, not by a job: the rollups are brought up to date as the jobs do.
        rollups.refresh(conn, user)
